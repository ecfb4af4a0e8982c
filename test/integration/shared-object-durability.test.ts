import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/test-server.ts';

describe('persistent shared objects survive kill -9 (separate server process)', function () {
  this.timeout(40_000);
  const servers: ServerProcess[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  });

  it('what was flushed before SIGKILL is there after a restart; a corrupt file is quarantined', async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'chat'));
    const dataDir = tempDir('so');
    const config = path.join(apps, '..', `so-config-${path.basename(apps)}.json`);
    writeFileSync(config, JSON.stringify({ dataDir }));
    const first = await startServerProcess(apps, ['--config', config]);
    servers.push(first);
    const nc = new NetConnection();
    await nc.connect(first.url('chat/room'));
    const so = SharedObject.getRemote(nc, 'counter', true);
    await so.connect();
    const done = new Promise((resolve) => so.once('sync', resolve));
    so.setProperty('n', 7);
    await done;
    const file = path.join(dataDir, 'sharedobjects', 'chat', 'room', 'counter.fso.json');
    for (let i = 0; i < 50 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 20)); // flushed within ~100 ms
    assert.ok(existsSync(file), 'flushed to disk');
    await first.stop('SIGKILL');

    const second = await startServerProcess(apps, ['--config', config]);
    servers.push(second);
    const nc2 = new NetConnection();
    await nc2.connect(second.url('chat/room'));
    const so2 = SharedObject.getRemote(nc2, 'counter', true);
    await so2.connect();
    assert.equal(so2.data['n'], 7);
    nc2.close();
    await second.stop('SIGKILL');

    writeFileSync(file, '{"truncated": ');
    const third = await startServerProcess(apps, ['--config', config]);
    servers.push(third);
    const nc3 = new NetConnection();
    await nc3.connect(third.url('chat/room'));
    const so3 = SharedObject.getRemote(nc3, 'counter', true);
    await so3.connect();
    assert.deepEqual(Object.keys(so3.data), [], 'a corrupt file starts the shared object empty');
    assert.ok(readdirSync(path.dirname(file)).some((f) => f.startsWith('counter.fso.json.corrupt-')), 'the corrupt file is moved aside');
    const warn = await third.logs.waitFor((r) => (r.level ?? 0) >= 40 && /corrupt/i.test(String(r.msg)));
    assert.ok(warn);
    nc3.close();
  });
});

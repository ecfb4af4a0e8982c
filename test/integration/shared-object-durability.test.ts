import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { mountTmpfs, skipWith } from '../helpers/tmpfs.ts';
import { ErrorCode } from '../../runtime/errors.ts';

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

/** The app of the durability tests: the handler flushes, and answers with what flush() said. */
const DURABLE_APP = `var so = SharedObject.get("durable", true);
Client.prototype.save = function (n) { so.setProperty("v", n); return so.flush() ? n : -1; };
Client.prototype.value = function () { return so.getProperty("v"); };
Client.prototype.saveBig = function (chars) { so.setProperty("big", new Array(chars + 1).join("y")); return so.flush(); };
Client.prototype.echo = function (x) { return x; };
`;

function durableApps(): string {
  const apps = tempDir('apps');
  mkdirSync(path.join(apps, 'd'));
  writeFileSync(path.join(apps, 'd', 'main.asc'), DURABLE_APP);
  return apps;
}

function configFile(apps: string, config: object): string {
  const file = path.join(apps, '..', `config-${path.basename(apps)}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const tempFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes('.tmp-')) : []);

describe('so.flush() is durable: true only once the data is on disk (separate server processes)', function () {
  this.timeout(240_000);
  const servers: ServerProcess[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
  });

  it('SIGKILL right after the _result of a call whose handler flushed: 20 rounds, the value is there after each restart', async () => {
    const apps = durableApps();
    const dataDir = tempDir('so');
    const config = configFile(apps, { dataDir });
    const rounds = 20;
    let survived = 0;
    const killDelaysMs: number[] = [];
    const killCallsMs: number[] = [];
    for (let round = 1; round <= rounds + 1; round++) {
      const server = await startServerProcess(apps, ['--config', config, '--no-watch', '--log-level', 'info']);
      servers.push(server);
      const nc = new NetConnection();
      await nc.connect(server.url('d'));
      const before = await nc.call('value');
      if (round > 1 && before === round - 1) survived++;
      if (round > rounds) break;
      // The kill is the first thing done when the _result arrives (this callback runs as the answer is
      // parsed); what is recorded is the time until the kill is issued, and the kill call itself.
      const answered = nc.call('save', round).then((value) => {
        const receivedAt = performance.now();
        killDelaysMs.push(performance.now() - receivedAt);
        process.kill(server.child.pid!, 'SIGKILL'); // the server may have nothing more to do with this value
        killCallsMs.push(performance.now() - receivedAt);
        return value;
      });
      assert.equal(await answered, round, 'flush() answered true');
      await server.stop('SIGKILL');
      servers.pop();
    }
    const sorted = [...killDelaysMs].sort((a, b) => a - b);
    const calls = [...killCallsMs].sort((a, b) => a - b);
    const median = (values: number[]) => values[Math.floor(values.length / 2)]!;
    if (process.env['FMS_TEST_FIGURES']) {
      process.stdout.write(`      durable flush: ${survived}/${rounds} survived; SIGKILL issued ${median(sorted).toFixed(3)} ms (median, max ${sorted.at(-1)!.toFixed(3)}) after the _result, kill() returned after ${median(calls).toFixed(3)} ms (max ${calls.at(-1)!.toFixed(3)})\n`);
    }
    assert.equal(survived, rounds, `${survived}/${rounds} values survived a SIGKILL right after their _result`);
    assert.ok(sorted.at(-1)! < 1, `SIGKILL issued within ${sorted.at(-1)!.toFixed(3)} ms of the _result`);
    assert.deepEqual(tempFiles(dataDir), [], 'no temp files left behind');
  });

  it('temp files a killed process left behind are removed at start-up', async () => {
    const apps = durableApps();
    const dataDir = tempDir('so');
    const folder = path.join(dataDir, 'sharedobjects', 'd', '_definst_');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'durable.fso.json.tmp-99999999-1'), '');
    writeFileSync(path.join(folder, 'durable.fso.json'), '{"format":"fms-runtime.shared-object","formatVersion":1,"name":"durable","version":3,"slots":[["v",3]]}');
    const server = await startServerProcess(apps, ['--config', configFile(apps, { dataDir }), '--no-watch']);
    servers.push(server);
    assert.deepEqual(tempFiles(dataDir), []);
    await server.logs.waitFor((r) => r.msg === 'temp files of an interrupted shared object write removed' && r['removed'] === 1);
    const nc = new NetConnection();
    await nc.connect(server.url('d'));
    assert.equal(await nc.call('value'), 3, 'the real file is untouched');
    nc.close();
  });
});

describe('a full disk and a read-only data folder (tmpfs mounts)', function () {
  this.timeout(30_000);
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const FULL_APP = `${DURABLE_APP}
Client.prototype.writeFull = function (chars) {
  var f = new File("/full/out.bin");
  if (!f.open("binary", "write")) return "not opened";
  var ok = f.write(new Array(chars + 1).join("z"));
  f.close();
  return ok;
};
`;

  async function serverOn(dataDir: string, fullDir?: string): Promise<TestServer> {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'd'));
    writeFileSync(path.join(apps, 'd', 'main.asc'), FULL_APP);
    const server = await startTestServer(apps, {
      dataDir,
      scripts: fullDir ? { fileVirtualDirectories: [`/full;${fullDir}`] } : {},
    });
    cleanups.push(() => server.close());
    return server;
  }

  it('ENOSPC: flush() answers false (one log line), the file keeps its last durable content, clients are unaffected, no temp file stays', async function () {
    const disk = mountTmpfs(256);
    if (typeof disk === "string") return skipWith(this, disk);
    cleanups.push(() => disk.unmount());
    const server = await serverOn(disk.dir);
    const nc = new NetConnection();
    await nc.connect(server.url('d'));
    cleanups.push(() => nc.close());
    assert.equal(await nc.call('save', 1), 1, 'a small flush fits');
    assert.equal(await nc.call('saveBig', 600_000), false, 'a flush the disk cannot hold is not durable');
    assert.equal(await nc.call('saveBig', 600_000), false, 'nor the next one');
    const failures = server.logs.records.filter((r) => r['code'] === ErrorCode.StorageWriteFailed);
    assert.equal(failures.length, 1, 'one (rate-limited) log line');
    assert.equal((failures[0]!['err'] as { code?: string }).code, 'ENOSPC');
    const file = path.join(disk.dir, 'sharedobjects', 'd', '_definst_', 'durable.fso.json');
    assert.deepEqual((JSON.parse(readFileSync(file, 'utf8')) as { slots: unknown[] }).slots, [['v', 1]], 'the last durable content is intact');
    assert.deepEqual(tempFiles(disk.dir), [], 'the failed temp file was removed');
    assert.equal(await nc.call('echo', 'still here'), 'still here');
    assert.equal(await nc.call('value'), 1);
  });

  it('File.write of more than the disk holds returns false: a short write is not a success', async function () {
    const disk = mountTmpfs(256);
    if (typeof disk === "string") return skipWith(this, disk);
    cleanups.push(() => disk.unmount());
    const server = await serverOn(tempDir('so'), disk.dir);
    const nc = new NetConnection();
    await nc.connect(server.url('d'));
    cleanups.push(() => nc.close());
    assert.equal(await nc.call('writeFull', 100_000), true, 'what fits is written');
    assert.equal(await nc.call('writeFull', 600_000), false, 'cut short by the full disk');
    const written = statSync(path.join(disk.dir, 'out.bin')).size;
    assert.ok(written < 600_000, `only ${written} bytes reached the disk`);
    assert.ok(server.logs.records.some((r) => r['code'] === ErrorCode.StorageWriteFailed && /write failed after/.test(String(r['reason']))));
    assert.equal(await nc.call('echo', 1), 1);
  });

  it('a read-only data folder: a start-up warning names it; flush() answers false; clients are unaffected', async function () {
    const disk = mountTmpfs(64, true);
    if (typeof disk === "string") return skipWith(this, disk);
    cleanups.push(() => disk.unmount());
    const server = await serverOn(disk.dir);
    const warning = await server.logs.waitFor((r) => r['code'] === ErrorCode.DataDirUnwritable);
    const folder = path.join(disk.dir, 'sharedobjects'); // --data <dir>: <dir>/sharedobjects
    assert.equal(warning['dir'], folder);
    assert.ok(String(warning.msg).includes(folder), 'the line names the folder');
    const nc = new NetConnection();
    await nc.connect(server.url('d'));
    cleanups.push(() => nc.close());
    assert.equal(await nc.call('save', 5), -1, 'flush() is false: nothing can be written');
    assert.ok(server.logs.records.some((r) => r['code'] === ErrorCode.StorageWriteFailed));
    assert.equal(await nc.call('value'), 5, 'the value lives on in memory');
    assert.equal(await nc.call('echo', 2), 2);
  });
});

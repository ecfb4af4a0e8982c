import { strict as assert } from 'node:assert';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

describe('instance life cycle: idle unload (Application.GC), onAppStop veto, shutdown()', function () {
  this.timeout(30_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    cpSync(path.join(FIXTURES, 'lifecycle'), path.join(apps, 'lifecycle'), { recursive: true });
    ts = await startTestServer(apps, { scripts: { idleUnloadSec: 0.3 } });
  });
  after(async () => ts?.close());

  it('the last client leaves → after the idle time onAppStop(Application.GC) and the instance unloads', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('lifecycle/gc'));
    nc.close();
    await ts.logs.waitFor((r) => r.msg === 'stop Application.GC keep=0' && r.app === 'lifecycle/gc');
    await ts.logs.waitFor((r) => r.msg === 'instance unloaded' && r.app === 'lifecycle/gc');
    assert.equal(ts.server.instances.instances.some((i) => i.name === 'lifecycle/gc'), false);
    // The next connect starts a fresh instance (onAppStart again).
    const again = new NetConnection();
    await again.connect(ts.url('lifecycle/gc'));
    assert.equal(ts.logs.traces('lifecycle/gc').filter((t) => t === 'start lifecycle/gc').length, 2);
    again.close();
  });

  it('onAppStop returning false keeps the idle instance loaded', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('lifecycle/keep'), 2);
    nc.close();
    await ts.logs.waitFor((r) => r.msg === 'stop Application.GC keep=2' && r.app === 'lifecycle/keep');
    await ts.logs.waitFor((r) => r.msg === 'stop Application.GC keep=1' && r.app === 'lifecycle/keep');
    await ts.logs.waitFor((r) => r.msg === 'instance unloaded' && r.app === 'lifecycle/keep');
    assert.deepEqual(ts.logs.traces('lifecycle/keep').filter((t) => t.startsWith('stop')), ['stop Application.GC keep=2', 'stop Application.GC keep=1', 'stop Application.GC keep=0']);
  });

  it('application.shutdown(): onAppStop(Application.Shutdown), clients get AppShutdown, onDisconnect for each', async () => {
    const a = new NetConnection();
    const b = new NetConnection();
    await a.connect(ts.url('lifecycle/down'));
    await b.connect(ts.url('lifecycle/down'));
    const statuses: string[] = [];
    const closed = new Promise((resolve) => b.once('close', resolve));
    b.on('status', (i: InfoObject) => statuses.push(i.code));
    void a.call('quit').catch(() => {});
    await closed;
    assert.ok(statuses.includes('NetConnection.Connect.AppShutdown'), statuses.join(','));
    await ts.logs.waitFor((r) => r.msg === 'stop Application.Shutdown keep=0' && r.app === 'lifecycle/down');
    await ts.logs.waitFor((r) => r.msg === 'instance unloaded' && r.app === 'lifecycle/down');
    assert.equal(ts.logs.traces('lifecycle/down').filter((t) => t === 'disconnect').length, 2);
  });
});

import { strict as assert } from 'node:assert';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const script = (version: number) => `// ES3 fixture, version ${version}
application.onAppStart = function () { trace("version ${version} started"); };
Client.prototype.version = function () { return ${version}; };
`;

describe('hot reload: the watcher, failures, and the FMS-style restart mode', function () {
  this.timeout(30_000);
  let ts: TestServer;
  let apps: string;

  before(async () => {
    apps = tempDir('apps');
    mkdirSync(path.join(apps, 'hot'));
    mkdirSync(path.join(apps, 'other'));
    writeFileSync(path.join(apps, 'hot', 'main.asc'), script(1));
    writeFileSync(path.join(apps, 'other', 'main.asc'), script(100));
    ts = await startTestServer(apps, { reload: { watch: true, debounceMs: 100, mode: 'restart' } });
  });
  after(async () => ts?.close());

  it('restart mode: a changed main.asc runs in a fresh isolate first, then replaces the old instance; clients get AppShutdown', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('hot'));
    const bystander = new NetConnection();
    await bystander.connect(ts.url('other'));
    assert.equal(await nc.call('version'), 1);
    const statuses: string[] = [];
    nc.on('status', (i: InfoObject) => statuses.push(i.code));
    const closed = new Promise((resolve) => nc.once('close', resolve));
    writeFileSync(path.join(apps, 'hot', 'main.asc'), script(2));
    await closed;
    assert.ok(statuses.includes('NetConnection.Connect.AppShutdown'), statuses.join(','));
    const again = new NetConnection();
    await again.connect(ts.url('hot'));
    assert.equal(await again.call('version'), 2);
    assert.equal(ts.logs.records.filter((r) => r.msg === 'instance reloaded' && r.app === 'hot/_definst_').length, 1);
    // Other apps are never touched.
    assert.equal(bystander.isConnected, true);
    assert.equal(await bystander.call('version'), 100);
    again.close();
    bystander.close();
  });

  it('a syntax error keeps the old version serving and logs the error with file:line', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('hot'));
    writeFileSync(path.join(apps, 'hot', 'main.asc'), 'var ok = 1;\nClient.prototype.version = function ( { return 3; };\n');
    const failed = await ts.logs.waitFor((r) => r.msg === 'reload failed; the previous version keeps serving');
    assert.equal(failed.app, 'hot/_definst_');
    const error = ts.logs.records.find((r) => r['code'] === 'Application.Script.Error' && r['lineno'] === 2 && r.app === 'hot/_definst_');
    assert.ok(error, 'the syntax error is logged with its line');
    assert.equal(nc.isConnected, true);
    assert.equal(await nc.call('version'), 2);
    nc.close();
  });

  it('saving without a change reloads nothing; a new app folder works without restart', async () => {
    const changes = () => ts.logs.records.filter((r) => r.msg === 'application scripts changed; reloading').length;
    const restored = changes();
    writeFileSync(path.join(apps, 'hot', 'main.asc'), script(2)); // differs from the broken version: one reload
    await ts.logs.waitFor(() => changes() > restored);
    const before = changes();
    utimesSync(path.join(apps, 'hot', 'main.asc'), new Date(), new Date());
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(changes(), before, 'an unchanged save (new mtime, same content) must not reload');

    mkdirSync(path.join(apps, 'fresh'));
    writeFileSync(path.join(apps, 'fresh', 'main.asc'), script(7));
    const nc = new NetConnection();
    await nc.connect(ts.url('fresh'));
    assert.equal(await nc.call('version'), 7);
    nc.close();
  });
});

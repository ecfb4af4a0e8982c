import { strict as assert } from 'node:assert';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

/**
 * test/fixtures/apps/appxml/Application.xml sets MaxTimeOut 1 s and MaxAppIdleTime 1 s while the
 * server-wide values are 20 s and 600 s, so each timing below can only come from the file.
 */
describe('Application.xml: per-app settings change script behaviour', function () {
  this.timeout(30_000);
  let ts: TestServer;
  let apps: string;
  let serverLogs: string;
  let outside: string;

  before(async () => {
    apps = tempDir('apps');
    for (const app of ['appxml', 'appxml-startup']) cpSync(path.join(FIXTURES, app), path.join(apps, app), { recursive: true });
    mkdirSync(path.join(apps, 'appxml', 'media'), { recursive: true }); // git keeps no empty folder
    copyFileSync(testFlv(3, 200), path.join(apps, 'appxml', 'media', 'clip.flv'));
    mkdirSync(path.join(apps, 'appxml', 'logs'));
    serverLogs = tempDir('server-logs');
    outside = tempDir('outside');
    symlinkSync(outside, path.join(apps, 'appxml', 'logs', 'out'));
    // The server-wide /logs mapping must lose to the app's own: only the file can send writes to appxml/logs.
    ts = await startTestServer(apps, { scripts: { handlerTimeoutMs: 20_000, idleUnloadSec: 600, fileVirtualDirectories: [`/logs;${serverLogs}`] } });
  });
  after(async () => ts?.close());

  it('JSEngine/MaxTimeOut: an infinite loop in a handler is cut after 1 s, not the server default of 20 s', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('appxml/loop'));
    const startedAt = performance.now();
    void nc.call('spin').catch(() => {});
    const record = await ts.logs.waitFor((r) => r.app === 'appxml/loop' && r['errorCode'] === 'SCRIPT_TIMEOUT', 10_000);
    const elapsedMs = performance.now() - startedAt;
    assert.equal(record['code'], 'Application.Script.Error');
    assert.ok(elapsedMs >= 900 && elapsedMs < 5000, `cut after ${elapsedMs.toFixed(0)} ms`);
    nc.close();
  });

  it('MaxAppIdleTime: the idle instance unloads after 1 s with onAppStop(Application.GC)', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('appxml/idle'));
    const leftAt = performance.now();
    nc.close();
    await ts.logs.waitFor((r) => r.app === 'appxml/idle' && r.msg === 'stop Application.GC', 10_000);
    const idleMs = performance.now() - leftAt;
    await ts.logs.waitFor((r) => r.app === 'appxml/idle' && r.msg === 'instance unloaded');
    assert.ok(idleMs >= 900 && idleMs < 5000, `unloaded after ${idleMs.toFixed(0)} ms`);
  });

  it('ScriptLibPath, ApplicationObject/config and Client/Access sample-access defaults reach the script', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('appxml/misc'));
    assert.equal(await nc.call('helper'), 'from lib');
    assert.ok(ts.logs.traces('appxml/misc').includes('start appxml/misc greeting=hello'), ts.logs.traces('appxml/misc').join('|'));
    assert.ok(ts.logs.traces('appxml/misc').includes('sampleAccess audio=/ video='), ts.logs.traces('appxml/misc').join('|'));
    nc.close();
  });

  it('StreamManager/VirtualDirectory/Streams: vod/<name> is read from the mapped folder', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('appxml/vod'));
    const mapped = (await nc.call('vodLength', 'vod/clip')) as number;
    assert.ok(mapped > 2 && mapped < 4, `Stream.length("vod/clip") = ${mapped}`);
    assert.equal(await nc.call('vodLength', 'clip'), 0, 'an unmapped name keeps the FMS layout (streams/<instance>/)');
    nc.close();
  });

  it('JSEngine/FileObject/VirtualDirectory: File /logs/x.txt lands in the app\'s relative logs folder, over the server-wide /logs', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('appxml/files'));
    assert.deepEqual(await nc.call('writeFile', '/logs/x.txt', 'mapped by Application.xml\n'), [true, '/logs/x.txt']);
    assert.equal(readFileSync(path.join(apps, 'appxml', 'logs', 'x.txt'), 'utf8'), 'mapped by Application.xml\n');
    assert.deepEqual(readdirSync(serverLogs), [], 'the server-wide mapping of the same prefix lost');
    nc.close();
  });

  it('JSEngine/FileObject/VirtualDirectory: escapes through the mapping (.., a symlink out of it) are refused, one log line each', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('appxml/files'));
    const refusals = () => ts.logs.records.filter((r) => r['code'] === 'SCRIPT_FILE_REFUSED' && r.app === 'appxml/files').length;
    const before = refusals();
    assert.equal(((await nc.call('writeFile', '/logs/../../escaped.txt', 'no')) as unknown[])[0], false);
    assert.equal(((await nc.call('writeFile', '/logs/out/escaped.txt', 'no')) as unknown[])[0], false);
    assert.equal(refusals(), before + 2);
    assert.deepEqual(readdirSync(outside), []);
    assert.ok(!existsSync(path.join(apps, 'escaped.txt')));
    nc.close();
  });

  it('LoadOnStartup: the default instance started with the server, before any client', async () => {
    await ts.logs.waitFor((r) => r.app === 'appxml-startup/_definst_' && r.msg === 'started without a client: appxml-startup/_definst_');
    assert.ok(ts.server.instances.instances.some((i) => i.name === 'appxml-startup/_definst_'));
    assert.ok(!ts.server.instances.instances.some((i) => i.name === 'appxml/_definst_'), 'apps without LoadOnStartup stay lazy');
  });

  it('each unsupported element is reported once (not per instance); empty elements are not reported', () => {
    const warnings = ts.logs.records.filter((r) => typeof r.msg === 'string' && r.msg.startsWith('Application.xml:'));
    const forProcess = warnings.filter((r) => r['element'] === 'Application/Process');
    assert.equal(forProcess.length, 1, JSON.stringify(warnings));
    assert.equal(forProcess[0]!.msg, 'Application.xml: not supported; ignored');
    assert.equal(forProcess[0]!['file'], path.join(apps, 'appxml', 'Application.xml'));
    assert.equal(warnings.filter((r) => r['element'] === 'Application/JSEngine/XMLSocket').length, 0);
    assert.deepEqual(
      warnings.map((r) => r['element']),
      ['Application/Process'],
      'every honoured element is silent',
    );
  });

  // Last: it edits the app's Application.xml.
  it('editing Application.xml hot-reloads the running instances with the new settings', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('appxml/reload'));
    const file = path.join(apps, 'appxml', 'Application.xml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('<greeting>hello</greeting>', '<greeting>bonjour</greeting>'));
    await ts.logs.waitFor((r) => r.app === 'appxml/reload' && r.msg === 'instance reloaded', 10_000);
    assert.ok(ts.logs.traces('appxml/reload').includes('start appxml/reload greeting=bonjour'), ts.logs.traces('appxml/reload').join('|'));
    nc.close();
  });
});

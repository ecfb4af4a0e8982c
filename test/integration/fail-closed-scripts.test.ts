import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { ErrorCode } from '../../runtime/errors.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * Fail closed (issue 12 item 7): a script cannot rename, delete or overwrite its own script files,
 * and a script file that disappears never turns its application into one that accepts everyone.
 */
const GUARDED = `load("lib/helpers.inc");
application.onConnect = function (client, password) { return password === "secret"; };
Client.prototype.attempt = function (what) {
  switch (what) {
    case "rename main": return new File("/main.asc").renameTo("/main.old");
    case "remove main": return new File("/main.asc").remove();
    case "overwrite main": return new File("/main.asc").open("text", "write");
    case "append main": return new File("/main.asc").open("text", "append");
    case "copy over main": return new File("/notes.txt").copyTo("/main.asc");
    case "create main.js": return new File("/main.js").open("text", "create");
    case "rename loaded lib": return new File("/lib/helpers.inc").renameTo("/lib/gone.inc");
    case "remove lib folder": return new File("/lib").remove(true);
    case "rename lib folder": return new File("/lib").renameTo("/lib2");
    case "write Application.xml": return new File("/Application.xml").open("text", "write");
    case "rename to a script name": return new File("/notes.txt").renameTo("/evil.asc");
    case "read main": var f = new File("/main.asc"); var ok = f.open("text", "read"); f.close(); return ok;
    case "write data": var d = new File("/data.txt"); var w = d.open("text", "write"); d.write("x"); d.close(); return w;
  }
};
Client.prototype.version = function () { return helperVersion(); };
`;

async function connect(ts: TestServer, uri: string, ...args: unknown[]): Promise<NetConnection> {
  const nc = new NetConnection();
  await nc.connect(ts.url(uri), ...args);
  return nc;
}

describe('fail closed: script files are read-only to scripts; a vanished script never accepts everyone', function () {
  this.timeout(30_000);
  let ts: TestServer;
  let apps: string;
  let appDir: string;

  before(async () => {
    apps = tempDir('apps');
    appDir = path.join(apps, 'guarded');
    mkdirSync(path.join(appDir, 'lib'), { recursive: true });
    writeFileSync(path.join(appDir, 'main.asc'), GUARDED);
    writeFileSync(path.join(appDir, 'lib', 'helpers.inc'), 'function helperVersion() { return 1; }\n');
    writeFileSync(path.join(appDir, 'notes.txt'), 'notes\n');
    writeFileSync(path.join(appDir, 'Application.xml'), '<Application></Application>\n');
    ts = await startTestServer(apps, { reload: { watch: true, debounceMs: 50, mode: 'carry' } });
  });
  after(async () => ts?.close());

  it('renaming, removing, overwriting or replacing main.asc, a load()ed file, their folder or Application.xml answers false (logged)', async () => {
    const nc = await connect(ts, 'guarded', 'secret');
    const refused = [
      'rename main', 'remove main', 'overwrite main', 'append main', 'copy over main', 'create main.js',
      'rename loaded lib', 'remove lib folder', 'rename lib folder', 'write Application.xml', 'rename to a script name',
    ];
    for (const what of refused) assert.equal(await nc.call('attempt', what), false, what);
    assert.equal(await nc.call('attempt', 'read main'), true, 'reading stays allowed');
    assert.equal(await nc.call('attempt', 'write data'), true, 'other files stay writable');
    assert.equal(readFileSync(path.join(appDir, 'main.asc'), 'utf8'), GUARDED, 'main.asc untouched');
    assert.ok(existsSync(path.join(appDir, 'lib', 'helpers.inc')));
    assert.ok(!existsSync(path.join(appDir, 'main.js')) && !existsSync(path.join(appDir, 'evil.asc')));
    const lines = ts.logs.records.filter((r) => r['code'] === ErrorCode.ScriptFileRefused && r.app === 'guarded/_definst_');
    assert.equal(lines.length, refused.length, 'one line per refused attempt');
    assert.equal(await nc.call('version'), 1);
    nc.close();
  });

  it('main.asc deleted from outside: the loaded version keeps serving (its onConnect still checks); new instances are refused; it comes back with the file', async () => {
    const inside = await connect(ts, 'guarded', 'secret');
    const backup = path.join(apps, 'main.asc.bak');
    renameSync(path.join(appDir, 'main.asc'), backup);
    await ts.logs.waitFor((r) => r.msg === 'application script disappeared; the loaded version keeps serving, new instances are refused');
    assert.equal(inside.isConnected, true, 'clients stay');
    assert.equal(await inside.call('version'), 1, 'the loaded version answers');
    // The loaded instance still runs its onConnect: a wrong password is still rejected.
    await assert.rejects(connect(ts, 'guarded', 'wrong'), (e: Error & { info?: InfoObject }) => e.info?.code === 'NetConnection.Connect.Rejected');
    const ok = await connect(ts, 'guarded', 'secret');
    ok.close();
    // A new instance of the app has no script to run: refused, not accepted.
    await assert.rejects(connect(ts, 'guarded/other', 'anything'), (e: Error & { info?: InfoObject }) => e.info?.code === 'NetConnection.Connect.Rejected' && /script is missing/.test(String(e.info?.description)));
    await assert.rejects(connect(ts, 'guarded/other'), (e: Error & { info?: InfoObject }) => e.info?.code === 'NetConnection.Connect.Rejected');
    // Unloaded, the instance does not come back script-less either.
    await ts.server.instances.instances.find((i) => i.name === 'guarded/_definst_')!.unload('Application.Shutdown');
    await assert.rejects(connect(ts, 'guarded', 'secret'), (e: Error & { info?: InfoObject }) => e.info?.code === 'NetConnection.Connect.Rejected');
    // The file is back: the app works again.
    renameSync(backup, path.join(appDir, 'main.asc'));
    const back = await connect(ts, 'guarded/other', 'secret');
    assert.equal(await back.call('version'), 1);
    await assert.rejects(connect(ts, 'guarded/other', 'wrong'));
    back.close();
    inside.close();
  });

  it('the whole scripts folder deleted (main script in scripts/): same, never "accept everyone"', async () => {
    const other = path.join(apps, 'nested');
    mkdirSync(path.join(other, 'scripts'), { recursive: true });
    writeFileSync(path.join(other, 'scripts', 'main.asc'), 'application.onConnect = function (c, p) { return p === "ok"; };\n');
    const first = await connect(ts, 'nested', 'ok');
    first.close();
    rmSync(path.join(other, 'scripts'), { recursive: true });
    await assert.rejects(connect(ts, 'nested/fresh', 'anything'), (e: Error & { info?: InfoObject }) => e.info?.code === 'NetConnection.Connect.Rejected');
  });
});

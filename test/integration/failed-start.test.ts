import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConnectError, NetConnection } from '../../runtime/client/net-connection.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * An instance whose script cannot start (syntax error, a load() of a missing file, a throwing top
 * level): the connecting client gets NetConnection.Connect.Rejected naming the application — not a
 * bare close, which looks like a server that is down — and the log has file:line once.
 */
const BROKEN_APPS: Record<string, { files: Record<string, string>; filename: string; lineno: number }> = {
  syntax: { files: { 'main.asc': 'var a = 1;\nfunction f() {\n  return a +;\n}\n' }, filename: 'main.asc', lineno: 3 },
  missingload: { files: { 'main.asc': '// helpers\nload("lib/helpers.asc");\napplication.onConnect = function () { return true; };\n' }, filename: 'main.asc', lineno: 2 },
  throwing: { files: { 'main.asc': 'var settings = null;\nvar port = settings.port;\n' }, filename: 'main.asc', lineno: 2 },
};

describe('a failed instance start answers the connecting client', function () {
  this.timeout(20_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('failed-start');
    for (const [app, { files }] of Object.entries(BROKEN_APPS)) {
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(apps, app, name)), { recursive: true });
        writeFileSync(path.join(apps, app, name), text);
      }
    }
    mkdirSync(path.join(apps, 'healthy'));
    writeFileSync(path.join(apps, 'healthy', 'main.asc'), 'application.onConnect = function () { return true; };\n');
    ts = await startTestServer(apps);
  });
  after(() => ts?.close());

  for (const [app, { filename, lineno }] of Object.entries(BROKEN_APPS)) {
    it(`${app}: Connect.Rejected with a description naming ${app}/_definst_, then the close; the log has ${filename}:${lineno} once`, async () => {
      const nc = new NetConnection();
      const statuses: string[] = [];
      nc.on('status', (info) => statuses.push(info.code));
      const closed = new Promise<void>((resolve) => nc.once('close', () => resolve()));
      const error = await nc.connect(ts.url(app)).then(() => assert.fail('connected'), (e: unknown) => e);
      assert.ok(error instanceof ConnectError, String(error));
      assert.equal(error.info.code, 'NetConnection.Connect.Rejected');
      assert.equal(error.info.level, 'error');
      assert.equal(error.info.description, `Application (${app}/_definst_) failed to start.`);
      assert.deepEqual(statuses, ['NetConnection.Connect.Rejected'], 'the status came before the close');
      await closed;
      const errors = ts.logs.records.filter((r) => r['code'] === 'Application.Script.Error' && r.app === `${app}/_definst_`);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!['filename'], filename);
      assert.equal(errors[0]!['lineno'], lineno);
    });
  }

  it('the next connect tries a fresh start (and is answered the same way); other apps are unaffected', async () => {
    const again = await new NetConnection().connect(ts.url('syntax')).then(() => assert.fail('connected'), (e: unknown) => e);
    assert.equal((again as ConnectError).info.code, 'NetConnection.Connect.Rejected');
    const healthy = new NetConnection();
    await healthy.connect(ts.url('healthy'));
    healthy.close();
  });
});

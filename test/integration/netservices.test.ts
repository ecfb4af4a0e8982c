import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConnectError, NetConnection } from '../../runtime/client/net-connection.ts';
import { typedObject } from '../../runtime/rtmp/amf0.ts';
import { AmfGateway, GatewayFault } from '../helpers/amf-gateway.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * load("netservices.asc") — shipped by the runtime, found after the app folder — in the style of the
 * PyAMF / AMFPHP tutorial apps: the gateway URL comes from Application.xml's application.config, the
 * connection carries credentials, a service with the application as default responder answers
 * login_Result / login_Status, and onConnect leaves the client pending until the answer arrives.
 */
const MAIN_ASC = `
load("netservices.asc");

application.onAppStart = function () {
  NetServices.setDefaultGatewayUrl(application.config.gateway);
  this.gatewayConn = NetServices.createGatewayConnection();
  this.gatewayConn.setCredentials("fms", "s3cret");
  this.auth = this.gatewayConn.getService("auth", this);
  this.pending = {};
};

application.onConnect = function (client, user, password) {
  this.pending[user] = client;
  this.auth.login(user, password);
};

application.login_Result = function (result) {
  var client = this.pending[result.user];
  delete this.pending[result.user];
  if (result.ok) {
    trace("welcome " + result.user + " (" + result.role + ")");
    this.acceptConnection(client);
  } else {
    this.rejectConnection(client, { message: "wrong password for " + result.user });
  }
};

application.login_Status = function (info) {
  trace("login failed: " + info.description);
  for (var user in this.pending) this.rejectConnection(this.pending[user], { message: info.description });
  this.pending = {};
};

// No default responder: the responder object comes first in the call.
Client.prototype.echo = function (text) {
  var client = this;
  var svc = application.gatewayConn.getService("echo");
  return svc.echo({ onResult: function (value) { client.call("report", null, { echo: value }); } }, text);
};

// A default responder with onResult/onStatus (no method-named handlers).
Client.prototype.users = function () {
  var client = this;
  var svc = application.gatewayConn.getService("db", {
    onResult: function (rs) {
      var names = [];
      for (var i = 0; i < rs.getLength(); i++) names.push(rs.getItemAt(i).name);
      client.call("report", null, { isRecordSet: rs instanceof RecordSet, columns: rs.getColumnNames(), names: names });
    },
    onStatus: function (info) { client.call("report", null, { usersFailed: info.code }); }
  });
  svc.users();
};

// A broken gateway through netservices: method_Status on the default responder hears it.
Client.prototype.broken = function () {
  var client = this;
  var conn = NetServices.createGatewayConnection(application.config.broken);
  var svc = conn.getService("auth", { login_Status: function (info) { client.call("report", null, { broken: info.code, description: info.description }); } });
  svc.login("x", "y");
};
`;

describe('netservices.asc (shipped): Flash Remoting the way FMS apps load it', function () {
  this.timeout(30_000);
  let ts: TestServer;
  let gateway: AmfGateway;
  const clients: NetConnection[] = [];

  before(async () => {
    gateway = await new AmfGateway().start();
    gateway
      .service('auth.login', (args) => {
        const [user, password] = args as [string, string];
        if (user === 'crash') throw new GatewayFault({ level: 'error', code: 'Server.Processing', description: 'database is down' });
        return { user, ok: password === 'pw', role: 'presenter' };
      })
      .service('echo.echo', (args) => `echo: ${String(args[0])}`)
      .service('db.users', () =>
        typedObject('RecordSet', { serverInfo: { totalCount: 2, cursor: 1, serviceName: 'db', version: 1, id: 'rs1', columnNames: ['id', 'name'], initialData: [[1, 'ann'], [2, 'bob']] } }),
      );
    const apps = tempDir('netservices-apps');
    mkdirSync(path.join(apps, 'room'));
    writeFileSync(path.join(apps, 'room', 'main.asc'), MAIN_ASC);
    writeFileSync(
      path.join(apps, 'room', 'Application.xml'),
      `<Application><JSEngine><ApplicationObject><config><gateway>${gateway.url()}</gateway><broken>${gateway.url('/status500')}</broken></config></ApplicationObject></JSEngine></Application>`,
    );
    ts = await startTestServer(apps);
  });
  after(async () => {
    for (const client of clients) client.close();
    await ts?.close();
    await gateway?.close();
  });

  /** A client of the room; `report(key)` resolves with the first report the script sent that has `key`. */
  async function connect(user: string, password: string): Promise<{ nc: NetConnection; report: (key: string) => Promise<Record<string, unknown>> }> {
    const nc = new NetConnection();
    clients.push(nc);
    const reports: Record<string, unknown>[] = [];
    const waiting: { key: string; resolve: (r: Record<string, unknown>) => void }[] = [];
    nc.client = {
      report: (r: unknown) => {
        const got = r as Record<string, unknown>;
        reports.push(got);
        for (const w of waiting.splice(0)) if (w.key in got) w.resolve(got);
        else waiting.push(w);
      },
    };
    await nc.connect(ts.url('room'), user, password);
    const report = (key: string) => {
      const seen = reports.find((r) => key in r);
      return seen ? Promise.resolve(seen) : new Promise<Record<string, unknown>>((resolve) => waiting.push({ key, resolve }));
    };
    return { nc, report };
  }

  it('a pending client is accepted from login_Result; the credentials arrived as the Credentials header', async () => {
    await connect('ann', 'pw');
    const request = gateway.requests.find((r) => r.messages.some((m) => m.targetUri === 'auth.login'))!;
    assert.deepEqual(request.headers, [{ name: 'Credentials', mustUnderstand: false, value: { userid: 'fms', password: 's3cret' } }]);
    assert.deepEqual(request.messages.find((m) => m.targetUri === 'auth.login')!.value, ['ann', 'pw']);
    assert.ok(ts.logs.traces('room/_definst_').includes('welcome ann (presenter)'));
  });

  it('a wrong password: rejected from login_Result with the application object', async () => {
    const error = await connect('bob', 'nope').then(() => assert.fail('connected'), (e: unknown) => e);
    assert.ok(error instanceof ConnectError);
    assert.equal(error.info.code, 'NetConnection.Connect.Rejected');
    assert.deepEqual(error.info['application'], { message: 'wrong password for bob' });
  });

  it("the service fails: login_Status gets the gateway's error, the client is rejected, and the log has the line", async () => {
    const error = await connect('crash', 'pw').then(() => assert.fail('connected'), (e: unknown) => e);
    assert.ok(error instanceof ConnectError);
    assert.deepEqual(error.info['application'], { message: 'database is down' });
    assert.ok(ts.logs.traces('room/_definst_').includes('login failed: database is down'));
    assert.ok(ts.logs.records.some((r) => r['code'] === 'SCRIPT_REMOTING_FAILED' && /database is down/.test(String(r['reason']))));
  });

  it('without a default responder, a responder passed first gets the result', async () => {
    const { nc, report } = await connect('ann', 'pw');
    await nc.call('echo', 'hi there');
    assert.deepEqual(await report('echo'), { echo: 'echo: hi there' });
  });

  it('a RecordSet answer becomes a RecordSet (getLength, getItemAt, getColumnNames)', async () => {
    const { nc, report } = await connect('ann', 'pw');
    await nc.call('users');
    assert.deepEqual(await report('names'), { isRecordSet: true, columns: ['id', 'name'], names: ['ann', 'bob'] });
  });

  it('a gateway answering HTTP 500 reaches <method>_Status with Call.Failed, and one log line', async () => {
    const before = ts.logs.records.filter((r) => r['code'] === 'SCRIPT_REMOTING_FAILED').length;
    const { nc, report } = await connect('ann', 'pw');
    await nc.call('broken');
    assert.deepEqual(await report('broken'), { broken: 'NetConnection.Call.Failed', description: 'HTTP: Status 500' });
    const lines = ts.logs.records.filter((r) => r['code'] === 'SCRIPT_REMOTING_FAILED');
    assert.equal(lines.length, before + 1);
    assert.match(String(lines.at(-1)!['reason']), /HTTP status 500/);
  });
});

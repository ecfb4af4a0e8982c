import assert from 'node:assert/strict';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';

const SCRIPT = `
function Account(owner) { this.owner = owner; }
Account.prototype.describe = function () { return "account of " + this.owner; };

application.onConnect = function (client, name) {
  client.name = name;
  client.secret = function (x) { return "secret-" + this.name + "-" + x; };
  client.id = "u-overwritten";
  return true;
};
Client.prototype.add = function (a, b) { return this.name + ":" + (a + b); };
Client.prototype.whoami = function () {
  return { id: this.id, ip: this.ip, agent: this.agent, uri: this.uri, referrer: this.referrer, pageUrl: this.pageUrl,
           protocol: this.protocol, objectEncoding: this.objectEncoding, isClient: this instanceof Client };
};
Client.prototype.svc = { hello: function (x) { return "hello " + x + " from " + this.name; } };
Client.prototype.play = function () { return "should never run"; };
Client.prototype.echo = function () { var out = []; for (var i = 0; i < arguments.length; i++) out.push(arguments[i]); return out; };
Client.prototype.rich = function () {
  return { when: new Date(0), list: [1, "two", null], nested: { f: function () {}, ok: true }, account: new Account("ann") };
};
Client.prototype.ask = function (x) {
  var self = this;
  var sent = this.call("double", {
    onResult: function (r) { trace("answer " + r + " for " + self.name); },
    onStatus: function (info) { trace("status " + info.code); }
  }, x, { f: function () {}, keep: 1 });
  var fireAndForget = this.call("notify", null, "note");
  return sent + "," + fireAndForget;
};
Client.prototype.access = function () {
  this.readAccess = "/public";
  this.writeAccess = "";
  return this.readAccess + "|" + this.writeAccess + "|" + this.audioSampleAccess;
};
Client.prototype.stats = function () { return this.getStats().bytes_out + "," + application.getStats().total_connects; };
Client.prototype.limits = function () {
  this.setBandwidthLimit(1000, 0);
  return this.getBandwidthLimit(0) + "," + this.getBandwidthLimit(1);
};
`;

const failed = (method: string) => ({ ok: false, code: 'NetConnection.Call.Failed', description: `Method not found (${method}).` });

describe('sandbox: client → server calls and Client objects', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  async function started(script = SCRIPT) {
    const instance = createInstance(script);
    await instance.sandbox.start();
    assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('c1', { agent: 'FMLE/3.0 (compatible; FMSc/1.0)' }), args: ['ann'] }), 'accept');
    return instance;
  }

  it('Client.prototype methods run with this = the client; the return value is the result', async () => {
    const { sandbox } = await started();
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'add', args: [2, 3] }), { ok: true, value: 'ann:5' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'whoami', args: [] }), {
      ok: true,
      value: {
        id: 'c1', // the script's write to client.id was ignored
        ip: '127.0.0.1',
        agent: 'FMLE/3.0 (compatible; FMSc/1.0)',
        uri: 'rtmp://localhost/testapp',
        referrer: 'http://example.com/app.swf',
        pageUrl: 'http://example.com/index.html',
        protocol: 'rtmp',
        objectEncoding: 0,
        isClient: true,
      },
    });
  });

  it('per-client methods, dotted and slashed paths, arguments and plain-data results', async () => {
    const { sandbox } = await started();
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'secret', args: [7] }), { ok: true, value: 'secret-ann-7' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'svc.hello', args: ['x'] }), { ok: true, value: 'hello x from ann' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'svc/hello', args: ['y'] }), { ok: true, value: 'hello y from ann' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'echo', args: [1, 'a', { b: [true] }, null] }), { ok: true, value: [1, 'a', { b: [true] }, null] });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'rich', args: [] }), {
      ok: true,
      value: { when: new Date(0), list: [1, 'two', null], nested: { ok: true }, account: { owner: 'ann' } },
    });
  });

  it('unknown, reserved and Object.prototype names fail with NetConnection.Call.Failed', async () => {
    const { sandbox } = await started();
    // getStreamLength / checkBandwidth are host built-ins unless the script defines them.
    for (const method of ['nope', 'svc.nothing', 'toString', 'constructor', 'hasOwnProperty', '__proto__', 'constructor.constructor', 'svc.hello.call',
      'getStreamLength', 'checkBandwidth']) {
      assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method, args: [] }), failed(method), method);
    }
    const reserved = ['closeStream', 'connect', 'createStream', 'deleteStream', 'onStatus', 'pause', 'play', 'publish', 'receiveAudio',
      'receiveVideo', 'seek', 'getBandwidthLimit', 'setBandwidthLimit', 'getStats', 'ping'];
    for (const method of reserved) assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method, args: [] }), failed(method), method);
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'unknown-client', method: 'add', args: [1, 2] }), failed('add'));
  });

  it('__resolve supplies methods the client does not have; a script may define built-in names', async () => {
    const { sandbox } = await started(`${SCRIPT}
Client.prototype.getStreamLength = function (name) { return name.length; };
Client.prototype.__resolve = function (name) {
  if (name == "dynamic") return function (x) { return "resolved " + name + " " + x + " for " + this.name; };
};`);
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'dynamic', args: [1] }), { ok: true, value: 'resolved dynamic 1 for ann' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'other', args: [] }), failed('other'));
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'getStreamLength', args: ['abc'] }), { ok: true, value: 3 });
  });

  it('client.call sends plain arguments; the responder gets onResult or onStatus later', async () => {
    const { sandbox, hooks } = await started();
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'ask', args: [21] }), { ok: true, value: 'true,true' });
    const [ask, notify] = hooks.calls;
    assert.equal(ask?.method, 'double');
    assert.deepEqual(ask?.args, [21, { keep: 1 }], 'functions are dropped like AMF does');
    assert.equal(notify?.method, 'notify');
    assert.deepEqual(notify?.args, ['note']);
    assert.equal(notify?.onResult, undefined, 'a null responder wants no result');
    ask?.onResult?.({ ok: true, value: 42 });
    await hooks.waitFor(() => hooks.traces.includes('answer 42 for ann'), 'onResult');
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'ask', args: [1] }), { ok: true, value: 'true,true' });
    hooks.calls[2]?.onResult?.({ ok: false, info: { level: 'error', code: 'NetConnection.Call.Failed' } });
    await hooks.waitFor(() => hooks.traces.includes('status NetConnection.Call.Failed'), 'onStatus');
  });

  it('access-list writes reach the host at once; stats and bandwidth limits answer', async () => {
    const { sandbox, hooks } = await started();
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'access', args: [] }), { ok: true, value: '/public||' });
    assert.deepEqual(hooks.access, [
      { clientId: 'c1', field: 'readAccess', value: '/public' },
      { clientId: 'c1', field: 'writeAccess', value: '' },
    ]);
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'stats', args: [] }), { ok: true, value: '2,3' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'limits', args: [] }), { ok: true, value: '1250000,1000' });
    assert.deepEqual(hooks.bandwidth, [{ clientId: 'c1', serverToClient: 1000, clientToServer: 0 }], 'the limit went to the host');
  });
});

import assert from 'node:assert/strict';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';
import { status } from '../../runtime/common/status-codes.ts';

const SCRIPT = `
var stopInfo = null;
var keep = false;
var streams = [];
application.onConnect = function (client, mode) {
  client.mode = mode;
  if (mode == "pending") return null;
  if (mode == "reject") return false;
  return true;
};
application.onDisconnect = function (client) { trace("onDisconnect " + client.id + " " + client.mode); };
application.onPublish = function (client, stream) {
  streams.push(stream);
  trace("onPublish " + client.id + " " + stream.name + " q=" + stream.publishQueryString + " " + (stream instanceof Stream));
};
application.onUnpublish = function (client, stream) {
  trace("onUnpublish " + stream.name + " same=" + (stream === streams[streams.length - 1]));
};
application.onAppStop = function (info) { stopInfo = info.code + "|" + info.level; trace("onAppStop " + info.code); if (keep) return false; };
Client.prototype.modes = function () {
  var list = [];
  for (var i in application.clients) list.push(application.clients[i].mode);
  return list.sort().join(",");
};
Client.prototype.shout = function (text) {
  application.broadcastMsg("onShout", text, { from: this.id });
  return application.clients.length;
};
Client.prototype.info = function () {
  application.name = "renamed";
  return [application.name, application.hostname, application.server, application.config.greeting, application.allowDebug].join("|");
};
Client.prototype.keepAlive = function (v) { keep = v; return keep; };
Client.prototype.kick = function (id) {
  for (var i = 0; i < application.clients.length; i++) if (application.clients[i].id == id) return application.disconnect(application.clients[i]);
  return "not found";
};
Client.prototype.p2 = function () {
  application.registerProxy("x", null);
  application.registerProxy("y", null);
  if (this.ping() !== true) throw new Error("ping did not go out");
  var rtt = this.farID;
  application.shutdown();
  application.gc();
  return "done";
};
`;

describe('sandbox: the application object', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  async function started() {
    const instance = createInstance(SCRIPT, { hostname: 'media.example', config: { greeting: 'hi' } });
    await instance.sandbox.start();
    return instance;
  }

  it('application.clients holds the accepted clients only; disconnect removes them and fires onDisconnect', async () => {
    const { sandbox, hooks } = await started();
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('a'), args: ['alpha'] }), 'accept');
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('b'), args: ['beta'] }), 'accept');
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('p'), args: ['pending'] }), 'pending');
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('r'), args: ['reject'] }), 'reject');
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'a', method: 'modes', args: [] }), { ok: true, value: 'alpha,beta' });
    await sandbox.dispatch('disconnect', { clientId: 'b' });
    assert.deepEqual(hooks.traces, ['onDisconnect b beta']);
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'a', method: 'modes', args: [] }), { ok: true, value: 'alpha' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'a', method: 'kick', args: ['a'] }), { ok: true, value: true });
    assert.deepEqual(hooks.disconnected, ['a'], 'application.disconnect goes to the host; onDisconnect comes with the event');
  });

  it('broadcastMsg reaches the host with plain arguments', async () => {
    const { sandbox, hooks } = await started();
    await sandbox.dispatch('connect', { client: clientInfo('a'), args: ['alpha'] });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'a', method: 'shout', args: ['hello'] }), { ok: true, value: 1 });
    assert.deepEqual(hooks.broadcasts, [{ method: 'onShout', args: ['hello', { from: 'a' }] }]);
  });

  it('name, hostname, server and config are exposed read-only', async () => {
    const { sandbox } = await started();
    await sandbox.dispatch('connect', { client: clientInfo('a'), args: ['alpha'] });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'a', method: 'info', args: [] }), { ok: true, value: 'testapp/_definst_|media.example|FMS/3,5,7,7009|hi|false' });
  });

  it('onPublish / onUnpublish get the client and one Stream object per publish', async () => {
    const { sandbox, hooks } = await started();
    await sandbox.dispatch('connect', { client: clientInfo('a'), args: ['alpha'] });
    await sandbox.dispatch('publish', { clientId: 'a', stream: { name: 'cam1', publishQueryString: 'token=x' } });
    await sandbox.dispatch('unpublish', { clientId: 'a', stream: { name: 'cam1', publishQueryString: 'token=x' } });
    assert.deepEqual(hooks.traces, ['onPublish a cam1 q=token=x true', 'onUnpublish cam1 same=true']);
  });

  it('onAppStop gets the info object; returning false refuses the unload', async () => {
    const { sandbox, hooks } = await started();
    await sandbox.dispatch('connect', { client: clientInfo('a'), args: ['alpha'] });
    assert.equal(await sandbox.dispatch('appStop', { info: status.appGc() }), true);
    await sandbox.dispatch('call', { clientId: 'a', method: 'keepAlive', args: [true] });
    assert.equal(await sandbox.dispatch('appStop', { info: status.appGc() }), false);
    await sandbox.dispatch('call', { clientId: 'a', method: 'keepAlive', args: [false] });
    assert.equal(await sandbox.dispatch('appStop', { info: status.appShutdown() }), true);
    assert.deepEqual(hooks.traces, ['onAppStop Application.GC', 'onAppStop Application.GC', 'onAppStop Application.Shutdown']);
  });

  it('trace() records text; P2 members exist, log "unsupported" once each; shutdown and ping go to the host', async () => {
    const { sandbox, hooks, logger } = await started();
    await sandbox.dispatch('connect', { client: clientInfo('a'), args: ['alpha'] });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'a', method: 'p2', args: [] }), { ok: true, value: 'done' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'a', method: 'p2', args: [] }), { ok: true, value: 'done' });
    assert.equal(hooks.shutdowns, 2);
    assert.deepEqual(hooks.pings, ['a', 'a']);
    const unsupported = logger.records.filter((r) => r.level === 'warn').map((r) => r.message);
    assert.deepEqual(unsupported, [
      'unsupported: application.registerProxy',
      'unsupported: Client.farID',
    ]);
    assert.deepEqual(logger.records[0]?.fields, { app: 'testapp/_definst_', member: 'application.registerProxy' });
  });

  it('trace() converts its argument like FMS: one string record per call', async () => {
    const instance = createInstance('trace(1 + 1);\ntrace({ toString: function () { return "custom"; } });\ntrace();\ntrace("a" + null);\n');
    await instance.sandbox.start();
    assert.deepEqual(instance.hooks.traces, ['2', 'custom', 'undefined', 'anull']);
  });
});

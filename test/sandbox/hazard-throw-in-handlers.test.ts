import assert from 'node:assert/strict';
import { cleanupApps, clientInfo, createInstance, disposeAll, startNeighbour, type TestInstance } from './helpers.ts';
import { status } from '../../runtime/common/status-codes.ts';

// Each handler throws on a known line; onStatus records what it was told, and a Client method reads it.
const SCRIPT = [
  'var statuses = [];', //                                                          1
  'application.onStatus = function (info) {', //                                    2
  '  statuses.push(info.code + "|" + info.level + "|" + info.filename + ":" + info.lineno);', // 3
  '  if (info.lineno == 31) { throw new Error("onStatus itself fails"); }', //       4
  '};', //                                                                          5
  'application.onAppStart = function () {', //                                      6
  '  trace("starting");', //                                                        7
  '  undefinedFunction();', //                                                      8
  '};', //                                                                          9
  'application.onConnect = function (client, mode) {', //                           10
  '  if (mode == "throw") { throw new TypeError("bad connect"); }', //               11
  '  if (mode == "string") { throw "plain string"; }', //                           12
  '  if (mode == "after-accept") { application.acceptConnection(client); null.x; }', // 13
  '  return true;', //                                                              14
  '};', //                                                                          15
  'application.onDisconnect = function (client) { throw new Error("bye " + client.id); };', // 16
  'application.onPublish = function (client, stream) { throw new Error("pub " + stream.name); };', // 17
  'application.onUnpublish = function (client, stream) { throw new Error("unpub " + stream.name); };', // 18
  'application.onAppStop = function (info) { throw new Error("stop " + info.code); };', // 19
  'Client.prototype.boom = function () {', //                                       20
  '  var x = null;', //                                                             21
  '  return x.property;', //                                                        22
  '};', //                                                                          23
  'Client.prototype.statuses = function () { return statuses.join(";"); };', //     24
  'Client.prototype.ok = function () { return "still alive"; };', //               25
  'Client.prototype.later = function () {', //                                      26
  '  var id = setInterval(function () { clearInterval(id); throw new Error("timer"); }, 5);', // 27
  '  this.call("ask", { onResult: function (r) { throw new Error("responder " + r); } });', // 28
  '  return true;', //                                                              29
  '};', //                                                                          30
  'Client.prototype.statusBoom = function () { throw new Error("first"); };', //   31
  '',
].join('\n');

function lastError(instance: TestInstance) {
  return instance.hooks.scriptErrors[instance.hooks.scriptErrors.length - 1];
}

describe('sandbox hazard: exceptions thrown by each handler', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('each throw is reported once with file:line and linebuf, reaches onStatus, and the instance keeps running', async () => {
    const neighbour = await startNeighbour();
    const instance = createInstance(SCRIPT);
    const { sandbox, hooks } = instance;

    // onAppStart throws: reported, start still succeeds (FMS keeps the instance).
    await sandbox.start();
    assert.deepEqual(hooks.scriptErrors[0], {
      description: 'ReferenceError: undefinedFunction is not defined',
      filename: 'main.asc',
      lineno: 8,
      linebuf: '  undefinedFunction();',
    });

    // onConnect throws before deciding: the client is rejected.
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('t1'), args: ['throw'] }), 'reject');
    assert.equal(lastError(instance)?.description, 'TypeError: bad connect');
    assert.equal(lastError(instance)?.lineno, 11);
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('t2'), args: ['string'] }), 'reject');
    assert.equal(lastError(instance)?.description, 'uncaught exception: plain string');
    // After accepting inside the handler, a throw does not undo the accept.
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('t3'), args: ['after-accept'] }), 'pending');
    assert.deepEqual(hooks.accepted, ['t3']);
    assert.equal(lastError(instance)?.lineno, 13);

    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'boom', args: [] }), {
      ok: false,
      code: 'NetConnection.Call.Failed',
      description: 'Failed to execute method (boom).',
    });
    assert.deepEqual(lastError(instance), {
      description: "TypeError: Cannot read properties of null (reading 'property')",
      filename: 'main.asc',
      lineno: 22,
      linebuf: '  return x.property;',
    });

    await sandbox.dispatch('publish', { clientId: 'c1', stream: { name: 'cam', publishQueryString: '' } });
    assert.equal(lastError(instance)?.description, 'Error: pub cam');
    await sandbox.dispatch('unpublish', { clientId: 'c1', stream: { name: 'cam', publishQueryString: '' } });
    assert.equal(lastError(instance)?.description, 'Error: unpub cam');

    // A timer and a responder throw later, outside any awaited call.
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'later', args: [] }), { ok: true, value: true });
    const ask = hooks.calls.find((c) => c.method === 'ask');
    ask?.onResult?.({ ok: true, value: 5 });
    await hooks.waitFor(() => hooks.scriptErrors.some((e) => e.description === 'Error: timer'), 'the timer error');
    await hooks.waitFor(() => hooks.scriptErrors.some((e) => e.description === 'Error: responder 5'), 'the responder error');
    assert.equal(hooks.scriptErrors.find((e) => e.description === 'Error: timer')?.lineno, 27);

    // onStatus throwing is reported but not fed back to onStatus (no loop).
    const before = hooks.scriptErrors.length;
    await sandbox.dispatch('call', { clientId: 'c1', method: 'statusBoom', args: [] });
    assert.deepEqual(
      hooks.scriptErrors.slice(before).map((e) => e.description),
      ['Error: first', 'Error: onStatus itself fails'],
    );

    await sandbox.dispatch('disconnect', { clientId: 'c1' });
    assert.equal(lastError(instance)?.description, 'Error: bye c1');

    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('c2'), args: [] }), 'accept');
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c2', method: 'ok', args: [] }), { ok: true, value: 'still alive' });
    const statuses = (await sandbox.dispatch('call', { clientId: 'c2', method: 'statuses', args: [] })) as { ok: true; value: string };
    assert.match(statuses.value, /^Application\.Script\.Error\|error\|main\.asc:8;/);
    assert.ok(statuses.value.includes('Application.Script.Error|error|main.asc:22'), statuses.value);

    // onAppStop throwing does not block the unload.
    assert.equal(await sandbox.dispatch('appStop', { info: status.appGc() }), true);
    assert.equal(lastError(instance)?.description, 'Error: stop Application.GC');
    assert.equal(instance.fatals.length, 0);
    await neighbour.ask(3);
  });
});

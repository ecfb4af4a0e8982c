import assert from 'node:assert/strict';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';

const PROBE = `
var seen = typeof JSON + "," + typeof setTimeout + "," + typeof clearTimeout + "," + typeof console + "," + typeof WebAssembly;
var fired = [];
Client.prototype.seen = function () { return seen; };
Client.prototype.fired = function () { return fired.join(","); };
Client.prototype.later = function () {
  var keep = setTimeout(function (tag) { fired.push(tag); trace("fired " + tag); }, 5, "once");
  var dropped = setTimeout(function () { fired.push("dropped"); }, 5);
  clearTimeout(dropped);
  return typeof keep;
};
Client.prototype.json = function () { return JSON.stringify({ a: [1, 2] }); };
`;

describe('sandbox: globals FMS did not have', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('by default there is no JSON, setTimeout, clearTimeout, console or WebAssembly (scripts feature-test them)', async () => {
    const { sandbox } = createInstance(PROBE);
    await sandbox.start();
    await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'seen', args: [] }), { ok: true, value: 'undefined,undefined,undefined,undefined,undefined' });
  });

  it('exposeJson and exposeSetTimeout turn them on; setTimeout fires once with its arguments', async () => {
    const { sandbox, hooks } = createInstance(PROBE, { exposeJson: true, exposeSetTimeout: true });
    await sandbox.start();
    await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'seen', args: [] }), { ok: true, value: 'object,function,function,undefined,undefined' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'json', args: [] }), { ok: true, value: '{"a":[1,2]}' });
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'later', args: [] }), { ok: true, value: 'number' });
    await hooks.waitFor(() => hooks.traces.includes('fired once'), 'the timeout');
    // A 5 ms interval in a second instance is the clock: after it ticked ten times, nothing more fired.
    const clock = createInstance('var n = 0;\nsetInterval(function () { trace("tick " + (++n)); }, 5);\n');
    await clock.sandbox.start();
    await clock.hooks.waitFor(() => clock.hooks.traces.length >= 10, 'ten ticks');
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'fired', args: [] }), { ok: true, value: 'once' });
  });
});

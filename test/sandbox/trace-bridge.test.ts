import assert from 'node:assert/strict';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';

/**
 * trace() reaches the host without a synchronous round trip (an isolated-vm "ignored" callback), and
 * every 256th record or 256 KB as a `traceWait` that gives the host's event loop a turn. What must
 * hold: records keep their order among the other host calls of the script, all of a handler's traces
 * are in before its result, and a script tracing without end cannot queue unbounded memory (nor keep
 * Node's thread: hazard-host-call-loop.test.ts).
 */
describe('sandbox: trace() to the host', function () {
  this.timeout(30_000);
  afterEach(disposeAll);
  after(cleanupApps);

  it('keeps trace records in order with synchronous host calls, and all in before the handler returns', async () => {
    const instance = createInstance(
      'Client.prototype.mix = function (n) { for (var i = 0; i < n; i++) { trace("t" + i); if (i % 10 === 9) this.call("m", null, i); } return n; };\n',
    );
    const order: string[] = [];
    const hooks = instance.hooks;
    const trace = hooks.trace.bind(hooks);
    const clientCall = hooks.clientCall.bind(hooks);
    hooks.trace = (text) => (order.push(text), trace(text));
    hooks.clientCall = (clientId, method, args, onResult) => (order.push(`call ${String(args[0])}`), clientCall(clientId, method, args, onResult));
    await instance.sandbox.start();
    assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
    assert.deepEqual(await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'mix', args: [2000] }), { ok: true, value: 2000 });
    const expected: string[] = [];
    for (let i = 0; i < 2000; i++) {
      expected.push(`t${i}`);
      if (i % 10 === 9) expected.push(`call ${i}`);
    }
    assert.deepEqual(order, expected, 'every trace, in order, before the result came back');
  });

  it('order holds across the waiting trace sent after every 256 KB of text (8 MB traced here)', async () => {
    const instance = createInstance('var line = new Array(4001).join("y");\nClient.prototype.flood = function (n) { for (var i = 0; i < n; i++) trace(i + " " + line); return n; };\n');
    let seen = 0;
    const trace = instance.hooks.trace.bind(instance.hooks);
    instance.hooks.trace = (text) => {
      const index = Number(text.slice(0, text.indexOf(' ')));
      assert.equal(index, seen, 'in order');
      seen++;
      trace(text);
    };
    await instance.sandbox.start();
    assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
    assert.deepEqual(await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'flood', args: [2000] }), { ok: true, value: 2000 });
    assert.equal(seen, 2000);
  });
});

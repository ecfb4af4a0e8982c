import assert from 'node:assert/strict';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';

describe('sandbox: setInterval / clearInterval', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('function form: extra arguments are passed, this is the global object, clearInterval stops it', async () => {
    const { sandbox, hooks } = createInstance(`
var count = 0;
var id = setInterval(function (a, b) {
  count++;
  trace("fn " + a + b + " global=" + (this === Function("return this")()) + " n=" + count);
  if (count == 3) clearInterval(id);
}, 5, "x", 1);
trace("id is " + typeof id);
`);
    await sandbox.start();
    await hooks.waitFor(() => hooks.traces.length >= 4, 'three ticks');
    assert.deepEqual(hooks.traces, ['id is number', 'fn x1 global=true n=1', 'fn x1 global=true n=2', 'fn x1 global=true n=3']);
  });

  it('object form: setInterval(obj, "method", ms, ...args) calls obj.method with this = obj, looked up at each tick', async () => {
    const { sandbox, hooks } = createInstance(`
function Ticker(name) { this.name = name; this.n = 0; }
Ticker.prototype.tick = function (suffix) {
  this.n++;
  trace(this.name + " " + this.n + suffix);
  if (this.n == 2) { this.tick = function () { trace("replaced"); clearInterval(timerId); }; }
};
var ticker = new Ticker("t");
var timerId = setInterval(ticker, "tick", 5, "!");
`);
    await sandbox.start();
    await hooks.waitFor(() => hooks.traces.includes('replaced'), 'the replaced method');
    assert.deepEqual(hooks.traces, ['t 1!', 't 2!', 'replaced']);
  });

  it('events and timer ticks share one FIFO: events run in submission order, a slow tick does not pile up', async () => {
    const { sandbox, hooks } = createInstance(`
var ticks = 0;
application.onConnect = function (c) { trace("connect " + c.id); return true; };
application.onDisconnect = function (c) { trace("disconnect " + c.id); };
Client.prototype.slow = function (ms) {
  var until = new Date().getTime() + ms;
  while (new Date().getTime() < until) {}
  trace("slow done, ticks so far " + ticks);
  return ticks;
};
Client.prototype.ticks = function () { return ticks; };
setInterval(function () { ticks++; }, 1);
`);
    await sandbox.start();
    // Submitted without awaiting: each runs to completion, in order.
    const results = await Promise.all([
      sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }),
      sandbox.dispatch('call', { clientId: 'c1', method: 'slow', args: [100] }),
      sandbox.dispatch('disconnect', { clientId: 'c1' }),
      sandbox.dispatch('connect', { client: clientInfo('c2'), args: [] }),
      sandbox.dispatch('call', { clientId: 'c2', method: 'ticks', args: [] }),
    ]);
    assert.deepEqual(hooks.traces.map((t) => t.replace(/so far \d+$/, 'so far N')), ['connect c1', 'slow done, ticks so far N', 'disconnect c1', 'connect c2']);
    const ticksDuringSlow = (results[1] as { value: number }).value;
    const ticksAfter = (results[4] as { value: number }).value;
    // The 1 ms timer fired ~100 times while the handler ran; its ticks were coalesced, not queued.
    assert.ok(ticksAfter - ticksDuringSlow <= 2, `ticks piled up: ${ticksDuringSlow} -> ${ticksAfter}`);
  });

  it('bad arguments throw a TypeError in the script; dispose() clears every timer', async () => {
    const { sandbox, hooks } = createInstance(`
try { setInterval("code()", 10); } catch (e) { trace(e.name); }
setInterval(function () { trace("alive"); }, 5);
`);
    await sandbox.start();
    await hooks.waitFor(() => hooks.traces.includes('alive'), 'a tick');
    assert.equal(hooks.traces[0], 'TypeError');
    sandbox.dispose();
    const traced = hooks.traces.length;
    const clock = createInstance('var n = 0;\nsetInterval(function () { trace("tick " + (++n)); }, 5);\n');
    await clock.sandbox.start();
    await clock.hooks.waitFor(() => clock.hooks.traces.length >= 10, 'ten clock ticks');
    assert.equal(hooks.traces.length, traced, 'no tick after dispose');
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'reject');
  });
});

import assert from 'node:assert/strict';
import { ErrorCode } from '../../runtime/errors.ts';
import { cleanupApps, clientInfo, createInstance, disposeAll, startNeighbour, whileRunning, STALL_LIMIT_MS } from './helpers.ts';

describe('sandbox hazard: infinite loop in a setInterval callback', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('ends with ScriptTimeout and onFatal; timers stop; the neighbour and the event loop keep going', async () => {
    const neighbour = await startNeighbour();
    const broken = createInstance(
      [
        'var ticks = 0;',
        'application.onAppStart = function () {',
        '  setInterval(function () { trace("tick " + (++ticks)); }, 5);',
        '  setInterval(function () { if (ticks >= 3) { while (true) {} } }, 20);',
        '};',
        '',
      ].join('\n'),
      { handlerTimeoutMs: 200 },
    );
    await broken.sandbox.start();

    const { answers, maxGapMs } = await whileRunning(broken.fatal, neighbour.ask);
    const error = await broken.fatal;
    assert.equal(error.code, ErrorCode.ScriptTimeout);
    assert.equal(broken.fatals.length, 1);
    assert.ok(answers > 0);
    assert.ok(maxGapMs < STALL_LIMIT_MS, `event loop stalled for ${maxGapMs.toFixed(0)} ms`);

    // Host timers were cleared with the isolate: while the neighbour's own timer ticks ten times,
    // the broken instance traces nothing more.
    const tracesAtDeath = broken.hooks.traces.length;
    const clock = createInstance('var n = 0;\nsetInterval(function () { trace("clock " + (++n)); }, 10);\n');
    await clock.sandbox.start();
    await clock.hooks.waitFor(() => clock.hooks.traces.length >= 10, 'ten clock ticks');
    assert.equal(broken.hooks.traces.length, tracesAtDeath);
    assert.equal(await broken.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'reject');
    await neighbour.ask(1);
  });
});

import assert from 'node:assert/strict';
import { ErrorCode, ScriptError } from '../../runtime/errors.ts';
import { cleanupApps, createInstance, disposeAll, startNeighbour, whileRunning, STALL_LIMIT_MS } from './helpers.ts';
import { status } from '../../runtime/common/status-codes.ts';

describe('sandbox hazard: infinite loop in onAppStart (and at top level)', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('start() rejects with ScriptTimeout; the neighbour and the event loop keep going', async () => {
    const neighbour = await startNeighbour();
    const broken = createInstance('var ready = false;\napplication.onAppStart = function () {\n  for (;;) { ready = !ready; }\n};\n', {
      handlerTimeoutMs: 200,
    });

    const startedAt = performance.now();
    const start = broken.sandbox.start();
    const { answers, maxGapMs } = await whileRunning(start, neighbour.ask);
    const elapsedMs = performance.now() - startedAt;

    const error = await start.then(
      () => assert.fail('start() resolved'),
      (reason: unknown) => reason,
    );
    assert.ok(error instanceof ScriptError);
    assert.equal(error.code, ErrorCode.ScriptTimeout);
    assert.equal(broken.fatals.length, 0, 'a failed start is reported by start() only');
    assert.deepEqual(broken.hooks.scriptErrors, []);
    assert.ok(elapsedMs < 1500, `ended after ${elapsedMs.toFixed(0)} ms`);
    assert.ok(answers > 0);
    assert.ok(maxGapMs < STALL_LIMIT_MS, `event loop stalled for ${maxGapMs.toFixed(0)} ms`);
    assert.equal(await broken.sandbox.dispatch('appStop', { info: status.appShutdown() }), true);
    await neighbour.ask(7);
  });

  it('a loop at the top level of main.asc is bounded the same way', async () => {
    const neighbour = await startNeighbour();
    const broken = createInstance('var i = 0;\nwhile (true) { i++; }\n', { handlerTimeoutMs: 200 });
    const start = broken.sandbox.start();
    const { answers, maxGapMs } = await whileRunning(start, neighbour.ask);
    await assert.rejects(start, (error: unknown) => error instanceof ScriptError && error.code === ErrorCode.ScriptTimeout);
    assert.ok(answers > 0);
    assert.ok(maxGapMs < STALL_LIMIT_MS, `event loop stalled for ${maxGapMs.toFixed(0)} ms`);
  });
});

import assert from 'node:assert/strict';
import { ErrorCode } from '../../runtime/errors.ts';
import { cleanupApps, clientInfo, createInstance, disposeAll, startNeighbour, whileRunning, STALL_LIMIT_MS } from './helpers.ts';
import { status } from '../../runtime/common/status-codes.ts';

describe('sandbox hazard: infinite loop in onConnect', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('ends with ScriptTimeout after ~handlerTimeoutMs while a neighbour instance and the event loop keep going', async () => {
    const neighbour = await startNeighbour();
    const broken = createInstance('application.onConnect = function (client) {\n  while (true) {}\n};\n', { handlerTimeoutMs: 200 });
    await broken.sandbox.start();

    const startedAt = performance.now();
    const outcome = broken.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
    const { answers, maxGapMs } = await whileRunning(outcome, neighbour.ask);
    const elapsedMs = performance.now() - startedAt;

    assert.equal(await outcome, 'reject', 'the client of a dead instance is turned away');
    const error = await broken.fatal;
    assert.equal(error.code, ErrorCode.ScriptTimeout);
    assert.equal(broken.fatals.length, 1, 'onFatal once');
    assert.deepEqual(broken.hooks.scriptErrors, [], 'a fatal error travels through onFatal only');
    assert.ok(elapsedMs >= 190 && elapsedMs < 1000, `ended after ${elapsedMs.toFixed(0)} ms`);
    assert.ok(answers > 0, 'the neighbour answered while the loop spun');
    assert.ok(maxGapMs < STALL_LIMIT_MS, `event loop stalled for ${maxGapMs.toFixed(0)} ms`);

    // The poisoned instance answers with neutral values from now on; the neighbour is unaffected.
    assert.equal(await broken.sandbox.dispatch('connect', { client: clientInfo('c2'), args: [] }), 'reject');
    assert.deepEqual(await broken.sandbox.dispatch('call', { clientId: 'c1', method: 'anything', args: [] }), {
      ok: false,
      code: 'NetConnection.Call.Failed',
      description: 'Method not found (anything).',
    });
    assert.equal(await broken.sandbox.dispatch('appStop', { info: status.appShutdown() }), true);
    await neighbour.ask(42);
    assert.equal(broken.fatals.length, 1);
  });
});

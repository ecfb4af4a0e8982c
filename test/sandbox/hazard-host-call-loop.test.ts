import assert from 'node:assert/strict';
import { ErrorCode } from '../../runtime/errors.ts';
import { cleanupApps, clientInfo, createInstance, disposeAll, runAway } from './helpers.ts';

const TIMEOUT_MS = 300;
/**
 * How late a runaway may end. Before the host kept the deadline, a loop of host calls ran 17–20 s
 * against a 1 s limit (isolated-vm's interrupt is lost while the isolate waits in a host call).
 */
const LATE_LIMIT_MS = 1000;

// Each body is the second line of main.asc, inside Client.prototype.spin; line 2 is where it loops.
const RUNAWAYS: { name: string; body: string }[] = [
  { name: 'pure JS (the reference)', body: 'while (true) {}' },
  { name: 'application.getStats()', body: 'while (true) application.getStats();' },
  { name: 'File.exists', body: "var f = new File('x.txt'); while (true) f.exists;" },
  { name: 'trace()', body: "while (true) trace('spin');" },
  { name: 'host calls whose errors the script swallows', body: 'while (true) { try { application.getStats(); } catch (e) {} }' },
  { name: 'mostly JS with a host call now and then', body: 'for (;;) { for (var i = 0; i < 100000; i++) {} application.getStats(); }' },
  // Waiting host calls (isolated-vm applySyncPromise): isolated-vm's own timeout does not count their waiting.
  { name: 'so.flush() (a waiting host call)', body: "var so = SharedObject.get('s', true); while (true) so.flush();" },
  {
    name: 'File.list() of the app folder (a waiting host call)',
    body: "var d = new File('/'); if (d.list() === null) throw new Error('list failed'); while (true) d.list();",
  },
  { name: 'load() of a missing file, error swallowed (a waiting host call)', body: "while (true) { try { load('missing.asc'); } catch (e) {} }" },
];

describe('sandbox hazard: a loop of host calls cannot dodge the handler timeout', function () {
  this.timeout(20_000);
  afterEach(disposeAll);
  after(cleanupApps);

  for (const { name, body } of RUNAWAYS) {
    it(`${name}: ScriptTimeout at the limit with file:line, onFatal once, the neighbour keeps answering`, async () => {
      const { error, elapsedMs, broken, neighbour } = await runAway(
        `application.onConnect = function (c) { return true; };\nClient.prototype.spin = function () { ${body} };\n`,
        'spin',
        { handlerTimeoutMs: TIMEOUT_MS },
      );
      // What a pure-JS timeout gives, whatever the loop calls (runAway checked the neutral call
      // answer and one onFatal): ScriptTimeout with the loop's location, nothing through scriptError.
      assert.equal(error.code, ErrorCode.ScriptTimeout);
      assert.equal(error.message, `Script timed out: a handler ran longer than ${TIMEOUT_MS} ms.`);
      assert.equal(error.filename, 'main.asc');
      assert.equal(error.lineno, 2);
      assert.deepEqual(broken.hooks.scriptErrors, []);
      assert.ok(elapsedMs >= TIMEOUT_MS - 10 && elapsedMs < TIMEOUT_MS + LATE_LIMIT_MS, `ended after ${elapsedMs.toFixed(0)} ms`);
      assert.equal(await broken.sandbox.dispatch('connect', { client: clientInfo('c2'), args: [] }), 'reject', 'the dead instance turns clients away');
      await neighbour.ask(7);
    });
  }

  it("main.asc's top level looping on host calls fails start() with ScriptTimeout", async () => {
    const broken = createInstance('var n = 0;\nwhile (true) n += application.getStats().total_connects;\n', { handlerTimeoutMs: TIMEOUT_MS });
    const startedAt = performance.now();
    const error = await broken.sandbox.start().then(
      () => assert.fail('start() resolved'),
      (e: unknown) => e as { code: string; lineno?: number },
    );
    const elapsedMs = performance.now() - startedAt;
    assert.equal(error.code, ErrorCode.ScriptTimeout);
    assert.equal(error.lineno, 2);
    assert.ok(elapsedMs < TIMEOUT_MS + LATE_LIMIT_MS + 500, `start() failed after ${elapsedMs.toFixed(0)} ms`);
    assert.equal(broken.fatals.length, 0, 'a start failure travels through start() only');
  });

  it('a handler that makes host calls for less than the limit is left alone, however many', async () => {
    const healthy = createInstance(
      'Client.prototype.work = function () { var t = 0; for (var i = 0; i < 2000; i++) t += application.getStats().total_connects; return t; };\n',
      { handlerTimeoutMs: 2000 },
    );
    await healthy.sandbox.start();
    await healthy.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(await healthy.sandbox.dispatch('call', { clientId: 'c1', method: 'work', args: [] }), { ok: true, value: 6000 });
    }
    assert.equal(healthy.fatals.length, 0);
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { ErrorCode } from '../../runtime/errors.ts';
import { cleanupApps, clientInfo, createInstance, disposeAll, startNeighbour, whileRunning, STALL_LIMIT_MS } from './helpers.ts';

const HELPERS_URL = new URL('./helpers.ts', import.meta.url).href;

const CATASTROPHE_CHILD = `
const { clientInfo, createInstance, startNeighbour, whileRunning } = await import(${JSON.stringify(HELPERS_URL)});
const neighbour = await startNeighbour();
const broken = createInstance('Client.prototype.bomb = function () { var o = {}; var i = 0; while (true) { o["k" + (i++)] = { a: i }; } };', { handlerTimeoutMs: 1000, memoryLimitMb: 16 });
await broken.sandbox.start();
await broken.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
const { answers, maxGapMs } = await whileRunning(broken.sandbox.dispatch('call', { clientId: 'c1', method: 'bomb', args: [] }), neighbour.ask);
const error = await broken.fatal;
await neighbour.ask(5);
console.log('REPORT ' + JSON.stringify({ code: error.code, fatals: broken.fatals.length, answers, maxGapMs, neighbourAfter: true }));
`;

/** Runs ESM code in a fresh node (same flags as mocha), returns its REPORT line, then SIGKILLs it. */
async function runInChild(code: string): Promise<Record<string, unknown>> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'fms-child-'));
  const child = spawn(process.execPath, [...SOURCE_NODE_FLAGS, '--input-type=module', '-e', code], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    return await new Promise((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split('\n').find((l) => l.startsWith('REPORT '));
        if (line !== undefined) resolve(JSON.parse(line.slice('REPORT '.length)) as Record<string, unknown>);
      });
      child.on('exit', (exitCode) => reject(new Error(`child exited (${exitCode}) without a report: ${output}`)));
    });
  } finally {
    child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs `body` inside a client method of a fresh instance and waits for the instance to die. */
async function explode(body: string, options: { handlerTimeoutMs: number; memoryLimitMb: number }) {
  const neighbour = await startNeighbour();
  const broken = createInstance(`Client.prototype.bomb = function () {\n${body}\n};\n`, options);
  await broken.sandbox.start();
  assert.equal(await broken.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
  const startedAt = performance.now();
  const call = broken.sandbox.dispatch('call', { clientId: 'c1', method: 'bomb', args: [] });
  const { answers, maxGapMs } = await whileRunning(call, neighbour.ask);
  const elapsedMs = performance.now() - startedAt;
  assert.deepEqual(await call, { ok: false, code: 'NetConnection.Call.Failed', description: 'Method not found (bomb).' });
  const error = await broken.fatal;
  assert.equal(broken.fatals.length, 1);
  assert.ok(answers > 0, 'the neighbour answered meanwhile');
  assert.ok(maxGapMs < STALL_LIMIT_MS, `event loop stalled for ${maxGapMs.toFixed(0)} ms`);
  await neighbour.ask(99);
  return { error, elapsedMs, broken };
}

describe('sandbox hazard: memory bomb', function () {
  this.timeout(30_000);
  afterEach(disposeAll);
  after(cleanupApps);

  it('flat 1 MB strings pushed forever end with ScriptOutOfMemory, not a crashed process', async () => {
    // The charCodeAt flattens each joined string, so every push really costs 1 MB.
    const { error } = await explode("var a = [];\nwhile (true) { var s = new Array(1e6).join('x'); s.charCodeAt(0); a.push(s); }", {
      handlerTimeoutMs: 5000,
      memoryLimitMb: 32,
    });
    assert.equal(error.code, ErrorCode.ScriptOutOfMemory);
  });

  it('an ES3 array-of-numbers bomb ends with ScriptOutOfMemory', async () => {
    const { error } = await explode(
      'var all = [];\nwhile (true) {\n  var chunk = [];\n  for (var i = 0; i < 100000; i++) chunk[i] = i + 0.5;\n  all.push(chunk);\n}',
      { handlerTimeoutMs: 2000, memoryLimitMb: 32 },
    );
    assert.equal(error.code, ErrorCode.ScriptOutOfMemory);
  });

  it("`a.push(new Array(1e6).join('x'))` as written builds V8 ropes (~1 KB each): it ends as a CPU hazard", async () => {
    // V8 represents the joined string as a shared cons-string tree, so 32 MB is never reached;
    // what bounds this loop is the handler timeout.
    const { error, elapsedMs } = await explode("var a = [];\nwhile (true) a.push(new Array(1e6).join('x'));", {
      handlerTimeoutMs: 200,
      memoryLimitMb: 32,
    });
    assert.ok(error.code === ErrorCode.ScriptTimeout || error.code === ErrorCode.ScriptOutOfMemory, error.code);
    assert.ok(elapsedMs < 1500, `ended after ${elapsedMs.toFixed(0)} ms`);
  });

  it('a bomb V8 cannot recover from (heap OOM inside a GC) loses the isolate, not the process', async () => {
    // A growing dictionary object can exhaust the heap during a last-resort GC; isolated-vm then
    // reports a catastrophic error (our onCatastrophicError) instead of aborting Node. Its thread
    // stays parked, which makes process.exit() hang, so this runs in a child process we kill.
    const report = await runInChild(CATASTROPHE_CHILD);
    assert.ok(report.code === ErrorCode.ScriptOutOfMemory || report.code === ErrorCode.ScriptTimeout, String(report.code));
    assert.equal(report.fatals, 1);
    assert.ok(Number(report.answers) > 0, 'the neighbour answered meanwhile');
    assert.ok(Number(report.maxGapMs) < STALL_LIMIT_MS, `event loop stalled for ${report.maxGapMs} ms`);
    assert.equal(report.neighbourAfter, true);
  });
});

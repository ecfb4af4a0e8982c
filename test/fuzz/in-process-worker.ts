/**
 * Worker thread running the in-process targets. It runs in a thread so that the main thread can
 * watch it: before each input it publishes the input and bumps a counter in shared memory, so an
 * input that never returns (an infinite loop) is caught by the watchdog in in-process.ts, which
 * terminates this thread and still knows the exact bytes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { MAX_INPUT_BYTES, Rng, describeSplit } from './mutators.ts';
import { classify, createTargets } from './targets.ts';
import { HANG_MS, SharedLayout, type WorkerInit, type WorkerMessage } from './in-process-protocol.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const header = new Int32Array(init.shared, 0, SharedLayout.headerInts);
const inputBytes = new Uint8Array(init.shared, SharedLayout.headerInts * 4, MAX_INPUT_BYTES);
const post = (message: WorkerMessage) => port.postMessage(message);

const targets = createTargets();
const rng = new Rng(init.seed, init.stream);
/** Only the first input per distinct failure is shipped (with its bytes); repeats are counted. */
const seen = new Set<string>();
let heapPeak = 0;

function signature(target: string, error: unknown): string {
  const e = error as Error;
  const frame = (e?.stack ?? '').split('\n').find((line) => line.trim().startsWith('at ')) ?? '';
  return `${target}|${e?.name}|${String(e?.message).replace(/\d+/g, 'N').slice(0, 120)}|${frame.trim()}`;
}

function report(kind: 'crash' | 'masked' | 'hang', target: string, input: Buffer, split: readonly number[], error: unknown, ms: number): void {
  const sig = kind === 'hang' ? `${target}|hang|${input.length}` : signature(target, error);
  const first = !seen.has(sig);
  seen.add(sig);
  const e = error as Error | undefined;
  const cause = (e as { cause?: Error } | undefined)?.cause;
  post({
    type: 'finding',
    kind,
    target,
    first,
    signature: sig,
    input: first ? input.toString('hex') : '',
    error: `fed in pushes of: ${describeSplit(split)}\n${e ? `${e.stack ?? e.message}${cause ? `\ncaused by: ${cause.stack ?? cause.message}` : ''}` : `took ${ms.toFixed(0)} ms`}`,
    ms,
  });
}

let lastStats = performance.now();
for (let i = 0; ; i++) {
  const total = Atomics.load(header, SharedLayout.total);
  if (total >= init.maxInputs || Date.now() >= init.deadline) break;
  const t = i % targets.length;
  const target = targets[t]!;
  let input: Buffer;
  let split: number[];
  try {
    input = target.next(rng);
    split = target.split(input, rng);
  } catch (error) {
    // A bug in the fuzzer itself, not in the code under test: say so (the worker then dies).
    throw new Error(`fuzz harness: making a ${target.name} input failed`, { cause: error });
  }
  // Publish the input before running it: if it never returns, the watchdog reads it from here.
  inputBytes.set(input.subarray(0, MAX_INPUT_BYTES));
  Atomics.store(header, SharedLayout.inputLength, Math.min(input.length, MAX_INPUT_BYTES));
  Atomics.store(header, SharedLayout.target, t);
  Atomics.add(header, SharedLayout.total, 1);
  Atomics.add(header, SharedLayout.triedBase + t, 1);
  const start = performance.now();
  let outcome: ReturnType<typeof classify> = 'accepted';
  let failure: unknown;
  try {
    target.run(input, split);
  } catch (error) {
    outcome = classify(error);
    failure = error;
  }
  const ms = performance.now() - start;
  if (outcome === 'rejected') Atomics.add(header, SharedLayout.rejectedBase + t, 1);
  if (outcome === 'crash' || outcome === 'masked') report(outcome, target.name, input, split, failure, ms);
  if (ms > HANG_MS) report('hang', target.name, input, split, undefined, ms);
  if (start - lastStats > 250) {
    lastStats = start;
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    post({ type: 'heap', heapPeak });
  }
}
heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
post({ type: 'done', heapPeak });

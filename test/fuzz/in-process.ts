/**
 * Supervisor of the in-process targets: runs them in a worker thread and watches its progress
 * counter. A worker stuck on one input for longer than HANG_MS is terminated (V8 can stop a busy
 * loop), the input is read back from shared memory and recorded as a hang, and a fresh worker
 * continues on a new PRNG stream until the time or input budget is spent.
 */
import { Worker } from 'node:worker_threads';
import { MAX_INPUT_BYTES } from './mutators.ts';
import type { Findings } from './findings.ts';
import { HANG_MS, SharedLayout, type WorkerInit, type WorkerMessage } from './in-process-protocol.ts';

export const TARGET_NAMES = ['handshake', 'chunk-decoder', 'rtmpe-handshake', 'rtmpt-requests', 'amf0', 'amf3', 'hls-request'] as const;

export interface InProcessStats {
  tried: Record<string, number>;
  rejected: Record<string, number>;
  workerHeapPeak: number;
  restarts: number;
}

const WATCHDOG_INTERVAL_MS = 100;
/** A worker that blows this heap is reported as an out-of-memory crash of the input it was on. */
const WORKER_HEAP_LIMIT_MB = 1024;

/**
 * tsx registers its loader on the main thread only, so a worker cannot load a .ts entry point by
 * itself; this bootstrap registers tsx inside the worker first, then imports the real module.
 */
function startWorker(init: WorkerInit): Worker {
  const entry = new URL('./in-process-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: init, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_LIMIT_MB } });
}

/** How often `onProgress` (long runs) hears the per-target counts. */
const PROGRESS_EVERY_MS = 60_000;

export async function runInProcess(
  seed: number,
  deadline: number,
  maxInputs: number,
  findings: Findings,
  onProgress?: (tried: Record<string, number>) => void,
): Promise<InProcessStats> {
  const shared = new SharedArrayBuffer(SharedLayout.headerInts * 4 + MAX_INPUT_BYTES);
  const header = new Int32Array(shared, 0, SharedLayout.headerInts);
  const currentInput = () => {
    const length = Atomics.load(header, SharedLayout.inputLength);
    return Buffer.from(new Uint8Array(shared, SharedLayout.headerInts * 4, length));
  };
  const currentTarget = () => TARGET_NAMES[Atomics.load(header, SharedLayout.target)] ?? 'unknown';
  let workerHeapPeak = 0;
  let restarts = 0;
  const triedNow = () => Object.fromEntries(TARGET_NAMES.map((name, t) => [name, Atomics.load(header, SharedLayout.triedBase + t)]));
  const progress = onProgress ? setInterval(() => onProgress(triedNow()), PROGRESS_EVERY_MS) : undefined;
  progress?.unref();

  for (let stream = 0; Date.now() < deadline && Atomics.load(header, SharedLayout.total) < maxInputs; stream++) {
    restarts = stream;
    const worker = startWorker({ seed, stream, deadline, maxInputs, shared });
    const totalAtStart = Atomics.load(header, SharedLayout.total);
    await new Promise<void>((resolve) => {
      let lastTotal = totalAtStart;
      let lastProgressAt = Date.now();
      const watchdog = setInterval(() => {
        const total = Atomics.load(header, SharedLayout.total);
        if (total !== lastTotal) {
          lastTotal = total;
          lastProgressAt = Date.now();
          return;
        }
        // Until its first input the worker is still loading modules: not a hang.
        if (total === totalAtStart || Date.now() - lastProgressAt <= HANG_MS) return;
        clearInterval(watchdog);
        const target = currentTarget();
        findings.add('hang', target, `${target}|stuck`, currentInput(), `no progress for ${Date.now() - lastProgressAt} ms; worker terminated`);
        void worker.terminate();
      }, WATCHDOG_INTERVAL_MS);
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'finding') {
          const input = message.first ? Buffer.from(message.input, 'hex') : null;
          findings.add(message.kind, message.target, message.signature, input, message.error);
        } else {
          workerHeapPeak = Math.max(workerHeapPeak, message.heapPeak);
        }
      });
      worker.on('error', (error: Error) => {
        // Out of memory (ERR_WORKER_OUT_OF_MEMORY) or a throw outside the per-input try.
        const target = currentTarget();
        findings.add('crash', target, `${target}|worker|${error.message}`, currentInput(), error.stack ?? error.message);
      });
      worker.once('exit', () => {
        clearInterval(watchdog);
        resolve();
      });
    });
    // A worker that dies before its first input (a load error) would only die again.
    if (Atomics.load(header, SharedLayout.total) === totalAtStart) break;
  }

  clearInterval(progress);
  const tried = triedNow();
  const rejected: Record<string, number> = {};
  TARGET_NAMES.forEach((name, t) => {
    rejected[name] = Atomics.load(header, SharedLayout.rejectedBase + t);
  });
  return { tried, rejected, workerHeapPeak, restarts };
}

/**
 * Process-wide counts of isolates, for /metrics, the hot-reload leak test and the process's exit
 * (runtime/main.ts): every Sandbox reports here when it creates, frees or loses its isolate.
 */

let lostIsolateThreads = 0;
let liveIsolates = 0;

/**
 * How many isolate threads isolated-vm has parked for good after a catastrophic error (V8 heap
 * OOM inside a GC, or a script that would not terminate). While this is > 0, `process.exit()`
 * hangs (isolated-vm joins its thread pool at exit): the process must end itself with
 * `process.kill(process.pid, 'SIGKILL')` after flushing logs.
 */
export function lostIsolateThreadCount(): number {
  return lostIsolateThreads;
}

/** Isolates created and not yet torn down, process-wide. */
export function liveIsolateCount(): number {
  return liveIsolates;
}

export function isolateCreated(): void {
  liveIsolates++;
}

export function isolateFreed(): void {
  liveIsolates--;
}

export function isolateThreadLost(): number {
  return ++lostIsolateThreads;
}

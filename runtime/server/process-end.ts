import { ErrorCode } from '../errors.ts';
import { lostIsolateThreadCount } from '../sandbox/isolate-counters.ts';
import type { Server } from '../server.ts';

/**
 * How a server process ends, the same for the one process, a distribution primary and its workers.
 * `process.exit()` runs isolated-vm's exit hooks, which join isolate threads and hang on one that
 * never ends (a catastrophic error parks it for good): such a process ends itself with SIGKILL.
 */

/** Starts the shutdown: close() within `timeoutMs`, else SHUTDOWN_TIMEOUT and endNow(). Resolves when close() is done. */
export function shutDown(server: Server, timeoutMs: number): Promise<void> {
  // Armed until the process is gone, not just until close() resolves: whatever still holds the
  // event loop afterwards (an isolate thread that will not end, say) must not keep it alive.
  setTimeout(() => {
    server.log.error({ code: ErrorCode.ShutdownTimeout, shutdownTimeoutMs: timeoutMs }, 'shutdown deadline passed; ending the process');
    endNow(server);
  }, timeoutMs).unref();
  return server.close();
}

/** The last resort: SIGKILL of our own pid, the one way out that cannot hang; the log is flushed first. */
export function endNow(server: Server): void {
  const kill = () => process.kill(process.pid, 'SIGKILL');
  setTimeout(kill, 500).unref();
  server.log.flush(kill);
}

/**
 * The process ends with `code`: once its event loop is empty, or at once with `now` (a worker: its
 * IPC channel would hold the loop); by SIGKILL if an isolate thread is lost.
 */
export function exitWith(code: number, now = false): void {
  process.exitCode = code;
  if (lostIsolateThreadCount() > 0) setTimeout(() => process.kill(process.pid, 'SIGKILL'), 200);
  else if (now) process.exit(code);
}

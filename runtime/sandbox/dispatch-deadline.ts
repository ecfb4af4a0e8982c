/**
 * The handler timeout, kept by the host so that host calls cannot dodge it.
 *
 * isolated-vm's own `timeout` option interrupts the isolate with V8's RequestInterrupt. While the
 * isolate thread waits in a synchronous host callback it has released its V8 lock, and an interrupt
 * requested then is not delivered until some later interrupt lands (upstream limitation, isolated-vm
 * 7.0.2: run_with_timeout.h + Executor::Unlock). A script that spends most of its time in host calls
 * (`while (true) application.getStats()`) therefore ran 17–20 s against a 1 s timeout, 34 s against
 * 5 s, with isolated-vm's timer thread spinning TerminateExecution meanwhile. `isolate.dispose()`, on
 * the other hand, stops such a loop within milliseconds.
 *
 * So each dispatch is also timed here, on the isolate's own wall clock (`isolate.wallTime` runs only
 * while a thread is inside the isolate, host calls included, so time spent waiting for a thread is not
 * charged; a wait in isolated-vm's applySyncPromise — so.flush(), File folder work, load() — is
 * counted, although isolated-vm's own timeout does not fire during it: measured, 5 waits of 200 ms
 * ran 1009 ms of wallTime past a 500 ms timeout with no interrupt). Every host call and wait asks
 * `passed()` (host-bridge.ts `overdue`); past the limit the host answers the call with a deadline
 * reply, host-api reports where the script is (`timedOut`), and the sandbox ends the isolate exactly
 * as a pure-JS timeout does. A backstop timer covers the rest: a dispatch still in the isolate GRACE_MS
 * after its limit (isolated-vm's interrupt lost, or the report never came) is overrun too.
 */
import type ivm from 'isolated-vm';

/** Pure-JS loops are ended by isolated-vm at the limit (with a stack); the backstop waits this long more. */
const GRACE_MS = 1000;
/** After a deadline reply, how long host-api has to report where the script is. */
const REPORT_MS = 200;
/** Shortest re-arm of the backstop while the isolate has not yet used up its time. */
const MIN_REARM_MS = 20;

export class DispatchDeadline {
  readonly #limitMs: number;
  readonly #onOverrun: () => void;
  #isolate: ivm.Isolate | undefined;
  #startNs = 0n;
  #timer: NodeJS.Timeout | undefined;
  /** A host call was answered with the deadline reply; host-api's `timedOut` report is awaited. */
  #signalled = false;

  /** `onOverrun`: the running dispatch is past its limit and did not report in time; end the isolate. */
  constructor(limitMs: number, onOverrun: () => void) {
    this.#limitMs = limitMs;
    this.#onOverrun = onOverrun;
  }

  /** A dispatch (or a script file's top level) is about to run in `isolate`. */
  begin(isolate: ivm.Isolate): void {
    this.end();
    this.#isolate = isolate;
    this.#startNs = isolate.wallTime;
    this.#signalled = false;
    this.#arm(this.#limitMs + GRACE_MS);
  }

  /** The dispatch settled (or the isolate is gone). */
  end(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#isolate = undefined;
  }

  /** Asked on every host call: true once the running dispatch has been in the isolate past its limit. */
  passed(): boolean {
    if (this.#isolate === undefined || this.#elapsedMs() <= this.#limitMs) return false;
    if (!this.#signalled) {
      this.#signalled = true;
      this.#arm(REPORT_MS);
    }
    return true;
  }

  #elapsedMs(): number {
    const isolate = this.#isolate;
    if (isolate === undefined || isolate.isDisposed) return 0;
    return Number(isolate.wallTime - this.#startNs) / 1e6;
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#check(), ms);
    // The owner's life cycle (sockets, server) keeps the process up; a deadline alone must not.
    this.#timer.unref();
  }

  #check(): void {
    if (this.#isolate === undefined) return;
    if (this.#isolate.isDisposed) {
      this.end();
      return;
    }
    const remainingMs = this.#limitMs + GRACE_MS - this.#elapsedMs();
    if (!this.#signalled && remainingMs > 0) {
      // Waited for a thread, or already out of the isolate with its result on the way: not overrun.
      this.#arm(Math.max(MIN_REARM_MS, remainingMs));
      return;
    }
    this.end();
    this.#onOverrun();
  }
}

import { BridgeArgumentError } from './bridge-arguments.ts';

/** Like browsers' clamping: a 0 ms interval must not become a storm of dispatches. */
const MIN_TIMER_MS = 10;
/** Node turns larger delays into 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_TIMERS = 10000;
/** What one host timer costs (Timeout object, map entries), counted in the script's host memory. */
const TIMER_BYTES = 256;

/**
 * setInterval / setTimeout of a script: the timers live here, in the host, keyed by id, so that
 * disposing the instance clears them all. A tick becomes a `timer` event in the instance's FIFO;
 * while one waits there, further ticks of that timer are dropped, not piled up.
 */
export class ScriptTimers {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  /** Timers with a tick waiting in the FIFO. */
  readonly #ticking = new Set<number>();
  readonly #fire: (timerId: number, taken: () => void) => void;
  #nextId = 1;

  /** `fire(timerId, taken)`: queue the tick; call `taken()` when the queue runs it. */
  constructor(fire: (timerId: number, taken: () => void) => void) {
    this.#fire = fire;
  }

  /** Starts a timer; returns its id (> 0). */
  start(ms: number, repeat: boolean): number {
    if (this.#timers.size >= MAX_TIMERS) throw new BridgeArgumentError(`more than ${MAX_TIMERS} timers`);
    const timerId = this.#nextId++;
    const tick = (): void => {
      if (!repeat) this.#timers.delete(timerId);
      if (this.#ticking.has(timerId)) return;
      this.#ticking.add(timerId);
      this.#fire(timerId, () => this.#ticking.delete(timerId));
    };
    const delay = Math.min(MAX_TIMER_MS, Math.max(MIN_TIMER_MS, ms));
    const timer = repeat ? setInterval(tick, delay) : setTimeout(tick, delay);
    timer.unref();
    this.#timers.set(timerId, timer);
    return timerId;
  }

  stop(timerId: number): void {
    clearTimeout(this.#timers.get(timerId));
    this.#timers.delete(timerId);
  }

  /** Every timer stopped (the isolate goes). */
  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#ticking.clear();
  }

  /** Host memory the timers cost, counted against the script. */
  get bytes(): number {
    return this.#timers.size * TIMER_BYTES;
  }
}

import type { Logger } from './logger.ts';

/** One line per key per this many milliseconds unless the owner says otherwise. */
export const DEFAULT_RATE_LIMIT_INTERVAL_MS = 10_000;
/** Keys are budget names from the code, a handful; this only guards against misuse. */
const MAX_KEYS = 256;

/**
 * What hits a budget (CONVENTIONS "Budgets") is logged here: at most one line per key per interval,
 * so a client hammering a limit costs the log one line, not one per attempt. The next line of a key
 * says how many were suppressed since its previous one (`suppressed`).
 *
 * `key` names the budget — the config key, e.g. 'rtmp.maxConnectionsPerIp' — never a client-chosen
 * string (that would grow the key map with the attack); put client data in the fields instead.
 */
export class RateLimitedLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(log: Logger, intervalMs = DEFAULT_RATE_LIMIT_INTERVAL_MS, now: () => number = Date.now) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Logs at warn level unless this key logged within the interval; returns whether it wrote. */
  warn(key: string, fields: Record<string, unknown>, message: string): boolean {
    return this.#write('warn', key, fields, message);
  }

  error(key: string, fields: Record<string, unknown>, message: string): boolean {
    return this.#write('error', key, fields, message);
  }

  #write(level: 'warn' | 'error', key: string, fields: Record<string, unknown>, message: string): boolean {
    const now = this.#now();
    const state = this.#keys.get(key);
    if (state && now - state.lastAt < this.#intervalMs) {
      state.suppressed++;
      return false;
    }
    const suppressed = state?.suppressed ?? 0;
    if (!state && this.#keys.size >= MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value as string);
    this.#keys.set(key, { lastAt: now, suppressed: 0 });
    this.#log[level]({ ...fields, budget: key, ...(suppressed > 0 ? { suppressed } : {}) }, message);
    return true;
  }
}

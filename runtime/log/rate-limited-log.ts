import type { Logger } from './logger.ts';

/** One line per key per this many milliseconds unless the owner says otherwise. */
export const DEFAULT_RATE_LIMIT_INTERVAL_MS = 10_000;
/** Keys are names from the code, a handful; this only guards against misuse. */
const MAX_KEYS = 256;

/**
 * The one rate limit for log lines an outsider can trigger at will — a budget hit (CONVENTIONS
 * "Budgets"), TLS garbage, a refused RTMPT request: at most one line per key per interval, so a
 * client hammering a limit costs the log one line, not one per attempt. The next line of a key says
 * how many were held back since its previous one (`suppressed`).
 *
 * `key` names what happened — for a budget, its config key ('rtmp.maxConnectionsPerIp') — never a
 * client-chosen string (that would grow the key map with the attack); client data goes in the fields.
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

  /** A budget was hit: a warn line with `budget` = the key (its config key). Returns whether it wrote. */
  exceeded(budget: string, fields: Record<string, unknown>, message: string): boolean {
    return this.#write('warn', budget, { ...fields, budget }, message);
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
    this.#log[level]({ ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, message);
    return true;
  }
}

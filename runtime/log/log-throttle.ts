/**
 * At most one log line per key per interval, for lines an outsider can trigger at will (TLS garbage,
 * refused RTMPT requests): the first one in each interval is logged with how many were held back.
 */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(intervalMs = 10_000) {
    this.#intervalMs = intervalMs;
  }

  /** Null: stay quiet. A number: log now, mentioning that many suppressed since the last line. */
  admit(key: string): number | null {
    const now = Date.now();
    const entry = this.#last.get(key);
    if (entry && now - entry.at < this.#intervalMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#last.set(key, { at: now, suppressed: 0 });
    return suppressed;
  }
}

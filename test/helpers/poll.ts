/**
 * Waiting for something the server changes on its own and announces nowhere a test can await
 * (an admin API answer, a worker restarted, a playlist that grew): ask again until the answer is
 * right or the time is up. The one way the tests poll; each failure says what was awaited and
 * what the last answer was.
 */
export interface PollOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** Pause between two asks (ms). */
  intervalMs?: number;
}

/**
 * Asks `probe` until `accept` holds for its answer and returns that answer; past the deadline
 * throws `timed out waiting for <what>` with the last answer (what(last) when `what` is a function).
 */
export async function pollUntil<T>(
  probe: () => T | Promise<T>,
  accept: (answer: T) => boolean,
  what: string | ((last: T) => string),
  { timeoutMs = 5000, intervalMs = 50 }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (accept(answer)) return answer;
    if (Date.now() > deadline) {
      throw new Error(typeof what === 'function' ? what(answer) : `timed out waiting for ${what} (last: ${describe(answer)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until `check()` is true (state a test's own listeners update). */
export async function waitUntil(check: () => boolean, what: string, options?: PollOptions): Promise<void> {
  await pollUntil(check, (done) => done, what, { intervalMs: 20, ...options });
}

function describe(answer: unknown): string {
  try {
    const text = JSON.stringify(answer);
    return text === undefined ? String(answer) : text.length > 500 ? `${text.slice(0, 500)}…` : text;
  } catch {
    return String(answer);
  }
}

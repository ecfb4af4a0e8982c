/** Counts of what went wrong (or what happened) by kind, with the first few details of each. */
export class Tally {
  readonly #counts = new Map<string, number>();
  readonly #examples = new Map<string, string[]>();
  readonly #startedAt = performance.now();

  add(kind: string, detail = '', times = 1): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + times);
    const examples = this.#examples.get(kind) ?? [];
    if (examples.length < 3 && detail !== '') examples.push(`${((performance.now() - this.#startedAt) / 1000).toFixed(0)} s: ${detail}`);
    this.#examples.set(kind, examples);
  }

  count(kind: string): number {
    return this.#counts.get(kind) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }

  /** One line per kind: "kind ×n (first details)". */
  lines(): string[] {
    return [...this.#counts].map(([kind, n]) => {
      const examples = this.#examples.get(kind) ?? [];
      return `${kind} ×${n}${examples.length ? ` — ${examples.join('; ')}` : ''}`;
    });
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const randomBetween = (min: number, max: number): number => min + Math.random() * (max - min);

/** Rejects with `${what} timed out` after `ms`. */
export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

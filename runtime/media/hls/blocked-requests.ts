import type http from 'node:http';

export interface BlockedRequestLimits {
  maxPerClient: number;
  maxTotal: number;
}

/** One request held open until what it asked for exists (or its time is up, or the client leaves). */
export interface Waiter {
  readonly client: string;
  /** True once it can be answered; then `answer` is called once. */
  ready(): boolean;
  answer(): void;
  /** Time is up (or the stream went away) before it became ready. */
  giveUp(reason: 'timeout' | 'gone'): void;
}

interface Held {
  waiter: Waiter;
  timer: NodeJS.Timeout;
  group: Set<Held>;
  res: http.ServerResponse;
  onClose: () => void;
}

/**
 * Every blocked HLS request (blocking playlist reload, a preload-hinted part not yet complete), with
 * the budgets: at most `maxPerClient` held per client address and `maxTotal` held in all; each is
 * held at most its timeout. Requests are grouped by packager: a change wakes only that group.
 */
export class BlockedRequests {
  readonly #limits: BlockedRequestLimits;
  readonly #perClient = new Map<string, number>();
  #total = 0;

  constructor(limits: BlockedRequestLimits) {
    this.#limits = limits;
  }

  get total(): number {
    return this.#total;
  }

  /** Which budget a new blocked request from this client would exceed, if any. */
  refusal(client: string): 'client' | 'total' | null {
    if ((this.#perClient.get(client) ?? 0) >= this.#limits.maxPerClient) return 'client';
    if (this.#total >= this.#limits.maxTotal) return 'total';
    return null;
  }

  /** Holds the request (the caller checked `refusal` first). */
  hold(group: Set<Held>, res: http.ServerResponse, waiter: Waiter, timeoutMs: number): void {
    const held: Held = {
      waiter, group, res,
      timer: setTimeout(() => this.#release(held) && waiter.giveUp('timeout'), timeoutMs),
      onClose: () => this.#release(held),
    };
    group.add(held);
    res.once('close', held.onClose);
    this.#total++;
    this.#perClient.set(waiter.client, (this.#perClient.get(waiter.client) ?? 0) + 1);
  }

  /** Something changed in the group: answer every request that can be answered now. */
  wake(group: Set<Held>): void {
    for (const held of [...group]) if (held.waiter.ready() && this.#release(held)) held.waiter.answer();
  }

  /** The group's stream went away: every request gets its answer now. */
  drop(group: Set<Held>): void {
    for (const held of [...group]) if (this.#release(held)) held.waiter.giveUp('gone');
  }

  #release(held: Held): boolean {
    if (!held.group.delete(held)) return false;
    clearTimeout(held.timer);
    held.res.off('close', held.onClose);
    this.#total--;
    const left = (this.#perClient.get(held.waiter.client) ?? 1) - 1;
    if (left > 0) this.#perClient.set(held.waiter.client, left);
    else this.#perClient.delete(held.waiter.client);
    return true;
  }
}

export type HeldGroup = Set<Held>;

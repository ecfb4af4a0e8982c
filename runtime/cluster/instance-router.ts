/**
 * Which worker process owns which application instance (FMS `Distribute numprocs`): scope
 * 'instance' keys by app/instance, 'app' by app (every instance of an app in one process). A key
 * keeps its worker while that worker has it loaded or a connection for it is on its way there, so
 * one instance never runs in two processes; a new key goes to the worker that owns fewest.
 */
export type DistributeScope = 'app' | 'instance';

interface Owner {
  worker: number;
  /** Sequence number of the last connection handed for this key. */
  lastSeq: number;
}

export class InstanceRouter {
  readonly #scope: DistributeScope;
  readonly #workers: number;
  readonly #owners = new Map<string, Owner>();

  constructor(scope: DistributeScope, workers: number) {
    this.#scope = scope;
    this.#workers = workers;
  }

  /** The key of an app instance under this scope. */
  keyOf(app: string, instance: string): string {
    return this.#scope === 'app' ? app : `${app}/${instance}`;
  }

  /** The worker owning app/instance, if any (HTTP egress asks this: no owner, nothing to play). */
  ownerOf(app: string, instance: string): number | null {
    return this.#owners.get(this.keyOf(app, instance))?.worker ?? null;
  }

  /** The worker for a connection to app/instance (assigning one if the key has none); `seq` is the handed connection's. */
  route(app: string, instance: string, seq: number): number {
    const key = this.keyOf(app, instance);
    let owner = this.#owners.get(key);
    if (!owner) {
      owner = { worker: this.leastLoaded(), lastSeq: seq };
      this.#owners.set(key, owner);
    }
    owner.lastSeq = seq;
    return owner.worker;
  }

  /** The worker owning fewest keys (lowest index on a tie): where an unowned key, or no key, goes. */
  leastLoaded(): number {
    const counts = new Array<number>(this.#workers).fill(0);
    for (const owner of this.#owners.values()) counts[owner.worker]!++;
    let best = 0;
    for (let i = 1; i < this.#workers; i++) if (counts[i]! < counts[best]!) best = i;
    return best;
  }

  /**
   * A worker's report of what it has loaded, after it processed every connection handed to it up
   * to `lastSeq`: its keys with nothing loaded and no connection sent after that are freed; a key it
   * loaded that nobody owns (started without a routed connection) becomes its own, so later
   * connections to that instance follow it there.
   */
  report(worker: number, instanceNames: readonly string[], lastSeq: number): void {
    const loaded = new Set(instanceNames.map((name) => (this.#scope === 'app' ? name.slice(0, name.indexOf('/')) : name)));
    for (const [key, owner] of this.#owners) {
      if (owner.worker === worker && !loaded.has(key) && owner.lastSeq <= lastSeq) this.#owners.delete(key);
    }
    for (const key of loaded) if (!this.#owners.has(key)) this.#owners.set(key, { worker, lastSeq });
  }

  /** A worker died: its instances went with it. */
  forget(worker: number): void {
    for (const [key, owner] of this.#owners) if (owner.worker === worker) this.#owners.delete(key);
  }
}

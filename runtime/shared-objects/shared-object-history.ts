import type { SoEvent } from '../rtmp/shared-object-codec.ts';

/**
 * Deleted slots beyond this many are forgotten (oldest first) even with resyncDepth = Infinity,
 * so an SO that churns through distinct slot names cannot grow without bound; clients older than
 * the forgotten deletions simply get a full resync.
 */
export const MAX_TOMBSTONES = 10_000;

/**
 * What a delta resync needs (fms-api §7 resyncDepth/purge): the version at which each slot last
 * changed and the deleted slots ("tombstones") with the version of their deletion.
 *
 * A client that reconnects with version `known` (the version field of its Use message) gets only
 * what changed after `known`, unless `known + resyncDepth < version` (FMS: then Clear and every
 * slot), or the history no longer reaches back that far: it starts at the version the SO was
 * loaded or cleared at, and moves forward when tombstones are purged (purge(), resyncDepth,
 * MAX_TOMBSTONES). Not persisted: after a restart history starts at the file's version.
 */
export class SlotHistory {
  /** FMS `resyncDepth`: Infinity unless the script sets it. */
  #depth = Number.POSITIVE_INFINITY;
  /** Lowest client version a delta can start from. */
  #from = 0;
  readonly #changedAt = new Map<string, number>();
  /** Insertion order is deletion order (a re-deleted slot is re-inserted), so trimming pops from the front. */
  readonly #deletedAt = new Map<string, number>();

  get depth(): number {
    return this.#depth;
  }

  /** Sets resyncDepth (negative or NaN means Infinity, as in FMS's -1 "keep all") and trims. */
  setDepth(depth: number, version: number): void {
    this.#depth = Number.isNaN(depth) || depth < 0 ? Number.POSITIVE_INFINITY : Math.floor(depth);
    this.#trim(version);
  }

  /** Everything before `version` is unknown (loaded from a file, or cleared). */
  reset(version: number): void {
    this.#from = version;
    this.#changedAt.clear();
    this.#deletedAt.clear();
  }

  changed(slot: string, version: number): void {
    this.#deletedAt.delete(slot);
    this.#changedAt.set(slot, version);
  }

  deleted(slot: string, version: number): void {
    this.#changedAt.delete(slot);
    this.#deletedAt.delete(slot);
    this.#deletedAt.set(slot, version);
    this.#trim(version);
  }

  /** so.purge(version): forgets deletions older than `version`. */
  purge(version: number): void {
    for (const [slot, at] of this.#deletedAt) {
      if (at >= version) continue;
      this.#deletedAt.delete(slot);
      this.#from = Math.max(this.#from, at);
    }
  }

  /**
   * Events that bring a client at version `known` up to `version` (changes with the current
   * value, removes for deleted slots), or null when it needs a full resync.
   */
  delta(known: number, version: number, data: ReadonlyMap<string, unknown>): SoEvent[] | null {
    if (known <= 0 || known > version || known < this.#from || known + this.#depth < version) return null;
    const events: SoEvent[] = [];
    for (const [slot, at] of this.#changedAt) if (at > known) events.push({ type: 'change', name: slot, value: data.get(slot) });
    for (const [slot, at] of this.#deletedAt) if (at > known) events.push({ type: 'remove', name: slot });
    return events;
  }

  #trim(version: number): void {
    for (const [slot, at] of this.#deletedAt) {
      if (version - at <= this.#depth && this.#deletedAt.size <= MAX_TOMBSTONES) break;
      this.#deletedAt.delete(slot);
      this.#from = Math.max(this.#from, at);
    }
  }
}

/**
 * The state of one remote shared object: slots, version, subscribers, lock, what the script
 * changed since the last sync, and the server-side SharedObject methods scripts call on it.
 * Everything that reaches other objects (sync, fan-out, files) goes through its owner, the store.
 */
import type { SharedObjectMessageModel } from '../rtmp/shared-object-codec.ts';
import type { BudgetedObject, SlotCost } from './shared-object-budget.ts';
import { SlotHistory } from './shared-object-history.ts';
import type { OutgoingSoMessage } from './shared-object-outgoing.ts';

export interface SharedObjectSubscriber {
  readonly id: string;
  readonly readAccess: string;
  readonly writeAccess: string;
  /** `encoded` is shared by every subscriber the message goes to: use its bytes, do not re-encode. */
  send(message: SharedObjectMessageModel, encoded: OutgoingSoMessage): void;
}

/** One entry of the script's onSync list (changes made by clients). */
export interface SyncEntry {
  code: 'change' | 'delete';
  name: string;
  oldValue: unknown;
}

/** A client's change waiting for the script's unlock(). */
export type QueuedRequest = { sub: SharedObjectSubscriber; slot: string; remove: boolean; value: unknown };

/** What a state needs from the store that owns it. */
export interface SharedObjectOwner {
  /**
   * The cost of setting `slot` to `value` (null: a deletion, nothing to charge), or false when a
   * budget refuses it (sharedObjects.* for either side, the host memory budget for the script).
   */
  admit(state: SharedObjectState, slot: string, value: unknown, byScript: boolean): SlotCost | null | false;
  /** A slot's cost changed from `old` to `next`. */
  charge(old: SlotCost | undefined, next: SlotCost | undefined): void;
  /** Every slot was deleted (clear): their costs are freed. */
  cleared(state: SharedObjectState): void;
  /** After any data change: persist later; `fromScript` changes also wait for the next sync. */
  changed(state: SharedObjectState, fromScript: boolean): void;
  /** The last unlock(): sync the batched changes, then apply the client requests that waited. */
  unlocked(state: SharedObjectState): void;
  scriptSend(state: SharedObjectState, handler: string, args: unknown[]): void;
  write(state: SharedObjectState): Promise<boolean>;
  removeFile(state: SharedObjectState): void;
  maybeUnload(state: SharedObjectState): void;
}

/**
 * One shared object. The methods are the server-side SharedObject API (fms-api §7) that host-api
 * maps onto; client traffic goes through SharedObjectStore, which owns the subscribers and the
 * syncs. Persistence fields (dirty, io, flushTimer, flushDone) belong to SharedObjectFiles.
 */
export class SharedObjectState implements BudgetedObject {
  readonly name: string;
  readonly persistent: boolean;
  /** +1 for every slot change, deletion or clear, by the script or a client (FMS `version`). */
  version = 0;
  readonly data = new Map<string, unknown>();
  /** What each slot costs (shared-object-budget.ts); a persistent slot's cost holds its stored form. */
  readonly slotCosts = new Map<string, SlotCost>();
  /** Sum of the slot costs: what maxObjectBytes is checked against. */
  bytes = 0;
  /** Opened by SharedObject.get (its fixed overhead is the script's), not by a client's use. */
  openedByScript = false;
  /**
   * While its file loads (off the event loop): resolves true once the slots are in, false when the
   * SO could not be opened (over budget, or the store closed). null once ready.
   */
  ready: Promise<boolean> | null = null;
  /** Clients whose Use waits for the file to load (answered then, unless they left). */
  readonly waitingUses = new Map<string, SharedObjectSubscriber>();
  /** Per-slot versions and deletions, for delta resyncs (resyncDepth, purge). */
  readonly history = new SlotHistory();
  readonly subscribers = new Map<string, SharedObjectSubscriber>();
  lockCount = 0;
  /** Slots the script changed since the last sync. */
  readonly pendingSlots = new Set<string>();
  pendingClear = false;
  /** The script holds it (SharedObject.get until close()). */
  heldByScript = false;
  /** Changed since the last write (persistent only). */
  dirty = false;
  readonly queued: QueuedRequest[] = [];
  /** Serialises this SO's file operations; never rejects; true when the last one succeeded. */
  io: Promise<boolean> = Promise.resolve(true);
  flushTimer: NodeJS.Timeout | null = null;
  /** Resolved when the write the flush timer will make is done. */
  flushDone: { promise: Promise<void>; resolve: () => void } | null = null;
  readonly #store: SharedObjectOwner;

  constructor(store: SharedObjectOwner, name: string, persistent: boolean) {
    this.#store = store;
    this.name = name;
    this.persistent = persistent;
  }

  /** A new, empty SO starts counting at `version`: clients that bring anything lower get a full resync. */
  startAt(version: number): void {
    this.version = version;
    this.history.reset(version);
  }

  getProperty(slot: string): unknown {
    return this.data.get(slot);
  }

  /**
   * null (or undefined) deletes the slot. Subscribers get the change at the next sync. False when a
   * budget refuses the change (nothing changes); true otherwise.
   */
  setProperty(slot: string, value: unknown): boolean {
    const cost = this.#store.admit(this, slot, value, true);
    if (cost === false) return false;
    if (!this.writeSlot(slot, value, cost)) return true;
    this.pendingSlots.add(slot);
    this.#store.changed(this, true);
    return true;
  }

  /**
   * Stores a slot (null/undefined deletes it) with its cost (from the owner's admit) as one new
   * version and records it for delta resyncs. False (nothing changes) when deleting a slot that
   * does not exist.
   */
  writeSlot(slot: string, value: unknown, cost: SlotCost | null): boolean {
    const old = this.slotCosts.get(slot);
    if (value === null || value === undefined) {
      if (!this.data.delete(slot)) return false;
      this.slotCosts.delete(slot);
      this.history.deleted(slot, ++this.version);
    } else {
      this.data.set(slot, value);
      if (cost) this.slotCosts.set(slot, cost);
      this.history.changed(slot, ++this.version);
    }
    const next = value === null || value === undefined ? undefined : (cost ?? undefined);
    this.bytes += (next?.bytes ?? 0) - (old?.bytes ?? 0);
    this.#store.charge(old, next);
    return true;
  }

  getPropertyNames(): string[] {
    return [...this.data.keys()];
  }

  size(): number {
    return this.data.size;
  }

  /** Broadcasts handler(...args) to every subscriber. */
  send(handler: string, ...args: unknown[]): boolean {
    this.#store.scriptSend(this, handler, args);
    return true;
  }

  lock(): number {
    return ++this.lockCount;
  }

  /** Returns the remaining lock count, or -1 when it was not locked. The last unlock syncs. */
  unlock(): number {
    if (this.lockCount === 0) return -1;
    if (--this.lockCount === 0) this.#store.unlocked(this);
    return this.lockCount;
  }

  /**
   * Persistent SOs only: written now; resolves true once the data is on disk (written, fsynced,
   * renamed, folder fsynced), false when that failed.
   */
  flush(): Promise<boolean> {
    if (!this.persistent) return Promise.resolve(false);
    return this.#store.write(this);
  }

  /** Deletes every slot (and a persistent SO's file); subscribers get Clear. */
  clear(): boolean {
    this.#store.cleared(this);
    this.slotCosts.clear();
    this.bytes = 0;
    this.data.clear();
    this.pendingSlots.clear();
    this.pendingClear = true;
    this.history.reset(++this.version);
    this.#store.changed(this, false);
    if (this.persistent) this.#store.removeFile(this);
    return true;
  }

  /** The script lets go; the SO lives on while clients use it. */
  close(): void {
    this.heldByScript = false;
    this.#store.maybeUnload(this);
  }

  /** Resolves once the scheduled write (if any) and every earlier file operation are done. */
  settled(): Promise<unknown> {
    return this.flushDone?.promise ?? this.io;
  }

  /** Forgets deleted slots older than `version`; clients older than that get a full resync. */
  purge(version: number): boolean {
    this.history.purge(version);
    return true;
  }

  /** FMS `resyncDepth` (default Infinity): clients more than this many versions behind get Clear + every slot. */
  get resyncDepth(): number {
    return this.history.depth;
  }

  set resyncDepth(depth: number) {
    this.history.setDepth(depth, this.version);
  }
}

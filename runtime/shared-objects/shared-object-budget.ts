/**
 * Byte budgets of one instance's shared objects, counted as slots change — never by re-encoding
 * a whole SO — and checked before a change is applied:
 *
 * - a slot (name and value): sharedObjects.maxSlotBytes;
 * - a shared object (its slots): sharedObjects.maxObjectBytes, the same figure the loader accepts
 *   (plus the file's fixed frame), so a shared object that was accepted can be loaded back;
 * - what clients hold in the instance: sharedObjects.maxInstanceBytes. What the script holds is
 *   its host memory instead (scripts.hostMemoryMb, decided by the instance through `admitScript`):
 *   clients can never use up the script's budget, nor the script the clients'.
 *
 * A slot is charged to whoever wrote it last (a client or the script). A persistent slot's cost is
 * its stored form (the `["name",value]` JSON bytes, kept: the file is written from them); a
 * temporary slot's is the lower bound that walk counts (about its size in memory). Every slot and
 * shared object also costs a fixed overhead, so a flood of tiny slots or empty SOs is bounded too.
 */
import { encodeSlot, measureSlot } from './shared-object-file-format.ts';

export interface SoLimits {
  maxSlotBytes: number;
  maxObjectBytes: number;
  maxInstanceBytes: number;
}

/** Map entry, version history and object headers of one slot, beyond its value. */
export const SLOT_OVERHEAD_BYTES = 128;
/** The state object, its maps and history of one shared object. */
export const OBJECT_OVERHEAD_BYTES = 1024;

export interface SlotCost {
  bytes: number;
  byScript: boolean;
  /** The stored form (persistent SOs only). */
  encoded: Buffer | null;
}

/** Which budget a change would exceed. */
export type SoRefusal = 'slot' | 'object' | 'instance' | 'hostMemory';

/** What the budget needs to know of a shared object. */
export interface BudgetedObject {
  readonly persistent: boolean;
  /** Sum of its slots' costs. */
  bytes: number;
  /** Whose account its fixed overhead is on. */
  openedByScript: boolean;
  readonly slotCosts: ReadonlyMap<string, SlotCost>;
}

export class SharedObjectBudget {
  readonly limits: SoLimits;
  /** Bytes of slots the script wrote last, plus the overhead of the SOs it opened. */
  scriptBytes = 0;
  /** The same for clients (and slots loaded from files by a client's use). */
  clientBytes = 0;
  readonly #admitScript: (bytes: number) => boolean;

  /** `admitScript(bytes)`: false when the script may not hold `bytes` more (its host memory budget). */
  constructor(limits: SoLimits, admitScript: (bytes: number) => boolean = () => true) {
    this.limits = limits;
    this.#admitScript = admitScript;
  }

  /**
   * The cost of a new slot value, or why it cannot have one: 'slot' when it alone is over
   * maxSlotBytes, 'object' when it certainly does not fit the SO's room. Both are decided by a
   * bounded walk before anything is stringified: a refused value costs no encoding.
   */
  measure(object: BudgetedObject, slot: string, value: unknown, byScript: boolean): SlotCost | 'slot' | 'object' {
    const old = object.slotCosts.get(slot)?.bytes ?? 0;
    const lowerBound = measureSlot(slot, value, this.limits.maxSlotBytes);
    if (lowerBound === null) return 'slot';
    if (lowerBound + SLOT_OVERHEAD_BYTES - old > 0 && object.bytes - old + lowerBound + SLOT_OVERHEAD_BYTES > this.limits.maxObjectBytes) return 'object';
    if (!object.persistent) return { bytes: lowerBound + SLOT_OVERHEAD_BYTES, byScript, encoded: null };
    const encoded = encodeSlot(slot, value, this.limits.maxSlotBytes);
    return encoded === null ? 'slot' : { bytes: encoded.length + SLOT_OVERHEAD_BYTES, byScript, encoded };
  }

  /** The cost of a slot loaded from a file: accepted as it is (it was accepted when written). */
  loaded(slot: string, value: unknown, byScript: boolean): SlotCost {
    const encoded = encodeSlot(slot, value, Number.POSITIVE_INFINITY)!;
    return { bytes: encoded.length + SLOT_OVERHEAD_BYTES, byScript, encoded };
  }

  /**
   * Why `slot` may not change to `next` (null = a deletion), or null when it may. Only growth is
   * refused: a change that frees bytes is always allowed, even over a budget.
   */
  refusal(object: BudgetedObject, slot: string, next: SlotCost | null, byScript: boolean): SoRefusal | null {
    const old = object.slotCosts.get(slot);
    const growth = (next?.bytes ?? 0) - (old?.bytes ?? 0);
    if (growth > 0 && object.bytes + growth > this.limits.maxObjectBytes) return 'object';
    const ownGrowth = (next?.bytes ?? 0) - (old && old.byScript === byScript ? old.bytes : 0);
    if (ownGrowth <= 0) return null;
    if (!byScript) return this.clientBytes + ownGrowth > this.limits.maxInstanceBytes ? 'instance' : null;
    return this.#admitScript(ownGrowth) ? null : 'hostMemory';
  }

  /** Whether a new shared object may be opened (its overhead, plus what it loads from its file). */
  admitObject(byScript: boolean, bytes = OBJECT_OVERHEAD_BYTES): boolean {
    if (byScript) return this.#admitScript(bytes);
    return this.clientBytes + bytes <= this.limits.maxInstanceBytes;
  }

  /** Moves a slot's cost from `old` to `next` (either may be absent). */
  charge(old: SlotCost | undefined, next: SlotCost | undefined): void {
    if (old) this.#add(old.byScript, -old.bytes);
    if (next) this.#add(next.byScript, next.bytes);
  }

  objectOpened(object: BudgetedObject): void {
    this.#add(object.openedByScript, OBJECT_OVERHEAD_BYTES);
  }

  /** A shared object is dropped (or cleared: keepObject): its slots (and overhead) are freed. */
  objectReleased(object: BudgetedObject, keepObject = false): void {
    for (const cost of object.slotCosts.values()) this.charge(cost, undefined);
    if (!keepObject) this.#add(object.openedByScript, -OBJECT_OVERHEAD_BYTES);
  }

  #add(byScript: boolean, bytes: number): void {
    if (byScript) this.scriptBytes += bytes;
    else this.clientBytes += bytes;
  }
}

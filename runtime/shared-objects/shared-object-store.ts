/**
 * Remote shared objects of one application instance (fms-api.md §7): which SOs exist, who
 * subscribes, access checks and the FMS sync rules. It knows nothing about sockets: a subscriber is
 * anything with an id, access lists and a `send(message)`; the session encodes the message for its
 * connection. The state of one SO is SharedObjectState; its file is SharedObjectFiles' business.
 *
 * Sync rules (what Flash clients rely on):
 * - use: UseSuccess, Clear, then one Change per slot (a full resync); a client that brings a
 *   version within resyncDepth gets UseSuccess and only what changed since (SlotHistory).
 * - a client change: applied at once, version+1, Success to the requester ("success" in its
 *   onSync), Change to every other subscriber; the script's onSync gets {code, name, oldValue}.
 * - a script change (setProperty/clear): batched; sent as one message per SO on the next turn, at
 *   `syncPending()`, or at the final unlock(). Scripts never see their own changes in onSync.
 * - send: SendMessage to every subscriber, the sender included (Flash's SharedObject.send docs).
 * - while the script holds lock(), client requests wait and are applied at the final unlock().
 * - access: readAccess for use, writeAccess for change/remove (path = SO name); a denied write
 *   gets NoWriteAccess plus the slot's current value, so the client reports "reject".
 * - fan-out: each message is encoded once for all its receivers (OutgoingSoMessage).
 * - budgets (shared-object-budget.ts), checked before a change is applied: a client change over
 *   maxSlotBytes / maxObjectBytes / maxInstanceBytes is refused like a denied write (NoWriteAccess
 *   plus the slot's current value: Flash reports "reject" in onSync); a new SO that would not fit
 *   is refused with ObjectCreationFailed. A script's setProperty over a budget returns false (over
 *   its host memory the instance is shut down by its owner). One rate-limited log line each.
 */
import path from 'node:path';
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import type { SharedObjectMessageModel, SoEvent } from '../rtmp/shared-object-codec.ts';
import { hasAccess } from '../common/access-list.ts';
import { errorFields, SharedObjectFiles } from './shared-object-files.ts';
import { sharedObjectNameProblem, SoPathPattern } from './shared-object-names.ts';
import { OutgoingSoMessage } from './shared-object-outgoing.ts';
import { firstVersion, retireVersion } from './shared-object-lives.ts';
import { SharedObjectState, type QueuedRequest, type SharedObjectOwner, type SharedObjectSubscriber, type SyncEntry } from './shared-object-state.ts';
import { OBJECT_OVERHEAD_BYTES, SLOT_OVERHEAD_BYTES, SharedObjectBudget, type SlotCost, type SoLimits, type SoRefusal } from './shared-object-budget.ts';


export const SoStatusCode = {
  BadPersistence: 'SharedObject.BadPersistence',
  NoReadAccess: 'SharedObject.NoReadAccess',
  NoWriteAccess: 'SharedObject.NoWriteAccess',
  ObjectCreationFailed: 'SharedObject.ObjectCreationFailed',
} as const;

export interface SharedObjectStoreOptions {
  /**
   * This application's folder of persistent SOs; files go to <appDataDir>/<instance>/ (the server
   * picks it: <app folder>/sharedobjects, FMS's layout, or <dataDir>/sharedobjects/<app>).
   */
  appDataDir: string;
  instance: string;
  log: Logger;
  /** Longest a change waits before it is written. Default 100. */
  flushDelayMs?: number;
  /** sharedObjects.maxSlotBytes / maxObjectBytes / maxInstanceBytes (defaults: DEFAULT_SO_LIMITS). */
  limits?: SoLimits;
  /**
   * The script would hold `bytes` more: false refuses it (the owner shuts the instance down when
   * its host memory budget is exceeded). Default: always admitted.
   */
  admitScriptBytes?: (bytes: number) => boolean;
}

/** The config defaults (runtime/config.ts sharedObjects.*), for stores built without a config. */
export const DEFAULT_SO_LIMITS: SoLimits = { maxSlotBytes: 4 * 1024 * 1024, maxObjectBytes: 16 * 1024 * 1024, maxInstanceBytes: 64 * 1024 * 1024 };

/** The config key each refusal is logged under. */
const REFUSAL_BUDGET: Record<SoRefusal, string> = {
  slot: 'sharedObjects.maxSlotBytes',
  object: 'sharedObjects.maxObjectBytes',
  instance: 'sharedObjects.maxInstanceBytes',
  hostMemory: 'scripts.hostMemoryMb',
};

/** Events per message in a sync; large SOs are synced in several messages. */
export const SYNC_BATCH_EVENTS = 512;
/** Client requests kept while the script holds lock(); beyond this they are refused (NoWriteAccess). */
export const MAX_QUEUED_REQUESTS = 1000;

export class SharedObjectStore implements SharedObjectOwner {
  readonly dir: string;
  /** Client changes on SOs the script holds: the lead routes these to so.onSync. */
  onSync: ((name: string, list: SyncEntry[]) => void) | null = null;
  /** Client so.send() on SOs the script holds (server-side handlerName, P2). */
  onSend: ((name: string, handler: string, args: unknown[]) => void) | null = null;
  readonly #log: Logger;
  readonly #refusals: RateLimitedLog;
  readonly #files: SharedObjectFiles;
  readonly #budget: SharedObjectBudget;
  readonly #objects = new Map<string, SharedObjectState>();
  #syncScheduled: NodeJS.Immediate | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: SharedObjectStoreOptions) {
    const problem = sharedObjectNameProblem(options.instance);
    if (problem) throw new Error(`invalid instance path for shared objects (${problem}): ${JSON.stringify(options.instance)}`);
    this.dir = path.resolve(options.appDataDir, options.instance);
    this.#log = options.log;
    this.#refusals = new RateLimitedLog(options.log);
    const limits = options.limits ?? DEFAULT_SO_LIMITS;
    this.#budget = new SharedObjectBudget(limits, options.admitScriptBytes);
    this.#files = new SharedObjectFiles({ dir: this.dir, log: options.log, flushDelayMs: options.flushDelayMs ?? 100, maxObjectBytes: limits.maxObjectBytes });
  }

  /** Bytes of shared-object data the script holds (slots it wrote last, SOs it opened): part of its host memory. */
  get scriptBytes(): number {
    return this.#budget.scriptBytes;
  }

  /** The same for clients: what sharedObjects.maxInstanceBytes bounds. */
  get clientBytes(): number {
    return this.#budget.clientBytes;
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Loaded SOs (admin view and tests). */
  get objects(): ReadonlyMap<string, SharedObjectState> {
    return this.#objects;
  }

  /** File of a persistent SO; null when the name is not acceptable. */
  fileOf(name: string): string | null {
    return this.#files.fileOf(name);
  }

  // ---- client side ---------------------------------------------------------------------------

  /** Routes every event of a decoded client message. */
  handleMessage(sub: SharedObjectSubscriber, msg: SharedObjectMessageModel): void {
    for (const event of msg.events) {
      switch (event.type) {
        case 'use':
          this.use(sub, msg.name, msg.persistent, msg.version);
          break;
        case 'release':
          this.release(sub, msg.name);
          break;
        case 'requestChange':
          this.requestChange(sub, msg.name, event.name, event.value);
          break;
        case 'requestRemove':
          this.requestRemove(sub, msg.name, event.name);
          break;
        case 'sendMessage':
          this.sendMessage(sub, msg.name, event.handler, event.args);
          break;
        default:
          this.#log.debug({ so: msg.name, event: event.type }, 'shared object event from client ignored');
      }
    }
  }

  /**
   * Subscribes; answers UseSuccess + a resync, or a status when refused. `knownVersion` is the
   * version the client says it has (its Use message): within resyncDepth it gets only the slots
   * changed or deleted since (no Clear); otherwise Clear and every slot.
   */
  use(sub: SharedObjectSubscriber, name: string, persistent: boolean, knownVersion = 0): SharedObjectState | null {
    if (this.closed) return null;
    const problem = sharedObjectNameProblem(name);
    if (problem) {
      this.#log.warn({ so: name, client: sub.id, problem }, 'shared object name refused');
      this.#status(sub, name, persistent, SoStatusCode.ObjectCreationFailed);
      return null;
    }
    if (!hasAccess(sub.readAccess, name)) {
      this.#status(sub, name, persistent, SoStatusCode.NoReadAccess);
      return null;
    }
    const state = this.#open(name, persistent, false);
    if (state === 'refused') {
      this.#status(sub, name, persistent, SoStatusCode.ObjectCreationFailed);
      return null;
    }
    if (!state) {
      this.#status(sub, name, persistent, SoStatusCode.BadPersistence);
      return null;
    }
    if (state.ready) {
      // Its file is loading: answered once it is in (unless the client left meanwhile).
      state.waitingUses.set(sub.id, sub);
      void state.ready.then((ok) => {
        if (state.waitingUses.get(sub.id) !== sub) return;
        state.waitingUses.delete(sub.id);
        if (ok) this.#subscribe(sub, state, knownVersion);
        else this.#status(sub, name, persistent, SoStatusCode.ObjectCreationFailed);
      });
      return state;
    }
    return this.#subscribe(sub, state, knownVersion);
  }

  #subscribe(sub: SharedObjectSubscriber, state: SharedObjectState, knownVersion: number): SharedObjectState {
    this.#syncState(state); // existing subscribers first hear what the script changed so far
    state.subscribers.set(sub.id, sub);
    const delta = state.history.delta(knownVersion, state.version, state.data);
    const resync: SoEvent[] = delta ?? [{ type: 'clear' }, ...[...state.data].map(([slot, value]): SoEvent => ({ type: 'change', name: slot, value }))];
    this.#deliver(sub, state, [{ type: 'useSuccess' }, ...resync]);
    return state;
  }

  release(sub: SharedObjectSubscriber, name: string): void {
    const state = this.#objects.get(name);
    state?.waitingUses.delete(sub.id);
    if (!state || !state.subscribers.delete(sub.id)) return;
    this.maybeUnload(state);
  }

  /** A client disconnected: release everything it used. */
  releaseAll(sub: SharedObjectSubscriber): void {
    for (const state of [...this.#objects.values()]) {
      state.waitingUses.delete(sub.id);
      if (state.subscribers.delete(sub.id)) this.maybeUnload(state);
    }
  }

  requestChange(sub: SharedObjectSubscriber, name: string, slot: string, value: unknown): void {
    this.#clientRequest(sub, name, { sub, slot, remove: false, value });
  }

  requestRemove(sub: SharedObjectSubscriber, name: string, slot: string): void {
    this.#clientRequest(sub, name, { sub, slot, remove: true, value: undefined });
  }

  /** A client's so.send(): to every subscriber, the sender included. */
  sendMessage(sub: SharedObjectSubscriber, name: string, handler: string, args: unknown[]): void {
    const state = this.#subscribed(sub, name);
    if (!state) return;
    this.broadcast(state, [{ type: 'sendMessage', handler, args }]);
    if (state.heldByScript && this.onSend) this.#hook(() => this.onSend!(name, handler, args));
  }

  #clientRequest(sub: SharedObjectSubscriber, name: string, request: QueuedRequest): void {
    const state = this.#subscribed(sub, name);
    if (!state) return;
    if (!hasAccess(sub.writeAccess, name)) return this.#refuse(state, request);
    if (state.lockCount > 0) {
      if (state.queued.length < MAX_QUEUED_REQUESTS) state.queued.push(request);
      else this.#refuse(state, request); // a client flooding a locked SO
      return;
    }
    this.#apply(state, request);
  }

  /**
   * NoWriteAccess, then the slot's current value: the client resets it and reports "reject". Also
   * the answer to a change over a budget: FMS has no status of its own for that, and "reject" is
   * what a Flash client's onSync knows for a change the server did not apply.
   */
  #refuse(state: SharedObjectState, { sub, slot }: QueuedRequest): void {
    this.#deliver(sub, state, [{ type: 'status', code: SoStatusCode.NoWriteAccess, level: 'error' }, this.#current(state, slot)]);
  }

  #apply(state: SharedObjectState, request: QueuedRequest): void {
    const { sub, slot, remove, value } = request;
    const oldValue = state.data.get(slot);
    if (remove && !state.data.has(slot)) {
      this.#deliver(sub, state, [{ type: 'success', name: slot }]);
      return;
    }
    const cost = this.#admit(state, slot, remove ? undefined : value, false, sub.id);
    if (cost === false) return this.#refuse(state, request);
    this.#syncState(state); // the script's earlier changes go out first, in order
    state.writeSlot(slot, remove ? undefined : value, cost);
    this.changed(state, false);
    this.#deliver(sub, state, [{ type: 'success', name: slot }]);
    const event: SoEvent = remove ? { type: 'remove', name: slot } : { type: 'change', name: slot, value };
    this.#fanOut(state, [event], sub);
    if (state.heldByScript && this.onSync) {
      const list: SyncEntry[] = [{ code: remove ? 'delete' : 'change', name: slot, oldValue }];
      this.#hook(() => this.onSync!(state.name, list));
    }
  }

  #subscribed(sub: SharedObjectSubscriber, name: string): SharedObjectState | null {
    const state = this.#objects.get(name);
    if (state && state.subscribers.get(sub.id) === sub) return state;
    this.#log.debug({ so: name, client: sub.id }, 'shared object request without use ignored');
    return null;
  }

  /** The slot as the server has it: what a refused or dropped request is answered with. */
  #current(state: SharedObjectState, slot: string): SoEvent {
    return state.data.has(slot) ? { type: 'change', name: slot, value: state.data.get(slot) } : { type: 'remove', name: slot };
  }

  #status(sub: SharedObjectSubscriber, name: string, persistent: boolean, code: string): void {
    this.#send(sub, new OutgoingSoMessage({ name, version: 0, persistent, events: [{ type: 'status', code, level: 'error' }] }));
  }

  // ---- script side ---------------------------------------------------------------------------

  /**
   * SharedObject.get(name, persistent), resolved once a persistent SO's file is loaded: null when
   * the name is refused, persistence differs, or it does not fit the script's budget.
   */
  async open(name: string, persistent: boolean): Promise<SharedObjectState | null> {
    const state = this.get(name, persistent);
    if (state?.ready && !(await state.ready)) return null;
    return state;
  }

  /**
   * SharedObject.get(name, persistent) at once: null when the name is refused or persistence
   * differs. A persistent SO whose file is still loading has `ready` set (open() waits for it).
   */
  get(name: string, persistent: boolean): SharedObjectState | null {
    if (this.closed) return null;
    const problem = sharedObjectNameProblem(name);
    if (problem) {
      this.#log.warn({ so: name, problem }, 'shared object name refused');
      return null;
    }
    const state = this.#open(name, persistent, true);
    if (state === 'refused') return null;
    if (state) state.heldByScript = true;
    return state;
  }

  /**
   * application.clearSharedObjects(soPath): every matching SO that is loaded (persistent or not)
   * loses all its slots (subscribers get Clear) and its file; matching files of SOs not loaded are
   * deleted, before this returns. True only when everything matched was cleared; false when a
   * file could not be deleted, the path is invalid, or a path without wildcards matched nothing.
   */
  clearSharedObjects(soPath: string): boolean {
    if (this.closed) return false;
    const pattern = SoPathPattern.parse(soPath);
    if (!pattern) {
      this.#log.warn({ soPath }, 'clearSharedObjects: not a shared object path');
      return false;
    }
    let matched = 0;
    let ok = true;
    for (const state of [...this.#objects.values()]) {
      if (!pattern.matches(state.name)) continue;
      matched++;
      state.clear(); // queues the file's removal behind any write in flight (which would bring it back)
      // ...and removes it now too, so that `true` means the file is gone when the script reads it.
      if (state.persistent && !this.#files.removeStored(state.name)) ok = false;
    }
    for (const name of this.#files.storedNames()) {
      if (this.#objects.has(name) || !pattern.matches(name)) continue;
      matched++;
      if (!this.#files.removeStored(name)) ok = false;
    }
    this.#log.info({ soPath, matched, ok }, 'shared objects cleared');
    return ok && (matched > 0 || pattern.wildcard);
  }

  /** Sends the script's batched changes now (the lead may call this after each script event). */
  syncPending(): void {
    if (this.#syncScheduled) clearImmediate(this.#syncScheduled);
    this.#syncScheduled = null;
    for (const state of this.#objects.values()) this.#syncState(state);
  }

  // ---- internals shared with SharedObjectState -----------------------------------------------

  admit(state: SharedObjectState, slot: string, value: unknown, byScript: boolean): SlotCost | null | false {
    return this.#admit(state, slot, value, byScript, null);
  }

  charge(old: SlotCost | undefined, next: SlotCost | undefined): void {
    this.#budget.charge(old, next);
  }

  cleared(state: SharedObjectState): void {
    this.#budget.objectReleased(state, true);
  }

  /** After any data change: persist later; `fromScript` changes also wait for the next sync. */
  changed(state: SharedObjectState, fromScript: boolean): void {
    if (fromScript || state.pendingClear) this.#scheduleSync();
    if (state.persistent && !this.closed) this.#files.scheduleWrite(state);
  }

  unlocked(state: SharedObjectState): void {
    this.#syncState(state);
    const queued = state.queued.splice(0);
    for (const request of queued) {
      if (state.subscribers.get(request.sub.id) === request.sub) this.#apply(state, request);
    }
  }

  /** so.send() from the script: after the script's earlier changes (unless locked). */
  scriptSend(state: SharedObjectState, handler: string, args: unknown[]): void {
    this.#syncState(state);
    this.broadcast(state, [{ type: 'sendMessage', handler, args }]);
  }

  broadcast(state: SharedObjectState, events: SoEvent[]): void {
    this.#fanOut(state, events, null);
  }

  /** Drops an SO nobody uses; a persistent one stays until its last write is done. */
  maybeUnload(state: SharedObjectState): void {
    if (state.subscribers.size > 0 || state.heldByScript) return;
    state.queued.length = 0;
    state.lockCount = 0;
    if (!state.persistent) return this.#drop(state);
    void this.write(state).then(() => {
      if (state.subscribers.size === 0 && !state.heldByScript && !state.dirty && this.#objects.get(state.name) === state) this.#drop(state);
    });
  }

  /**
   * Writes a dirty persistent SO (queued behind its earlier file operations); resolves true once it
   * is durable (so.flush() answers with this), false when the write failed (logged).
   */
  write(state: SharedObjectState): Promise<boolean> {
    return this.#files.write(state);
  }

  removeFile(state: SharedObjectState): void {
    this.#files.removeFile(state);
  }

  /** Writes every dirty persistent SO and waits for all file operations. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#syncScheduled) clearImmediate(this.#syncScheduled);
    this.#syncScheduled = null;
    const states = [...this.#objects.values()];
    for (const state of states) retireVersion(state.version);
    this.#closing = Promise.all(states.map((state) => this.write(state))).then(() => {
      for (const state of states) if (state.ready === null) this.#budget.objectReleased(state);
    });
    this.#objects.clear();
    return this.#closing;
  }

  // ---- private ---------------------------------------------------------------------------------

  /**
   * The SO of that name, opened if needed; null when its persistence differs, 'refused' when a new
   * one does not fit the opener's budget. A persistent SO with a file is returned at once with
   * `ready` set while the file loads (#load).
   */
  #open(name: string, persistent: boolean, byScript: boolean): SharedObjectState | null | 'refused' {
    const existing = this.#objects.get(name);
    if (existing) return existing.persistent === persistent ? existing : null;
    const state = new SharedObjectState(this, name, persistent);
    state.openedByScript = byScript;
    if (persistent && this.#files.hasFile(name)) {
      this.#objects.set(name, state);
      state.ready = this.#load(state);
      return state;
    }
    if (!this.#budget.admitObject(byScript)) {
      this.#refused(byScript ? 'hostMemory' : 'instance', { so: name }, 'shared object not opened: over budget');
      return 'refused';
    }
    this.#budget.objectOpened(state);
    state.startAt(firstVersion()); // a new life (shared-object-lives.ts)
    this.#objects.set(name, state);
    return state;
  }

  /**
   * Fills a persistent SO from its file (read and parsed off the event loop). False, and the SO is
   * forgotten, when it does not fit the opener's budget (what it loads included) or the store closed.
   */
  async #load(state: SharedObjectState): Promise<boolean> {
    const saved = await this.#files.load(state);
    if (this.closed || this.#objects.get(state.name) !== state) return false;
    const cleared = state.pendingClear; // clearSharedObjects() while it loaded: the file's slots are gone
    const costs = cleared || !saved ? [] : saved.slots.map(([slot, value, stored]) => {
      const cost: SlotCost = stored ? { bytes: stored.length + SLOT_OVERHEAD_BYTES, byScript: state.openedByScript, encoded: stored } : this.#budget.loaded(slot, value, state.openedByScript);
      return [slot, value, cost] as const;
    });
    const bytes = costs.reduce((sum, [, , cost]) => sum + cost.bytes, 0);
    if (!this.#budget.admitObject(state.openedByScript, OBJECT_OVERHEAD_BYTES + bytes)) {
      this.#objects.delete(state.name);
      state.ready = null;
      this.#refused(state.openedByScript ? 'hostMemory' : 'instance', { so: state.name, loadedBytes: bytes }, 'shared object not opened: over budget');
      return false;
    }
    this.#budget.objectOpened(state);
    for (const [slot, value, cost] of costs) {
      state.data.set(slot, value);
      state.slotCosts.set(slot, cost);
      state.bytes += cost.bytes;
      this.#budget.charge(undefined, cost);
    }
    if (saved && !cleared) {
      state.version = saved.version;
      state.history.reset(saved.version); // which slot changed when is not in the file
    }
    // A new life (shared-object-lives.ts); one cleared while loading also starts above the file's.
    if (cleared) state.startAt(Math.max(firstVersion(), state.version, (saved?.version ?? 0) + 1));
    else if (state.version === 0 && state.data.size === 0) state.startAt(firstVersion());
    state.ready = null;
    return true;
  }

  /** Forgets an SO nobody uses any more (its bytes are freed). */
  #drop(state: SharedObjectState): void {
    this.#objects.delete(state.name);
    retireVersion(state.version);
    this.#budget.objectReleased(state);
  }

  /** The cost of a change, null for a deletion, false (logged, rate-limited) when a budget refuses it. */
  #admit(state: SharedObjectState, slot: string, value: unknown, byScript: boolean, client: string | null): SlotCost | null | false {
    const remove = value === null || value === undefined;
    const measured = remove ? null : this.#budget.measure(state, slot, value, byScript);
    const refusal: SoRefusal | null = typeof measured === 'string' ? measured : this.#budget.refusal(state, slot, measured, byScript);
    if (refusal === null) return measured as SlotCost | null;
    const fields = { so: state.name, slot: slot.slice(0, 100), ...(client ? { client } : { byScript: true }), soBytes: state.bytes };
    this.#refused(refusal, fields, byScript ? 'shared object change by the script refused: over budget' : 'shared object change refused: over budget');
    return false;
  }

  #refused(refusal: SoRefusal, fields: Record<string, unknown>, message: string): void {
    // Over the host memory budget the owner shuts the instance down and logs that itself.
    if (refusal === 'hostMemory') return;
    this.#refusals.exceeded(REFUSAL_BUDGET[refusal], { code: ErrorCode.SharedObjectTooLarge, ...fields }, message);
  }

  #scheduleSync(): void {
    if (this.#syncScheduled || this.closed) return;
    this.#syncScheduled = setImmediate(() => {
      this.#syncScheduled = null;
      this.syncPending();
    });
  }

  #syncState(state: SharedObjectState): void {
    if (state.lockCount > 0 || (!state.pendingClear && state.pendingSlots.size === 0)) return;
    const events: SoEvent[] = state.pendingClear ? [{ type: 'clear' }] : [];
    for (const slot of state.pendingSlots) events.push(this.#current(state, slot));
    state.pendingClear = false;
    state.pendingSlots.clear();
    this.broadcast(state, events);
  }

  /** Sends `events` to one subscriber, in messages of at most SYNC_BATCH_EVENTS events. */
  #deliver(sub: SharedObjectSubscriber, state: SharedObjectState, events: SoEvent[]): void {
    for (const message of this.#messages(state, events)) this.#send(sub, message);
  }

  /** The same `events` to every subscriber but `except`: each message is encoded once for all of them. */
  #fanOut(state: SharedObjectState, events: SoEvent[], except: SharedObjectSubscriber | null): void {
    const messages = this.#messages(state, events);
    for (const sub of state.subscribers.values()) {
      if (sub === except) continue;
      for (const message of messages) this.#send(sub, message);
    }
  }

  #messages(state: SharedObjectState, events: SoEvent[]): OutgoingSoMessage[] {
    const messages: OutgoingSoMessage[] = [];
    for (let i = 0; i < events.length; i += SYNC_BATCH_EVENTS) {
      messages.push(new OutgoingSoMessage({ name: state.name, version: state.version, persistent: state.persistent, events: events.slice(i, i + SYNC_BATCH_EVENTS) }));
    }
    return messages;
  }

  #send(sub: SharedObjectSubscriber, message: OutgoingSoMessage): void {
    try {
      sub.send(message.model, message);
    } catch (error) {
      this.#log.error({ so: message.model.name, client: sub.id, err: errorFields(error) }, 'shared object subscriber failed');
    }
  }

  #hook(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error({ err: errorFields(error) }, 'shared object hook failed');
    }
  }
}

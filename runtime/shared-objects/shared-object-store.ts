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
 */
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { SharedObjectMessageModel, SoEvent } from '../rtmp/shared-object-codec.ts';
import { hasAccess } from '../common/access-list.ts';
import { errorFields, SharedObjectFiles } from './shared-object-files.ts';
import { sharedObjectNameProblem, SoPathPattern } from './shared-object-names.ts';
import { OutgoingSoMessage } from './shared-object-outgoing.ts';
import { firstVersion, retireVersion } from './shared-object-lives.ts';
import { SharedObjectState, type QueuedRequest, type SharedObjectOwner, type SharedObjectSubscriber, type SyncEntry } from './shared-object-state.ts';


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
  /** Larger files are not loaded (moved aside as corrupt). Default 64 MiB. */
  maxFileBytes?: number;
}

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
  readonly #files: SharedObjectFiles;
  readonly #objects = new Map<string, SharedObjectState>();
  #syncScheduled: NodeJS.Immediate | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: SharedObjectStoreOptions) {
    const problem = sharedObjectNameProblem(options.instance);
    if (problem) throw new Error(`invalid instance path for shared objects (${problem}): ${JSON.stringify(options.instance)}`);
    this.dir = path.resolve(options.appDataDir, options.instance);
    this.#log = options.log;
    this.#files = new SharedObjectFiles({
      dir: this.dir,
      log: options.log,
      flushDelayMs: options.flushDelayMs ?? 100,
      maxFileBytes: options.maxFileBytes ?? 64 * 1024 * 1024,
    });
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
    const state = this.#open(name, persistent);
    if (!state) {
      this.#status(sub, name, persistent, SoStatusCode.BadPersistence);
      return null;
    }
    this.#syncState(state); // existing subscribers first hear what the script changed so far
    state.subscribers.set(sub.id, sub);
    const delta = state.history.delta(knownVersion, state.version, state.data);
    const resync: SoEvent[] = delta ?? [{ type: 'clear' }, ...[...state.data].map(([slot, value]): SoEvent => ({ type: 'change', name: slot, value }))];
    this.#deliver(sub, state, [{ type: 'useSuccess' }, ...resync]);
    return state;
  }

  release(sub: SharedObjectSubscriber, name: string): void {
    const state = this.#objects.get(name);
    if (!state || !state.subscribers.delete(sub.id)) return;
    this.maybeUnload(state);
  }

  /** A client disconnected: release everything it used. */
  releaseAll(sub: SharedObjectSubscriber): void {
    for (const state of [...this.#objects.values()]) {
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

  /** NoWriteAccess, then the slot's current value: the client resets it and reports "reject". */
  #refuse(state: SharedObjectState, { sub, slot }: QueuedRequest): void {
    this.#deliver(sub, state, [{ type: 'status', code: SoStatusCode.NoWriteAccess, level: 'error' }, this.#current(state, slot)]);
  }

  #apply(state: SharedObjectState, { sub, slot, remove, value }: QueuedRequest): void {
    const oldValue = state.data.get(slot);
    if (remove && !state.data.has(slot)) {
      this.#deliver(sub, state, [{ type: 'success', name: slot }]);
      return;
    }
    this.#syncState(state); // the script's earlier changes go out first, in order
    state.writeSlot(slot, remove ? undefined : value);
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

  /** SharedObject.get(name, persistent): null when the name is refused or persistence differs. */
  get(name: string, persistent: boolean): SharedObjectState | null {
    if (this.closed) return null;
    const problem = sharedObjectNameProblem(name);
    if (problem) {
      this.#log.warn({ so: name, problem }, 'shared object name refused');
      return null;
    }
    const state = this.#open(name, persistent);
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
    if (!state.persistent) {
      this.#objects.delete(state.name);
      retireVersion(state.version);
      return;
    }
    void this.write(state).then(() => {
      if (state.subscribers.size === 0 && !state.heldByScript && !state.dirty && this.#objects.get(state.name) === state) {
        this.#objects.delete(state.name);
        retireVersion(state.version);
      }
    });
  }

  /** Writes a dirty persistent SO (queued behind its earlier file operations). */
  write(state: SharedObjectState): Promise<void> {
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
    this.#closing = Promise.all(states.map((state) => this.write(state))).then(() => undefined);
    this.#objects.clear();
    return this.#closing;
  }

  // ---- private ---------------------------------------------------------------------------------

  #open(name: string, persistent: boolean): SharedObjectState | null {
    const existing = this.#objects.get(name);
    if (existing) return existing.persistent === persistent ? existing : null;
    const state = new SharedObjectState(this, name, persistent);
    if (persistent) this.#files.load(state);
    if (state.version === 0 && state.data.size === 0) state.startAt(firstVersion()); // a new life (shared-object-lives.ts)
    this.#objects.set(name, state);
    return state;
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

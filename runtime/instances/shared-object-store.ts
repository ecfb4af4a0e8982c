/**
 * Remote shared objects of one application instance (fms-api.md §7): the slots, their subscribers,
 * the FMS sync rules and persistence. It knows nothing about sockets: a subscriber is anything with
 * an id, access lists and a `send(message)`; the session encodes the message for its connection.
 *
 * Sync rules (what Flash clients rely on):
 * - use: UseSuccess, Clear, then one Change per slot (a full resync; we keep no delta history).
 * - a client change: applied at once, version+1, Success to the requester ("success" in its
 *   onSync), Change to every other subscriber; the script's onSync gets {code, name, oldValue}.
 * - a script change (setProperty/clear): batched; sent as one message per SO on the next turn, at
 *   `syncPending()`, or at the final unlock(). Scripts never see their own changes in onSync.
 * - send: SendMessage to every subscriber, the sender included (Flash's SharedObject.send docs).
 * - while the script holds lock(), client requests wait and are applied at the final unlock().
 * - access: readAccess for use, writeAccess for change/remove (path = SO name); a denied write
 *   gets NoWriteAccess plus the slot's current value, so the client reports "reject".
 *
 * Persistence: `<dataDir>/<app>/<instance>/<name>.fso.json`, written atomically (temp file, fsync,
 * rename) at most `flushDelayMs` after a change, on flush(), on last release and on close().
 * A file that does not parse is moved aside to `<file>.corrupt-<ms>` (one log line).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { SharedObjectMessageModel, SoEvent } from '../rtmp/shared-object-codec.ts';
import {
  AmfVector,
  AmfXml,
  ecmaArray,
  encodableEntries,
  getClassName,
  isEcmaArray,
  setProperty,
  typedObject,
  unbox,
  type AmfVectorKind,
} from '../rtmp/amf-values.ts';
import { hasAccess } from './access-list.ts';
import { OutgoingSoMessage } from './shared-object-outgoing.ts';

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

export const SoStatusCode = {
  BadPersistence: 'SharedObject.BadPersistence',
  NoReadAccess: 'SharedObject.NoReadAccess',
  NoWriteAccess: 'SharedObject.NoWriteAccess',
  ObjectCreationFailed: 'SharedObject.ObjectCreationFailed',
} as const;

export interface SharedObjectStoreOptions {
  /** Root of persistent SOs; files go to <dataDir>/<app>/<instance>/. */
  dataDir: string;
  app: string;
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
const MAX_NAME_BYTES = 1024;
const MAX_SEGMENT_BYTES = 200;

type QueuedRequest = { sub: SharedObjectSubscriber; slot: string; remove: boolean; value: unknown };

/** Why `name` cannot be an SO name (it becomes a path under the data dir), or null when fine. */
export function sharedObjectNameProblem(name: string): string | null {
  if (name === '') return 'empty name';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return 'name too long';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'control character in name';
  if (name.includes('\\')) return 'backslash in name';
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return 'absolute name';
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') return 'empty or dot path segment';
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) return 'path segment too long';
  }
  return null;
}

/**
 * One shared object. The methods are the server-side SharedObject API (fms-api §7) that host-api
 * maps onto; client traffic goes through SharedObjectStore.
 */
export class SharedObjectState {
  readonly name: string;
  readonly persistent: boolean;
  version = 0;
  readonly data = new Map<string, unknown>();
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
  /** Serialises this SO's file operations; never rejects. */
  io: Promise<void> = Promise.resolve();
  flushTimer: NodeJS.Timeout | null = null;
  /** Resolved when the write the flush timer will make is done. */
  flushDone: { promise: Promise<void>; resolve: () => void } | null = null;
  readonly #store: SharedObjectStore;

  constructor(store: SharedObjectStore, name: string, persistent: boolean) {
    this.#store = store;
    this.name = name;
    this.persistent = persistent;
  }

  getProperty(slot: string): unknown {
    return this.data.get(slot);
  }

  /** null (or undefined) deletes the slot. Subscribers get the change at the next sync. */
  setProperty(slot: string, value: unknown): void {
    if (value === null || value === undefined) {
      if (!this.data.delete(slot)) return;
    } else {
      this.data.set(slot, value);
    }
    this.version++;
    this.pendingSlots.add(slot);
    this.#store.changed(this, true);
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

  /** Persistent SOs only: write now (asynchronously). */
  flush(): boolean {
    if (!this.persistent) return false;
    void this.#store.write(this);
    return true;
  }

  /** Deletes every slot (and a persistent SO's file); subscribers get Clear. */
  clear(): boolean {
    this.data.clear();
    this.pendingSlots.clear();
    this.pendingClear = true;
    this.version++;
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
  settled(): Promise<void> {
    return this.flushDone?.promise ?? this.io;
  }

  /** We keep no deletion history, so there is nothing to purge. */
  purge(_version: number): boolean {
    return true;
  }
}

export class SharedObjectStore {
  readonly dir: string;
  /** Client changes on SOs the script holds: the lead routes these to so.onSync. */
  onSync: ((name: string, list: SyncEntry[]) => void) | null = null;
  /** Client so.send() on SOs the script holds (server-side handlerName, P2). */
  onSend: ((name: string, handler: string, args: unknown[]) => void) | null = null;
  readonly #log: Logger;
  readonly #flushDelayMs: number;
  readonly #maxFileBytes: number;
  readonly #objects = new Map<string, SharedObjectState>();
  #syncScheduled: NodeJS.Immediate | null = null;
  #closing: Promise<void> | null = null;
  #tmpCounter = 0;

  constructor(options: SharedObjectStoreOptions) {
    for (const part of [options.app, options.instance]) {
      const problem = sharedObjectNameProblem(part);
      if (problem) throw new Error(`invalid app/instance path for shared objects (${problem}): ${JSON.stringify(part)}`);
    }
    this.dir = path.resolve(options.dataDir, options.app, options.instance);
    this.#log = options.log;
    this.#flushDelayMs = options.flushDelayMs ?? 100;
    this.#maxFileBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
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
    if (sharedObjectNameProblem(name)) return null;
    const file = path.resolve(this.dir, ...name.split('/')) + '.fso.json';
    return file.startsWith(this.dir + path.sep) ? file : null;
  }

  // ---- client side ---------------------------------------------------------------------------

  /** Routes every event of a decoded client message. */
  handleMessage(sub: SharedObjectSubscriber, msg: SharedObjectMessageModel): void {
    for (const event of msg.events) {
      switch (event.type) {
        case 'use':
          this.use(sub, msg.name, msg.persistent);
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

  /** Subscribes; answers UseSuccess + full sync, or a status when refused. */
  use(sub: SharedObjectSubscriber, name: string, persistent: boolean): SharedObjectState | null {
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
    const slots: SoEvent[] = [...state.data].map(([slot, value]) => ({ type: 'change', name: slot, value }));
    this.#deliver(sub, state, [{ type: 'useSuccess' }, { type: 'clear' }, ...slots]);
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
    if (remove) state.data.delete(slot);
    else state.data.set(slot, value);
    state.version++;
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
    if (!state.persistent || this.closed) return;
    state.dirty = true;
    if (!state.flushTimer) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      state.flushDone = { promise, resolve };
      state.flushTimer = setTimeout(() => void this.write(state), this.#flushDelayMs);
      state.flushTimer.unref();
    }
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
      return;
    }
    void this.write(state).then(() => {
      if (state.subscribers.size === 0 && !state.heldByScript && !state.dirty && this.#objects.get(state.name) === state) {
        this.#objects.delete(state.name);
      }
    });
  }

  /** Writes a dirty persistent SO (queued behind its earlier file operations). */
  write(state: SharedObjectState): Promise<void> {
    this.#cancelFlushTimer(state);
    if (!state.persistent || !state.dirty) return state.io;
    const file = this.fileOf(state.name)!;
    const text = encodeSoFile(state.name, state.version, state.data);
    state.dirty = false;
    state.io = state.io.then(() =>
      this.#writeAtomic(file, text).catch((error: unknown) => {
        state.dirty = true; // the next change or flush tries again
        this.#log.error({ so: state.name, file, err: errorFields(error) }, 'shared object write failed');
      }),
    );
    return state.io;
  }

  removeFile(state: SharedObjectState): void {
    const file = this.fileOf(state.name)!;
    state.dirty = false;
    this.#cancelFlushTimer(state);
    state.io = state.io.then(() =>
      fsp.rm(file, { force: true }).catch((error: unknown) => {
        this.#log.error({ so: state.name, file, err: errorFields(error) }, 'shared object file removal failed');
      }),
    );
  }

  /** Writes every dirty persistent SO and waits for all file operations. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#syncScheduled) clearImmediate(this.#syncScheduled);
    this.#syncScheduled = null;
    const states = [...this.#objects.values()];
    this.#closing = Promise.all(states.map((state) => this.write(state))).then(() => undefined);
    this.#objects.clear();
    return this.#closing;
  }

  // ---- private ---------------------------------------------------------------------------------

  /** Stops the flush timer; whoever waits for it is released once the file work queued now is done. */
  #cancelFlushTimer(state: SharedObjectState): void {
    if (state.flushTimer) clearTimeout(state.flushTimer);
    state.flushTimer = null;
    const done = state.flushDone;
    state.flushDone = null;
    if (done) queueMicrotask(() => void state.io.then(done.resolve));
  }

  #open(name: string, persistent: boolean): SharedObjectState | null {
    const existing = this.#objects.get(name);
    if (existing) return existing.persistent === persistent ? existing : null;
    const state = new SharedObjectState(this, name, persistent);
    if (persistent) this.#load(state);
    this.#objects.set(name, state);
    return state;
  }

  #load(state: SharedObjectState): void {
    const file = this.fileOf(state.name)!;
    let text: string;
    try {
      if (fs.statSync(file).size > this.#maxFileBytes) return this.#quarantine(state, file, 'file too large');
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.#log.error({ so: state.name, file, err: errorFields(error) }, 'shared object file unreadable; starting empty');
      return;
    }
    try {
      const saved = decodeSoFile(text);
      state.version = saved.version;
      for (const [slot, value] of saved.slots) state.data.set(slot, value);
    } catch (error) {
      this.#quarantine(state, file, (error as Error).message);
    }
  }

  #quarantine(state: SharedObjectState, file: string, reason: string): void {
    const movedTo = `${file}.corrupt-${Date.now()}`;
    try {
      fs.renameSync(file, movedTo);
      this.#log.warn({ so: state.name, file, movedTo, reason }, 'corrupt shared object file moved aside; starting empty');
    } catch (error) {
      this.#log.error({ so: state.name, file, reason, err: errorFields(error) }, 'corrupt shared object file could not be moved aside; starting empty');
    }
  }

  async #writeAtomic(file: string, text: string): Promise<void> {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${++this.#tmpCounter}`;
    try {
      const handle = await fsp.open(tmp, 'w', 0o644);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(tmp, file);
    } catch (error) {
      await fsp.rm(tmp, { force: true });
      throw error;
    }
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

function errorFields(error: unknown): { message: string; code?: string } {
  const e = error as { message?: string; code?: string };
  return { message: e?.message ?? String(error), code: e?.code };
}

// ---- file format ---------------------------------------------------------------------------------
//
// JSON, so an operator can read and fix a file:
//   {"format":"fms-runtime.shared-object","formatVersion":1,"name":"chat","version":12,
//    "slots":[["topic","hello"],["since",{"$t":"date","v":1700000000000}]]}
// Strings, booleans, null, finite numbers and arrays are themselves; everything JSON lacks is an
// object tagged with "$t": undef, num (NaN, ±Infinity, -0), date, xml, bytes (base64), map,
// vector, array (with named properties), object (class alias, ECMA array, or a "$t" key of its
// own). Cycles and nesting beyond MAX_FILE_DEPTH are written as null.

const FILE_FORMAT = 'fms-runtime.shared-object';
const MAX_FILE_DEPTH = 256;
const VECTOR_KINDS: readonly AmfVectorKind[] = ['int', 'uint', 'double', 'object'];

export function encodeSoFile(name: string, version: number, data: ReadonlyMap<string, unknown>): string {
  const slots = [...data].map(([slot, value]) => [slot, toJson(value, 0, new Set())]);
  return JSON.stringify({ format: FILE_FORMAT, formatVersion: 1, name, version, slots });
}

/** Throws (any error) when the text is not a complete file of this format. */
export function decodeSoFile(text: string): { version: number; slots: Array<[string, unknown]> } {
  const file = JSON.parse(text) as Record<string, unknown>;
  if (file === null || typeof file !== 'object' || file['format'] !== FILE_FORMAT || file['formatVersion'] !== 1) {
    throw new Error('not a shared object file');
  }
  const version = file['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) throw new Error('bad version');
  if (!Array.isArray(file['slots'])) throw new Error('bad slots');
  const slots = (file['slots'] as unknown[]).map((entry): [string, unknown] => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') throw new Error('bad slot entry');
    return [entry[0], fromJson(entry[1], 0)];
  });
  return { version, slots };
}

function tag(t: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { $t: t, ...fields };
}

function toJson(value: unknown, depth: number, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : tag('num', { v: Object.is(value, -0) ? '-0' : String(value) });
    case 'undefined':
      return tag('undef', {});
    case 'object':
      break;
    default:
      return null; // bigint, function, symbol: not AMF values
  }
  if (value === null || depth > MAX_FILE_DEPTH || ancestors.has(value)) return null;
  const plain = unbox(value);
  if (plain !== value) return toJson(plain, depth, ancestors);
  if (value instanceof Date) return tag('date', { v: Number.isNaN(value.getTime()) ? null : value.getTime() });
  if (value instanceof AmfXml) return tag('xml', { kind: value.kind, v: value.xml });
  if (value instanceof Uint8Array) return tag('bytes', { v: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') });
  ancestors.add(value);
  try {
    const child = (v: unknown) => toJson(v, depth + 1, ancestors);
    if (value instanceof Map) return tag('map', { v: [...value].map(([k, v]) => [child(k), child(v)]) });
    if (value instanceof AmfVector) {
      return tag('vector', { kind: value.kind, fixed: value.fixed, typeName: value.typeName ?? null, v: value.items.map(child) });
    }
    if (Array.isArray(value)) {
      const items = Array.from(value, child);
      const named = encodableEntries(value, true);
      return named.length > 0 ? tag('array', { v: items, props: propsToJson(named, child) }) : items;
    }
    const props = propsToJson(encodableEntries(value), child);
    const className = getClassName(value);
    const ecma = isEcmaArray(value);
    if (className !== undefined || ecma || Object.hasOwn(value, '$t')) {
      return tag('object', { v: props, ...(className !== undefined ? { class: className } : {}), ...(ecma ? { ecma: true } : {}) });
    }
    return props;
  } finally {
    ancestors.delete(value);
  }
}

/** A prototype-less record, so a "__proto__" key stays an ordinary key in the JSON. */
function propsToJson(entries: Array<[string, unknown]>, child: (v: unknown) => unknown): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, v] of entries) out[key] = child(v);
  return out;
}

function fromJson(json: unknown, depth: number): unknown {
  if (json === null || typeof json === 'string' || typeof json === 'number' || typeof json === 'boolean') return json;
  if (depth > MAX_FILE_DEPTH) throw new Error('nesting too deep');
  const child = (v: unknown) => fromJson(v, depth + 1);
  if (Array.isArray(json)) return json.map(child);
  if (typeof json !== 'object') throw new Error('bad value');
  const obj = json as Record<string, unknown>;
  if (!Object.hasOwn(obj, '$t')) return propsFromJson(obj, child);
  const v = obj['v'];
  switch (obj['$t']) {
    case 'undef':
      return undefined;
    case 'num':
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity' || v === '-0') return Number(v);
      throw new Error('bad number tag');
    case 'date':
      if (v !== null && typeof v !== 'number') throw new Error('bad date tag');
      return new Date(v ?? Number.NaN);
    case 'xml':
      if (typeof v !== 'string' || (obj['kind'] !== 'xml' && obj['kind'] !== 'xmldoc')) throw new Error('bad xml tag');
      return new AmfXml(v, obj['kind']);
    case 'bytes':
      if (typeof v !== 'string') throw new Error('bad bytes tag');
      return Buffer.from(v, 'base64');
    case 'map':
      if (!Array.isArray(v)) throw new Error('bad map tag');
      return new Map(v.map((pair): [unknown, unknown] => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new Error('bad map entry');
        return [child(pair[0]), child(pair[1])];
      }));
    case 'vector': {
      const kind = obj['kind'] as AmfVectorKind;
      if (!VECTOR_KINDS.includes(kind) || !Array.isArray(v)) throw new Error('bad vector tag');
      const typeName = typeof obj['typeName'] === 'string' ? obj['typeName'] : undefined;
      return new AmfVector(kind, v.map(child), obj['fixed'] === true, typeName);
    }
    case 'array': {
      if (!Array.isArray(v) || !isRecord(obj['props'])) throw new Error('bad array tag');
      const arr = v.map(child);
      for (const [key, value] of Object.entries(obj['props'])) setProperty(arr, key, child(value));
      return arr;
    }
    case 'object': {
      if (!isRecord(v)) throw new Error('bad object tag');
      const out = propsFromJson(v, child);
      if (typeof obj['class'] === 'string') typedObject(obj['class'], out);
      if (obj['ecma'] === true) ecmaArray(out);
      return out;
    }
    default:
      throw new Error(`unknown tag ${String(obj['$t'])}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function propsFromJson(obj: Record<string, unknown>, child: (v: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) setProperty(out, key, child(value));
  return out;
}

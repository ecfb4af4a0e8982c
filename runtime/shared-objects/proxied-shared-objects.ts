/**
 * Proxied shared objects (fms-api §7, `SharedObject.get(name, persistent, netConnection)`): the
 * script's handle on an SO owned by another instance or server. The host is an ordinary SO client
 * of the owner over the script's server-side NetConnection (runtime/client/shared-object.ts): the
 * script reads that client's copy, its setProperty/send go to the owner, and the owner's answers
 * come back as onSync entries (success, reject, change, delete, clear) and send() handlers.
 * FMS rules for proxied SOs: lock/unlock return -1; flush/clear/purge have nothing to act on here.
 */
import type { NetConnection } from '../client/net-connection.ts';
import { SharedObject, type SyncItem } from '../client/shared-object.ts';
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import type { SharedObjectOp } from '../../host-api/protocol.ts';
import { measureSlot } from './shared-object-file-format.ts';

export interface ProxiedSoEvents {
  /** The owner's answers and other subscribers' changes, for the script's so.onSync. */
  sync(key: string, list: Record<string, unknown>[]): void;
  /** A so.send() broadcast reached us: the script's so[handler] runs. */
  send(key: string, handler: string, args: unknown[]): void;
  /** The owner's status for this SO (NoReadAccess, NoWriteAccess, BadPersistence…), for the script's so.onStatus. */
  status(key: string, info: Record<string, unknown>): void;
}

export interface ProxiedSoConnections {
  /** Calls `run` each time the script's NetConnection `ncId` is connected (now, if it is); returns the stop function. */
  onConnected(ncId: number, run: (nc: NetConnection) => void): () => void;
}

/** Script calls kept while the owner is not (yet) connected; beyond this they are dropped (one log line). */
export const MAX_WAITING_CALLS = 1000;

class ProxiedSharedObject {
  /** The client SO on the current connection (a new one after each reconnect); its data is what the script reads. */
  so: SharedObject | null = null;
  closed = false;
  stopWatching: () => void = () => undefined;
  /** What the script did while the owner had not answered Use: replayed in order once it has. */
  readonly waiting: Array<(so: SharedObject) => void> = [];
  /** Bytes of the slot values waiting in `waiting` (host memory the script holds). */
  waitingBytes = 0;
  #dropped = false;

  constructor(
    readonly key: string,
    readonly name: string,
    readonly persistent: boolean,
    readonly log: Logger,
  ) {}

  whenReady(run: (so: SharedObject) => void, bytes = 0): void {
    if (this.closed) return;
    if (this.so?.isConnected) return run(this.so);
    if (this.waiting.length < MAX_WAITING_CALLS) {
      this.waitingBytes += bytes;
      this.waiting.push(run);
      return;
    }
    if (!this.#dropped) this.log.warn({ so: this.name, max: MAX_WAITING_CALLS }, 'proxied shared object not connected; further calls dropped');
    this.#dropped = true;
  }

  ready(so: SharedObject): void {
    this.#dropped = false;
    this.waitingBytes = 0;
    for (const run of this.waiting.splice(0)) run(so);
  }
}

/** The script's proxied SOs of one instance, keyed by the handle key host-api chose. */
export class ProxiedSharedObjects {
  readonly #objects = new Map<string, ProxiedSharedObject>();
  readonly #connections: ProxiedSoConnections;
  readonly #events: ProxiedSoEvents;
  readonly #log: Logger;
  readonly #maxSlotBytes: number;
  readonly #refusals: RateLimitedLog;

  /** `maxSlotBytes`: sharedObjects.maxSlotBytes, applied to what the script sends the owner too. */
  constructor(connections: ProxiedSoConnections, events: ProxiedSoEvents, log: Logger, maxSlotBytes = Number.POSITIVE_INFINITY) {
    this.#connections = connections;
    this.#events = events;
    this.#log = log;
    this.#maxSlotBytes = maxSlotBytes;
    this.#refusals = new RateLimitedLog(log);
  }

  /** Slot values the script set while their owners were not connected: host memory it holds. */
  get waitingBytes(): number {
    let bytes = 0;
    for (const proxied of this.#objects.values()) bytes += proxied.waitingBytes;
    return bytes;
  }

  has(key: string): boolean {
    return this.#objects.has(key);
  }

  /**
   * SharedObject.get(name, persistent, nc). As in FMS the NetConnection need not be connected
   * yet: the SO is used whenever it connects (again after a reconnect, with a full resync).
   */
  get(key: string, ncId: number, name: string, persistent: boolean): boolean {
    if (this.#objects.has(key)) return true;
    const proxied = new ProxiedSharedObject(key, name, persistent, this.#log);
    this.#objects.set(key, proxied);
    proxied.stopWatching = this.#connections.onConnected(ncId, (nc) => this.#connect(proxied, nc));
    return true;
  }

  op(key: string, op: SharedObjectOp, args: unknown[]): unknown {
    const proxied = this.#objects.get(key);
    if (!proxied) return undefined;
    const data = proxied.so?.data ?? {};
    switch (op) {
      case 'getProperty':
        return data[String(args[0] ?? '')];
      case 'setProperty': {
        const slot = String(args[0] ?? '');
        const bytes = measureSlot(slot, args[1], this.#maxSlotBytes);
        if (bytes === null) {
          const fields = { code: ErrorCode.SharedObjectTooLarge, so: proxied.name, slot: slot.slice(0, 100), byScript: true };
          this.#refusals.exceeded('sharedObjects.maxSlotBytes', fields, 'proxied shared object change by the script refused: over budget');
          return false;
        }
        proxied.whenReady((so) => so.setProperty(slot, args[1]), bytes);
        return true;
      }
      case 'getPropertyNames':
        return Object.keys(data);
      case 'size':
        return Object.keys(data).length;
      case 'send': {
        const handler = String(args[0] ?? '');
        proxied.whenReady((so) => so.send(handler, ...args.slice(1)));
        return true;
      }
      case 'lock':
      case 'unlock':
        return -1; // FMS: always -1 for proxied shared objects
      case 'version':
        return proxied.so?.version ?? 0;
      case 'resyncDepth':
        return Number.POSITIVE_INFINITY; // the owner decides
      case 'close':
        this.#close(proxied);
        return undefined;
      case 'clear':
      case 'purge':
        return false; // the owner's business
      case 'setResyncDepth':
        return undefined;
    }
  }

  #connect(proxied: ProxiedSharedObject, nc: NetConnection): void {
    if (proxied.closed) return;
    let so: SharedObject;
    try {
      so = SharedObject.getRemote(nc, proxied.name, proxied.persistent);
    } catch (error) {
      this.#log.warn({ so: proxied.name, err: (error as Error).message }, 'proxied shared object refused');
      return;
    }
    proxied.so?.close(); // the previous connection's object, if the NetConnection reconnected
    proxied.so = so;
    // so.send() broadcasts: any handler name reaches the script, which looks it up on its object.
    so.client = new Proxy({}, {
      get: (_target, handler) => (typeof handler === 'string' ? (...args: unknown[]) => this.#events.send(proxied.key, handler, args) : undefined),
    }) as SharedObject['client'];
    so.on('sync', (list: SyncItem[]) => {
      if (!proxied.closed) this.#events.sync(proxied.key, list.map((item) => ({ ...item })));
    });
    // FMS hands the owner's refusals to so.onStatus (a refused write also comes back as a "reject" in onSync).
    so.on('status', (info) => {
      if (!proxied.closed) this.#events.status(proxied.key, { ...info });
    });
    so.on('close', (reason) => this.#log.info({ so: proxied.name, reason }, 'proxied shared object disconnected'));
    so.connect().then(
      () => proxied.ready(so),
      (error: unknown) => this.#log.warn({ so: proxied.name, err: (error as Error).message }, 'proxied shared object could not be used'),
    );
  }

  #close(proxied: ProxiedSharedObject): void {
    proxied.closed = true;
    proxied.stopWatching();
    proxied.waiting.length = 0;
    proxied.waitingBytes = 0;
    this.#objects.delete(proxied.key);
    proxied.so?.close();
  }
}

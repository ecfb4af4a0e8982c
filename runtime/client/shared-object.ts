/**
 * Remote shared objects for the project's public client, modelled on Flash's SharedObject:
 *
 *   const so = SharedObject.getRemote(nc, 'chat', false);
 *   so.client.onMsg = (text) => …;         // handlers for so.send() broadcasts
 *   so.on('sync', (list) => …);             // {code: change|success|reject|delete|clear, name}
 *   await so.connect();                     // Use → UseSuccess + initial sync applied
 *   so.setProperty('topic', 'hi');          // RequestChange, optimistic local update
 *   so.send('onMsg', 'hello');              // SendMessage (the sender receives it too)
 *   so.close();                             // Release
 *
 * Conflict rules: a local change stays pending until the server's Success ("success"). A Change or
 * Remove for a pending slot that follows a refusal status (NoWriteAccess) in the same message is a
 * "reject": the local value is reset to the server's. Without a refusal it is another client's
 * change ordered before ours on the server, so the local value (which will win) is kept.
 * One listener per RTMP connection decodes each message once and routes it by SO name.
 */
import type { RtmpConnection } from '../rtmp/connection.ts';
import { setProperty as setOwnProperty } from '../rtmp/amf-values.ts';
import { MessageType, type RtmpMessage } from '../rtmp/message.ts';
import { decodeSharedObjectMessage, encodeSharedObjectMessage, type SharedObjectMessageModel, type SoEvent } from '../rtmp/shared-object-codec.ts';
import { TypedEmitter } from '../common/typed-emitter.ts';
import type { InfoObject, NetConnection } from './net-connection.ts';

export interface SyncItem {
  code: 'change' | 'success' | 'reject' | 'delete' | 'clear';
  /** Slot name (absent for clear). */
  name?: string;
  oldValue?: unknown;
}

export type SharedObjectEvents = {
  /** One list per server message that changed something. */
  sync: [list: SyncItem[]];
  /** Status events from the server: {level, code} (NoReadAccess, NoWriteAccess, BadPersistence, …). */
  status: [info: InfoObject];
  /** The RTMP connection closed or close() was called. */
  close: [reason: string];
};

/** connect() refused by the server (info = its status) or lost with the connection. */
export class SharedObjectError extends Error {
  readonly info: InfoObject;
  constructor(info: InfoObject) {
    super(`${info.code}${info.description ? `: ${info.description}` : ''}`);
    this.info = info;
  }
}

/** Decodes each SO message of one RTMP connection once and hands it to the SO of that name. */
class SharedObjectRouter {
  readonly objects = new Map<string, SharedObject>();
  #connection: RtmpConnection | null = null;

  attach(connection: RtmpConnection): void {
    if (this.#connection === connection) return;
    this.#connection?.off('sharedObject', this.#onMessage);
    this.#connection?.off('close', this.#onClose);
    this.#connection = connection;
    connection.on('sharedObject', this.#onMessage);
    connection.on('close', this.#onClose);
  }

  readonly #onMessage = (message: RtmpMessage): void => {
    let decoded: SharedObjectMessageModel;
    try {
      decoded = decodeSharedObjectMessage(message.payload, message.type === MessageType.SharedObjectAmf3);
    } catch (error) {
      this.#connection?.close('malformed shared object message', error as Error);
      return;
    }
    this.objects.get(decoded.name)?.receive(decoded);
  };

  readonly #onClose = (reason: string): void => {
    for (const so of this.objects.values()) so.connectionClosed(reason);
  };
}

const routers = new WeakMap<NetConnection, SharedObjectRouter>();

function routerOf(nc: NetConnection): SharedObjectRouter {
  let router = routers.get(nc);
  if (!router) {
    router = new SharedObjectRouter();
    routers.set(nc, router);
  }
  return router;
}

export class SharedObject extends TypedEmitter<SharedObjectEvents> {
  readonly name: string;
  readonly persistent: boolean;
  /** The connection it syncs over; connect(otherNc) moves it (Flash's so.connect(nc)). */
  nc: NetConnection;
  /** Methods so.send() broadcasts may invoke (like NetConnection.client). */
  client: Record<string, (...args: unknown[]) => unknown> = {};
  /** Current slots. Read freely; change them with setProperty (direct writes are not sent). */
  readonly data: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  /** Last version the server reported. */
  version = 0;
  /** Slots with local changes the server has not answered yet (count of requests in flight). */
  readonly #pending = new Map<string, number>();
  #connected = false;
  #connecting: { promise: Promise<void>; resolve: () => void; reject: (error: SharedObjectError) => void } | null = null;

  /** The SO `name` on this NetConnection (one object per name, as in Flash). */
  static getRemote(nc: NetConnection, name: string, persistent = false): SharedObject {
    const router = routerOf(nc);
    const existing = router.objects.get(name);
    if (existing) {
      if (existing.persistent !== persistent) throw new Error(`shared object ${name} is already open with persistent=${existing.persistent}`);
      return existing;
    }
    const so = new SharedObject(nc, router, name, persistent);
    router.objects.set(name, so);
    return so;
  }

  #router: SharedObjectRouter;

  private constructor(nc: NetConnection, router: SharedObjectRouter, name: string, persistent: boolean) {
    super();
    this.nc = nc;
    this.#router = router;
    this.name = name;
    this.persistent = persistent;
  }

  get isConnected(): boolean {
    return this.#connected;
  }

  /**
   * Sends Use; resolves once UseSuccess and the initial sync are applied, rejects on a refusal.
   * With another NetConnection (after the old one closed), the object moves to it keeping its
   * data and version, like Flash's so.connect(nc): the Use carries that version, so the server
   * may answer with only what changed since (resyncDepth) instead of Clear and every slot.
   */
  connect(nc?: NetConnection): Promise<void> {
    if (nc && nc !== this.nc) this.#moveTo(nc);
    if (this.#connected) return Promise.resolve();
    if (this.#connecting) return this.#connecting.promise;
    const connection = this.nc.connection;
    if (!connection || !this.nc.isConnected) {
      return Promise.reject(new SharedObjectError({ level: 'error', code: 'SharedObject.Connect.Failed', description: 'NetConnection is not connected' }));
    }
    this.#router.objects.set(this.name, this);
    this.#router.attach(connection);
    let resolve!: () => void;
    let reject!: (error: SharedObjectError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#connecting = { promise, resolve, reject };
    this.#send([{ type: 'use' }]);
    return promise;
  }

  #moveTo(nc: NetConnection): void {
    if (this.#connected || this.#connecting) {
      const stillOpen = this.nc.isConnected && this.nc.connection !== null && this.nc.connection !== undefined && !this.nc.connection.closed;
      if (stillOpen) throw new Error(`shared object ${this.name} is still connected; close it first`);
      this.#disconnected('NetConnection closed'); // closed, but its close event has not reached us yet
    }
    const router = routerOf(nc);
    const other = router.objects.get(this.name);
    if (other && other !== this) throw new Error(`shared object ${this.name} is already open on that NetConnection`);
    if (this.#router.objects.get(this.name) === this) this.#router.objects.delete(this.name);
    this.nc = nc;
    this.#router = router;
    router.objects.set(this.name, this);
  }

  /** Changes a slot (null or undefined removes it): local value at once, the server's answer later. */
  setProperty(name: string, value: unknown): void {
    this.#requireConnected();
    this.#pending.set(name, (this.#pending.get(name) ?? 0) + 1);
    if (value === null || value === undefined) {
      delete this.data[name];
      this.#send([{ type: 'requestRemove', name }]);
    } else {
      setOwnProperty(this.data, name, value);
      this.#send([{ type: 'requestChange', name, value }]);
    }
  }

  /** Invokes `handler` on every subscriber of this SO, this one included. */
  send(handler: string, ...args: unknown[]): void {
    this.#requireConnected();
    this.#send([{ type: 'sendMessage', handler, args }]);
  }

  /** Sends Release and stops listening. The object can connect() again later. */
  close(): void {
    if (this.#connected && this.nc.connection && !this.nc.connection.closed) this.#send([{ type: 'release' }]);
    this.#router.objects.delete(this.name);
    this.#disconnected('closed by client');
  }

  /** A decoded message for this SO (called by the router). */
  receive(msg: SharedObjectMessageModel): void {
    this.version = msg.version;
    const list: SyncItem[] = [];
    let refused = false;
    let useSuccess = false;
    for (const event of msg.events) {
      switch (event.type) {
        case 'useSuccess':
          useSuccess = true;
          this.#connected = true;
          break;
        case 'clear':
          for (const key of Object.keys(this.data)) if (!this.#pending.has(key)) delete this.data[key];
          list.push({ code: 'clear' });
          break;
        case 'change':
        case 'remove':
          this.#onServerValue(event, refused, list);
          break;
        case 'success':
          this.#settle(event.name);
          list.push({ code: 'success', name: event.name });
          break;
        case 'status':
          if (event.level === 'error') refused = true;
          this.#onStatus({ level: event.level, code: event.code });
          break;
        case 'sendMessage':
          this.#invoke(event.handler, event.args);
          break;
        default:
          break; // client-to-server events and unknown types
      }
    }
    if (list.length > 0) this.emit('sync', list);
    if (useSuccess && this.#connecting) {
      this.#connecting.resolve();
      this.#connecting = null;
    }
  }

  /** The RTMP connection closed (called by the router). */
  connectionClosed(reason: string): void {
    this.#disconnected(reason);
  }

  #onServerValue(event: Extract<SoEvent, { type: 'change' | 'remove' }>, refused: boolean, list: SyncItem[]): void {
    const { name } = event;
    const oldValue = this.data[name];
    if (this.#pending.has(name)) {
      if (!refused) return; // an earlier change from another client; ours is applied after it
      this.#settle(name);
    }
    if (event.type === 'change') setOwnProperty(this.data, name, event.value);
    else delete this.data[name];
    const code = refused ? 'reject' : event.type === 'change' ? 'change' : 'delete';
    list.push({ code, name, oldValue });
  }

  #settle(name: string): void {
    const count = this.#pending.get(name) ?? 0;
    if (count <= 1) this.#pending.delete(name);
    else this.#pending.set(name, count - 1);
  }

  #onStatus(info: InfoObject): void {
    this.emit('status', info);
    if (info.level === 'error' && this.#connecting && !this.#connected) {
      this.#connecting.reject(new SharedObjectError(info));
      this.#connecting = null;
    }
  }

  #invoke(handler: string, args: unknown[]): void {
    const fn = this.client[handler];
    if (typeof fn !== 'function') return; // Flash ignores broadcasts nobody handles
    try {
      fn.apply(this.client, args);
    } catch (error) {
      this.listenerError(error, handler);
    }
  }

  #disconnected(reason: string): void {
    const wasActive = this.#connected || this.#connecting !== null;
    this.#connected = false;
    this.#pending.clear();
    if (this.#connecting) {
      this.#connecting.reject(new SharedObjectError({ level: 'error', code: 'SharedObject.Connect.Failed', description: reason }));
      this.#connecting = null;
    }
    if (wasActive) this.emit('close', reason);
  }

  #requireConnected(): void {
    if (!this.#connected) throw new SharedObjectError({ level: 'error', code: 'SharedObject.Connect.Failed', description: 'shared object is not connected' });
  }

  #send(events: SoEvent[]): void {
    const connection = this.nc.connection;
    if (!connection) return;
    const amf3 = connection.objectEncoding === 3;
    const payload = encodeSharedObjectMessage({ name: this.name, version: this.version, persistent: this.persistent, events }, amf3);
    connection.sendMessage({ type: amf3 ? MessageType.SharedObjectAmf3 : MessageType.SharedObjectAmf0, streamId: 0, timestamp: 0, payload });
  }
}

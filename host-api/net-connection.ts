/**
 * Server-side NetConnection and NetStream (fms-api §4, §5). The objects hold only an id the host
 * knows; media never enters the isolate: NetStream.attach()+publish() become a native relay on the
 * host. NetConnection methods assigned by the script answer calls from the remote server.
 */
import { callFailed, forgetResponder, registerResponder, resolveMethod } from './client.ts';
import { defineMethod, defineProperty, emptyMap, host, StringConstructor, unsupported } from './host.ts';
import type { CallReply, InfoRecord } from './protocol.ts';
import { setNcIdResolver, streamNameOf } from './stream.ts';
import { invoke, toPlain } from './values.ts';

interface NcState {
  id: number;
  object: Record<string, unknown>;
  /** Connected to an http(s):// Flash Remoting gateway (decided by the last connect()). */
  remoting: boolean;
}

const GATEWAY_URI = /^https?:\/\//i;

const connections = emptyMap<NcState>();
const byObject = new WeakMap<object, NcState>();
let nextNcId = 1;

function stateOf(nc: unknown): NcState | undefined {
  return typeof nc === 'object' && nc !== null ? byObject.get(nc) : undefined;
}

/** `new NetConnection()`: unconnected; `isConnected` false until Connect.Success. */
export function NetConnection(this: Record<string, unknown>): void {
  const state: NcState = { id: nextNcId++, object: this, remoting: false };
  connections[state.id] = state;
  byObject.set(this, state);
  this.isConnected = false;
  this.uri = undefined;
  this.objectEncoding = 0;
}

const ncProto = NetConnection.prototype as Record<string, unknown>;

defineMethod(ncProto, 'connect', function (this: unknown, uri: unknown, ...args: unknown[]): boolean {
  const state = stateOf(this);
  if (!state) return false;
  state.object.uri = uri;
  state.object.isConnected = false;
  // A gateway URL opens nothing: isConnected stays false and no onStatus follows (FMS, Flash Player).
  state.remoting = GATEWAY_URI.test(StringConstructor(uri));
  const plain: unknown[] = [];
  for (let i = 0; i < args.length; i++) plain[i] = toPlain(args[i]);
  return host('ncConnect', state.id, StringConstructor(uri), plain);
});

defineMethod(ncProto, 'call', function (this: unknown, method: unknown, responder?: unknown, ...args: unknown[]): boolean {
  const state = stateOf(this);
  if (!state) return false;
  // Flash Remoting: a failure the responder has no onStatus for goes to this NetConnection's onStatus.
  const responderId = registerResponder(responder, state.remoting ? state.object : undefined);
  const plain: unknown[] = [];
  for (let i = 0; i < args.length; i++) plain[i] = toPlain(args[i]);
  const sent = host('ncCall', state.id, StringConstructor(method), plain, responderId);
  // Not sent: no result comes — except for a remoting call the host refused, whose responder hears why.
  if (!sent && responderId !== 0 && !state.remoting) forgetResponder(responderId);
  return sent;
});

defineMethod(ncProto, 'close', function (this: unknown): void {
  const state = stateOf(this);
  if (!state) return;
  state.remoting = false;
  host('ncClose', state.id);
});

/** An AMF header for every later Flash Remoting packet (credentials…); same name replaces, undefined removes. */
defineMethod(ncProto, 'addHeader', function (this: unknown, name: unknown, mustUnderstand?: unknown, value?: unknown): void {
  const state = stateOf(this);
  if (!state) return;
  host('ncAddHeader', state.id, StringConstructor(name), mustUnderstand === true, toPlain(value));
});

/** Host → isolate: a status for this connection. isConnected follows it, then onStatus runs. */
export function onNcStatusEvent(ncId: number, info: InfoRecord): void {
  const state = connections[ncId];
  if (!state) return;
  state.object.isConnected = info.code === 'NetConnection.Connect.Success';
  const handler = state.object.onStatus;
  if (typeof handler === 'function') invoke(handler, state.object, [info]);
}

/** The remote server called a method on this connection: looked up on the object itself. */
export function onNcCallEvent(ncId: number, method: string, args: unknown[]): CallReply {
  const state = connections[ncId];
  if (!state) return callFailed(`Method not found (${method}).`);
  const fn = resolveMethod(state.object, method);
  if (typeof fn !== 'function') return callFailed(`Method not found (${method}).`);
  const result = invoke(fn, state.object, args);
  if (!result[0]) return callFailed(`Failed to execute method (${method}).`);
  return { ok: true, value: toPlain(result[1]) };
}

// ---- NetStream ------------------------------------------------------------------------------

interface NsState {
  id: number;
  object: Record<string, unknown>;
}

const streams = emptyMap<NsState>();
const nsByObject = new WeakMap<object, NsState>();
let nextNsId = 1;

function nsStateOf(ns: unknown): NsState | undefined {
  return typeof ns === 'object' && ns !== null ? nsByObject.get(ns) : undefined;
}

/** `new NetStream(nc)`: publish-only stream over a server-side NetConnection. */
export function NetStream(this: Record<string, unknown>, nc: unknown, groupspec?: unknown): void {
  const ncState = stateOf(nc);
  const state: NsState = { id: nextNsId++, object: this };
  streams[state.id] = state;
  nsByObject.set(this, state);
  if (groupspec !== undefined) unsupported('NetStream(nc, groupspec)');
  this.bufferTime = 0;
  host('nsCreate', state.id, ncState ? ncState.id : 0);
}

const nsProto = NetStream.prototype as Record<string, unknown>;

defineMethod(nsProto, 'attach', function (this: unknown, stream: unknown): boolean {
  const state = nsStateOf(this);
  if (!state) return false;
  if (stream === false || stream === null || stream === undefined) return host('nsAttach', state.id, null);
  const name = streamNameOf(stream);
  if (name === null) return false;
  return host('nsAttach', state.id, name);
});

defineMethod(nsProto, 'publish', function (this: unknown, name: unknown, howToPublish?: unknown): boolean {
  const state = nsStateOf(this);
  if (!state) return false;
  if (name === false || name === null) return host('nsPublish', state.id, false, 'live');
  const type = howToPublish === 'record' || howToPublish === 'append' ? howToPublish : 'live';
  return host('nsPublish', state.id, StringConstructor(name), type);
});

defineMethod(nsProto, 'send', function (this: unknown, handler: unknown, ...args: unknown[]): boolean {
  const state = nsStateOf(this);
  if (!state) return false;
  const plain: unknown[] = [StringConstructor(handler)];
  for (let i = 0; i < args.length; i++) plain.push(toPlain(args[i]));
  return host('nsSend', state.id, plain);
});

/** ns.time: seconds published so far, asked of the host (the relay) on every read. */
defineProperty(nsProto, 'time', {
  get(this: unknown): number {
    const state = nsStateOf(this);
    return state ? host('nsTime', state.id) : 0;
  },
  set: () => undefined, // read-only in FMS; a sloppy-mode write is ignored
  enumerable: false,
  configurable: true,
});

defineMethod(nsProto, 'setBufferTime', function (this: Record<string, unknown>, seconds: unknown): void {
  // The relay's queue is bounded in bytes on the host; the value is kept for scripts that read it.
  this.bufferTime = typeof seconds === 'number' ? seconds : 0;
});

export function onNsStatusEvent(nsId: number, info: InfoRecord): void {
  const state = streams[nsId];
  if (!state) return;
  const handler = state.object.onStatus;
  if (typeof handler === 'function') invoke(handler, state.object, [info]);
}

setNcIdResolver((nc) => stateOf(nc)?.id ?? null);

/** The host id of a script NetConnection object, or null for anything else. */
export function ncIdOf(nc: unknown): number | null {
  return stateOf(nc)?.id ?? null;
}

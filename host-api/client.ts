/**
 * The Client class (fms-api §3): one object per connection, built on `Client.prototype` (which
 * scripts extend with their RPC methods), plus client→server call dispatch and the responders of
 * server→client calls.
 */
import {
  FunctionPrototype,
  NumberConstructor,
  ObjectPrototype,
  StringConstructor,
  defineConstant,
  defineMethod,
  defineProperty,
  emptyMap,
  getPrototypeOf,
  hasOwn,
  host,
  objectCreate,
  unsupported,
} from './host.ts';
import type { AccessField, CallReply, CallResultRecord, ClientRecord } from './protocol.ts';
import { invoke, toPlain } from './values.ts';

export interface ClientObject {
  readonly id: string;
  [key: string]: unknown;
}

export interface ClientEntry {
  readonly id: string;
  readonly client: ClientObject;
  state: 'pending' | 'accepted';
  /** accept/reject/redirect was called for this client (the decision went to the host). */
  decided: boolean;
}

/** Names a client may not nc.call(): RTMP commands and protected Client methods (fms-api §0). */
const RESERVED = emptyMap<true>();
for (const name of ['closeStream', 'connect', 'createStream', 'deleteStream', 'onStatus', 'pause', 'play', 'publish',
  'receiveAudio', 'receiveVideo', 'seek', 'getBandwidthLimit', 'setBandwidthLimit', 'getStats', 'ping']) {
  RESERVED[name] = true;
}

const ACCESS_FIELDS: AccessField[] = ['readAccess', 'writeAccess', 'audioSampleAccess', 'videoSampleAccess'];

const entries = emptyMap<ClientEntry>();

/** FMS creates clients; `new Client()` from a script yields an inert object. */
export function Client(): void {}

export function registerClient(record: ClientRecord): ClientEntry {
  const client = objectCreate(Client.prototype) as ClientObject;
  const id = record.id;
  // Old FCS-era scripts assign client.id; FMS 3+ ignores the write. A no-op setter keeps it
  // silent even in strict-mode code.
  defineProperty(client, 'id', { get: () => id, set: () => undefined, enumerable: true, configurable: false });
  defineConstant(client, 'ip', record.ip);
  defineConstant(client, 'agent', record.agent);
  defineConstant(client, 'protocol', record.protocol);
  defineConstant(client, 'referrer', record.referrer);
  defineConstant(client, 'pageUrl', record.pageUrl);
  defineConstant(client, 'uri', record.uri);
  defineConstant(client, 'objectEncoding', record.objectEncoding);
  defineConstant(client, 'secure', record.secure); // TLS only; RTMPE is not
  defineConstant(client, 'protocolVersion', 'RTMP');
  defineConstant(client, 'farAddress', record.ip);
  // virtualKey is set by scripts (Stream.setVirtualPath mapping): a plain writable property.
  defineProperty(client, 'virtualKey', { value: record.virtualKey, writable: true, enumerable: true, configurable: true });
  // Index loops (not for..of) in code that runs after main.asc: a script may replace array iterators.
  for (let i = 0; i < ACCESS_FIELDS.length; i++) {
    const field = ACCESS_FIELDS[i] as AccessField;
    defineAccess(client, id, field, record[field]);
  }
  const entry: ClientEntry = {
    id,
    client,
    state: 'pending',
    decided: false,
  };
  entries[id] = entry;
  return entry;
}

/** Access lists are enforced by the host: every write is forwarded at once. */
function defineAccess(client: ClientObject, id: string, field: AccessField, initial: string): void {
  let value = initial;
  defineProperty(client, field, {
    get: () => value,
    set: (next: unknown) => {
      value = StringConstructor(next);
      host('setClientAccess', id, field, value);
    },
    enumerable: true,
    configurable: false,
  });
}

export function entryById(id: string): ClientEntry | undefined {
  return entries[id];
}

/** The entry of a real client object (a look-alike `{id: ...}` does not count). */
export function entryOf(client: unknown): ClientEntry | undefined {
  if (typeof client !== 'object' || client === null) return undefined;
  const id: unknown = (client as ClientObject).id;
  if (typeof id !== 'string') return undefined;
  const entry = entries[id];
  return entry !== undefined && entry.client === client ? entry : undefined;
}

export function forgetClient(entry: ClientEntry): void {
  if (entries[entry.id] === entry) delete entries[entry.id];
}

// ---- server → client calls -------------------------------------------------------------------

interface ResponderEntry {
  responder: object;
  /** Hears a failure when the responder has no onStatus (a server-side NetConnection's own onStatus). */
  fallback?: object;
}

const responders = emptyMap<ResponderEntry>();
let nextResponderId = 1;

/**
 * Keeps a responder until its result event arrives; 0 when none is wanted. FMS treats any non-null
 * 2nd argument of call() as the responder (a script passing data there loses it).
 */
export function registerResponder(responder: unknown, fallback?: object): number {
  if ((typeof responder !== 'object' || responder === null) && typeof responder !== 'function') return 0;
  const responderId = nextResponderId++;
  responders[responderId] = fallback === undefined ? { responder } : { responder, fallback };
  return responderId;
}

/** A call that was not sent gets no result event: its responder is dropped. */
export function forgetResponder(responderId: number): void {
  delete responders[responderId];
}

function call(this: unknown, method: unknown, responder?: unknown, ...args: unknown[]): boolean {
  const entry = entryOf(this);
  if (entry === undefined) return false;
  const responderId = registerResponder(responder);
  const plainArgs: unknown[] = [];
  for (let i = 0; i < args.length; i++) plainArgs[i] = toPlain(args[i]);
  const sent = host('clientCall', entry.id, StringConstructor(method), plainArgs, responderId);
  if (!sent && responderId !== 0) forgetResponder(responderId);
  return sent;
}

export function onCallResult(responderId: number, result: CallResultRecord): void {
  const entry = responders[responderId];
  if (entry === undefined) return;
  delete responders[responderId];
  const responder = entry.responder as Record<string, unknown>;
  const handler = result.ok ? responder.onResult : responder.onStatus;
  if (typeof handler === 'function') {
    invoke(handler, responder, [result.ok ? result.value : result.info]);
    return;
  }
  // A failure the responder does not handle is the NetConnection's to hear (never silence).
  const fallback = entry.fallback as Record<string, unknown> | undefined;
  if (!result.ok && fallback !== undefined && typeof fallback.onStatus === 'function') invoke(fallback.onStatus, fallback, [result.info]);
}

// ---- client → server calls -------------------------------------------------------------------

/**
 * Finds `name` on `target` or its prototype chain, but never on Object.prototype or
 * Function.prototype, and never `constructor`: a client must not be able to nc.call("toString"),
 * "constructor.constructor", "__defineGetter__" and friends.
 */
function lookup(target: unknown, name: string): unknown {
  if (name === 'constructor') return undefined;
  let current: unknown = target;
  while ((typeof current === 'object' && current !== null) || typeof current === 'function') {
    if (current === ObjectPrototype || current === FunctionPrototype) return undefined;
    if (hasOwn(current as object, name)) return (current as Record<string, unknown>)[name];
    current = getPrototypeOf(current);
  }
  return undefined;
}

/** "a.b" and "a/b" resolve through objects, starting at `target` (a client, a NetConnection…). */
export function resolveMethod(target: unknown, method: string): unknown {
  const parts = method.split(/[./]/);
  let current: unknown = target;
  for (let i = 0; i < parts.length; i++) {
    current = lookup(current, parts[i] as string);
    if (current === undefined || current === null) return undefined;
  }
  return current;
}

export function callFailed(description: string): CallReply {
  return { ok: false, code: 'NetConnection.Call.Failed', description };
}

/**
 * nc.call("method", responder, ...args) from the client: the function found on the client (or
 * Client.prototype, or via __resolve) runs with this = client; its return value is the _result.
 */
export function callMethod(clientId: string, method: string, args: unknown[]): CallReply {
  const entry = entries[clientId];
  if (entry === undefined || entry.state !== 'accepted') return callFailed(`Method not found (${method}).`);
  if (method === '' || RESERVED[method] === true) return callFailed(`Method not found (${method}).`);
  const client = entry.client;
  let fn = resolveMethod(client, method);
  if (typeof fn !== 'function') {
    const resolver = lookup(client, '__resolve');
    if (typeof resolver === 'function') {
      const resolved = invoke(resolver, client, [method]);
      if (!resolved[0]) return callFailed(`Failed to execute method (${method}).`);
      fn = resolved[1];
    }
  }
  // Host-api's own P2 stubs are for scripts; a client calling them gets "not found", so the host
  // can answer with its built-in (e.g. getStreamLength for FLVPlayback).
  if (typeof fn !== 'function' || builtinStubs.has(fn)) return callFailed(`Method not found (${method}).`);
  const result = invoke(fn, client, args);
  if (!result[0]) return callFailed(`Failed to execute method (${method}).`);
  return { ok: true, value: toPlain(result[1]) };
}

// ---- Client.prototype ------------------------------------------------------------------------

function getStats(this: unknown): Record<string, number> | undefined {
  const entry = entryOf(this);
  return entry === undefined ? undefined : host('clientStats', entry.id);
}

/**
 * FMS "sends a ping message to the client and waits for a response"; a script cannot block on the
 * network here, so this sends the RTMP PingRequest and answers whether it went out. The round trip
 * shows in getStats().ping_rtt once the client's PingResponse arrives.
 */
function ping(this: unknown): boolean {
  const entry = entryOf(this);
  return entry === undefined ? false : host('clientPing', entry.id) === true;
}

/** 0 → client-to-server, 1 → server-to-client (bytes/s), as the host enforces/announces it. */
function getBandwidthLimit(this: unknown, direction: unknown): number | undefined {
  const entry = entryOf(this);
  if (entry === undefined) return undefined;
  return host('getBandwidthLimit', entry.id, direction === 1 ? 1 : 0);
}

/** Bytes/s; 0 (or anything not a positive number) leaves that direction unchanged. */
function setBandwidthLimit(this: unknown, serverToClient: unknown, clientToServer: unknown): void {
  const entry = entryOf(this);
  if (entry === undefined) return;
  const rate = (value: unknown): number => {
    const n = NumberConstructor(value);
    return n > 0 && n < Infinity ? n : 0;
  };
  host('setBandwidthLimit', entry.id, rate(serverToClient), rate(clientToServer));
}

const builtinStubs = new WeakSet<object>();

function stub(member: string, result: unknown): () => unknown {
  const fn = function unsupportedMember(): unknown {
    unsupported(member);
    return result;
  };
  builtinStubs.add(fn);
  return fn;
}

/** RTMFP-era read-only properties: shape only. */
function defineStubProperty(target: object, key: string, value: unknown): void {
  defineProperty(target, key, {
    get() {
      unsupported(`Client.${key}`);
      return value;
    },
    enumerable: false,
    configurable: true,
  });
}

const proto = Client.prototype as Record<string, unknown>;
defineMethod(proto, 'call', call);
defineMethod(proto, 'getStats', getStats);
defineMethod(proto, 'ping', ping);
defineMethod(proto, 'getBandwidthLimit', getBandwidthLimit);
defineMethod(proto, 'setBandwidthLimit', setBandwidthLimit);
defineMethod(proto, 'checkBandwidth', stub('Client.checkBandwidth', undefined));
defineMethod(proto, 'getStreamLength', stub('Client.getStreamLength', 0));
defineMethod(proto, 'introducePeer', stub('Client.introducePeer', false));
for (const key of ['farID', 'farNonce', 'nearID', 'nearNonce', 'nearAddress']) defineStubProperty(proto, key, '');
defineStubProperty(proto, 'reportedAddresses', []);

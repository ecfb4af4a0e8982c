/**
 * The bridge between the host (runtime/sandbox/sandbox.ts) and the host-api bundle that runs inside
 * each isolate. Type-only: both sides import it, nothing here exists at run time.
 *
 * Isolate → host: ONE synchronous function `host(op, args)`. It returns at once with a plain value
 * (or an id); anything that takes time comes back later as an event. Its arguments and results are
 * structured-clone copies, so only plain data crosses (no functions, no prototypes).
 *
 * Isolate → host, waiting: ONE function `hostWait(op, args)` for the few FMS calls that are
 * synchronous for the script but whose work has a size the script chooses (SharedObject.get of a
 * persistent SO, so.flush(), File.list, remove, copyTo…, load()). The isolate's own thread waits for the answer (isolated-vm's
 * applySyncPromise) while the host does the work asynchronously: the event loop that moves media
 * never runs it in one piece. Each wait is bounded (scripts.ioWaitMs); then it answers its failure value.
 *
 * Host → isolate: ONE `dispatch(event, payload)` function, called asynchronously with a CPU timeout
 * through a per-instance FIFO. Payloads are copies; the reply is a copy.
 *
 * This module is the only declaration of what crosses the boundary. host-api imports it (types
 * only); the runtime derives from it everything it implements — the instance's hooks and the
 * sandbox's own services, with responder ids turned into callbacks (`InstanceHooks`,
 * `ServiceHooks` at the end) — and checks every argument against one table (`HOST_ARGUMENTS`).
 * Adding a host call touches this file, the host-api member, its implementation and a test.
 */

/** Client properties the host enforces when the script sets them. */
export const ACCESS_FIELDS = ['readAccess', 'writeAccess', 'audioSampleAccess', 'videoSampleAccess'] as const;
export type AccessField = (typeof ACCESS_FIELDS)[number];

/** What the isolate learns about a connecting client (Client class properties, fms-api.md §3.1). */
export interface ClientRecord {
  id: string;
  ip: string;
  /** connect flashVer, e.g. "FMLE/3.0 (compatible; FMSc/1.0)" or "LNX 9,0,124,2". */
  agent: string;
  /** FMS's value: "rtmp", "rtmps" (TLS, or RTMPT over HTTPS), "rtmpt", "rtmpe" or "rtmpte". */
  protocol: 'rtmp' | 'rtmps' | 'rtmpt' | 'rtmpe' | 'rtmpte';
  /** True over TLS (RTMPS, RTMPTS); RTMPE is not. */
  secure: boolean;
  /** swfUrl of the connect command. */
  referrer: string;
  pageUrl: string;
  /** tcUrl the client connected with (credentials stripped). */
  uri: string;
  objectEncoding: 0 | 3;
  virtualKey: string;
  readAccess: string;
  writeAccess: string;
  audioSampleAccess: string;
  videoSampleAccess: string;
}

export interface StreamRecord {
  /** Stream name without query string (prefix like mp4: kept). */
  name: string;
  /** The part after `?` given at publish, '' when none. */
  publishQueryString: string;
}

/** FMS info object ({level, code, description, ...}); built on the host side by status-codes.ts. */
export interface InfoRecord {
  level: string;
  code: string;
  description?: string;
  [field: string]: unknown;
}

/** acceptConnection's counterpart: rejectConnection(client, errObj) or redirectConnection(client, uri, …). */
export interface RejectRecord {
  /** The errObj of rejectConnection; delivered as info.application. */
  application?: unknown;
  /** For redirectConnection. */
  redirect?: string;
  description?: string;
}

export type CallReply =
  | { ok: true; value: unknown }
  /**
   * `notRun` (set by the host side only, never by the isolate): the call never reached the script —
   * a hot reload retired its generation before its turn — so the instance hands it to the next one.
   */
  | { ok: false; code: 'NetConnection.Call.Failed'; description: string; notRun?: true };

/** Result of a server→client call (client.call, nc.call), delivered back to the script's responder. */
export type CallResultRecord = { ok: true; value: unknown } | { ok: false; info: Record<string, unknown> };

/** Answer of `load(name)`: run `source` now, or it was queued to run before onAppStart. */
export type LoadReply =
  | { kind: 'run'; filename: string; source: string }
  | { kind: 'deferred' }
  | { kind: 'failed'; error: ThrownRecord };

/** A script exception caught inside the isolate, flattened to data for classification on the host. */
export interface ThrownRecord {
  /** Error name ("TypeError"), or '' when a non-Error value was thrown. */
  name: string;
  message: string;
  stack?: string;
  /** Set when the error is known to come from load(): the file could not be found/read/parsed. */
  load?: boolean;
  /** Location when known without parsing the stack (syntax errors of loaded files). */
  filename?: string;
  lineno?: number;
}

export const FILE_TYPES = ['text', 'binary', 'utf8'] as const;
export type FileType = (typeof FILE_TYPES)[number];
export const FILE_IO_OPS = [
  'read', 'readln', 'readlns', 'readAll', 'readByte', 'write', 'writeByte', 'eof', 'position', 'seek', 'setPosition', 'length', 'close',
] as const;
export type FileIoOp = (typeof FILE_IO_OPS)[number];
export const FILE_CHANGE_OPS = ['mkdir', 'remove', 'renameTo', 'copyTo'] as const;
export type FileChangeOp = (typeof FILE_CHANGE_OPS)[number];

/** Server-side SharedObject operations (fms-api §7) on the script's handles, keyed by SO name. */
export const SHARED_OBJECT_OPS = [
  'getProperty', 'setProperty', 'getPropertyNames', 'size', 'send', 'lock', 'unlock', 'clear', 'close', 'purge', 'version',
  'resyncDepth', 'setResyncDepth',
] as const;
export type SharedObjectOp = (typeof SHARED_OBJECT_OPS)[number];

export const PUBLISH_TYPES = ['live', 'record', 'append'] as const;
export type PublishType = (typeof PUBLISH_TYPES)[number];
/** s.record(mode): false stops. */
export const RECORD_MODES = ['record', 'append', false] as const;
export type RecordMode = (typeof RECORD_MODES)[number];

/** What the host knows of a File path (runtime/sandbox/script-files.ts FileInfo). */
export interface FileInfoRecord {
  name: string;
  exists: boolean;
  isFile: boolean;
  isDirectory: boolean;
  length: number;
  lastModified: number | null;
  creationTime: number | null;
}

/** A LoadVars / XML request (runtime/sandbox/script-http.ts HttpRequest). */
export interface HttpRequestRecord {
  method: 'GET' | 'POST';
  url: string;
  headers: [string, string][];
  body: string | null;
  contentType: string;
}

export interface HttpResultRecord {
  status: number;
  body: string | null;
  bytesLoaded: number;
  bytesTotal: number;
}

/**
 * Operations on the instance's world (isolate → host, each returns at once): its clients, its
 * server-side NetConnections, NetStreams and Streams, its shared objects. Served by the application
 * instance (runtime/instances), whatever runs the script.
 */
export interface InstanceCalls {
  acceptConnection(clientId: string): void;
  rejectConnection(clientId: string, info: RejectRecord): void;
  disconnect(clientId: string): boolean;
  /** responderId 0 = no result wanted; otherwise a `callResult` event comes back later. */
  clientCall(clientId: string, method: string, args: unknown[], responderId: number): boolean;
  broadcastMsg(method: string, args: unknown[]): void;
  setClientAccess(clientId: string, field: AccessField, value: string): void;
  clientStats(clientId: string): Record<string, number>;
  /** client.ping(): sends an RTMP ping; false when the connection cannot send. */
  clientPing(clientId: string): boolean;
  /** client.setBandwidthLimit(serverToClient, clientToServer), bytes/s; 0 leaves a direction as it is. */
  setBandwidthLimit(clientId: string, serverToClient: number, clientToServer: number): void;
  /** client.getBandwidthLimit(direction): 0 client→server, 1 server→client. */
  getBandwidthLimit(clientId: string, direction: 0 | 1): number;
  applicationStats(): Record<string, number>;
  shutdown(): void;
  // Server-side NetConnection / NetStream / Stream (ids chosen by host-api; media stays on the host).
  /** rtmp:// connects an RTMP connection; http(s):// makes a Flash Remoting connection (a sandbox service: nothing opened, no status). */
  ncConnect(ncId: number, uri: string, args: unknown[]): boolean;
  /** responderId 0 = no result wanted; otherwise a `callResult` event comes back later. */
  ncCall(ncId: number, method: string, args: unknown[], responderId: number): boolean;
  ncClose(ncId: number): void;
  nsCreate(nsId: number, ncId: number): void;
  nsAttach(nsId: number, streamName: string | null): boolean;
  nsPublish(nsId: number, name: string | false, type: PublishType): boolean;
  nsSend(nsId: number, values: unknown[]): boolean;
  /** ns.time: seconds of media the relay has carried to the remote stream (0 when not publishing). */
  nsTime(nsId: number): number;
  streamGet(name: string): string | null;
  streamPlay(name: string, source: string | false, startSec: number, lengthSec: number, reset: number | boolean, ncId: number | null): boolean;
  /** s.record(mode[, maxDuration (s), maxSize (KB)]); null when the script omitted one. */
  streamRecord(name: string, mode: RecordMode, maxDurationSec: number | null, maxSizeKb: number | null): boolean;
  streamSend(name: string, handler: string, args: unknown[]): boolean;
  streamDestroy(name: string): boolean;
  streamLength(name: string): number;
  /** s.clear(): deletes the stream's recorded file; NetStream.Clear.Success/Failed follows as a status. */
  streamClear(name: string): boolean;
  /** s.time: the stream's current position in seconds (0 when nothing plays or publishes into it). */
  streamTime(name: string): number;
  soOp(name: string, op: SharedObjectOp, args: unknown[]): unknown;
  /** application.clearSharedObjects(soPath). */
  soClearPath(soPath: string): boolean;
  /** SharedObject.get(name, persistent, nc): `key` names the handle in later soOp calls and events. */
  soGetProxied(key: string, ncId: number, name: string, persistent: boolean): boolean;
  /** so.isDirty: a persistent SO changed since it was last written (false for temporary and proxied SOs). */
  soIsDirty(name: string): boolean;
}

/**
 * The sandbox's own services for the script (isolate → host, each returns at once): timers, File,
 * LoadVars/XML, Flash Remoting headers, AMF class tags, notes about unsupported members.
 */
export interface ServiceCalls {
  /** A P2 member was used; the host logs "unsupported: <member>" (host-api sends each name once). */
  unsupported(member: string): void;
  /**
   * Sent by host-api only, after the host answered a call or wait with the deadline reply: the stack
   * where the script was, so the timeout is reported with its file and line like a pure-JS one.
   */
  timedOut(stack?: string): void;
  /** Starts a host timer; its ticks come back as `timer` events. Returns the timer id (> 0). */
  setTimer(ms: number, repeat: boolean): number;
  clearTimer(timerId: number): void;
  /**
   * nc.addHeader(name, mustUnderstand, value): an AMF header sent with every later Flash Remoting
   * packet of this NetConnection; undefined removes it.
   */
  ncAddHeader(ncId: number, name: string, mustUnderstand: boolean, value: unknown): void;
  // File (synchronous, as in FMS). A refused path answers null / false / 0 and is logged once.
  fileInfo(path: string): FileInfoRecord | null;
  /** A handle (> 0), or 0 when the file can't be opened. */
  fileOpen(path: string, type: FileType, mode: string): number;
  fileIo(handle: number, op: FileIoOp, arg: string | number | null): unknown;
  /** LoadVars / XML: false when refused before starting; otherwise an `httpResult` event comes back. */
  httpRequest(requestId: number, request: HttpRequestRecord): boolean;
  /** application.registerClass: from now on typed objects with this alias are tagged on their way in. */
  registerClass(alias: string, registered: boolean): void;
}

/** Operations the isolate may perform (isolate → host). Each returns at once. */
export interface HostCalls extends InstanceCalls, ServiceCalls {}

export type HostOp = keyof HostCalls;

/**
 * Operations the isolate waits for while the host works off its event loop (see the top). Each
 * answers its failure value (false / null / a failed load) when it did not finish within scripts.ioWaitMs.
 */
export interface InstanceWaits {
  /** SharedObject.get(name, persistent): a persistent SO's file is loaded off the event loop first. */
  soGet(name: string, persistent: boolean): boolean;
  /** so.flush(): true once the shared object is durable on disk (local persistent SOs only). */
  soFlush(name: string): boolean;
}

export interface ServiceWaits {
  /**
   * load(name): read (size-capped) off the event loop; queued instead while main.asc's top level
   * runs. `callerStack`: where load() was called (a stack trace), so a missing file is reported at that line.
   */
  load(name: string, callerStack?: string): LoadReply;
  fileList(path: string): string[] | null;
  fileChange(path: string, op: FileChangeOp, arg: string | boolean): boolean;
  /** File.flush(): fsync of an open file. */
  fileFlush(handle: number): boolean;
  /**
   * One trace() text, then a turn of the host's event loop before the script goes on (host.ts sends
   * every TRACE_TURN_RECORDS-th record this way): a script tracing in a loop shares Node's thread.
   */
  traceWait(text: string): boolean;
}

export interface HostWaits extends InstanceWaits, ServiceWaits {}

export type HostWaitOp = keyof HostWaits;

/**
 * `[true, value]`, `[false, message]` when the host refused the arguments, or `['deadline']` when
 * the running handler is past its time (host calls and waits included): the host is about to end
 * the isolate; host-api reports where the script is with `timedOut` and unwinds.
 */
export type HostReply<T> = [ok: true, value: T] | [ok: false, message: string] | [ok: 'deadline'];

/** The single synchronous callback the bootstrap receives. */
export type HostFunction = <K extends HostOp>(op: K, args: Parameters<HostCalls[K]>) => HostReply<ReturnType<HostCalls[K]>>;

/**
 * The waiting channel as the bootstrap receives it: an isolated-vm Reference to an async host
 * function, called only through `applySyncPromise` (host.ts). Typed here by the one method used.
 */
export interface HostWaitReference {
  applySyncPromise(receiver: undefined, args: [op: HostWaitOp, args: unknown[]], options: object): unknown;
}

/** Events the host dispatches into the isolate, with their payload and reply value. */
export interface SandboxEvents {
  appStart: { payload: Record<string, never>; result: null };
  /** Reply: false when onAppStop returned false (refuses the unload). */
  appStop: { payload: { info: InfoRecord }; result: boolean };
  /** 'pending' also when the handler called accept/reject itself (the decision went through host calls). */
  connect: { payload: { client: ClientRecord; args: unknown[] }; result: 'accept' | 'reject' | 'pending' };
  disconnect: { payload: { clientId: string }; result: null };
  call: { payload: { clientId: string; method: string; args: unknown[] }; result: CallReply };
  callResult: { payload: { responderId: number; result: CallResultRecord }; result: null };
  publish: { payload: { clientId: string; stream: StreamRecord }; result: null };
  unpublish: { payload: { clientId: string; stream: StreamRecord }; result: null };
  timer: { payload: { timerId: number }; result: null };
  ncStatus: { payload: { ncId: number; info: InfoRecord }; result: null };
  /** The remote server called a method on a server-side NetConnection. */
  ncCall: { payload: { ncId: number; method: string; args: unknown[] }; result: CallReply };
  nsStatus: { payload: { nsId: number; info: InfoRecord }; result: null };
  streamStatus: { payload: { name: string; info: InfoRecord }; result: null };
  /** Changes clients made to a shared object the script holds: so.onSync(list). */
  soSync: { payload: { name: string; list: Record<string, unknown>[] }; result: null };
  /** A client's so.send(handler, ...args) on a shared object the script holds: so[handler](...args). */
  soSend: { payload: { name: string; handler: string; args: unknown[] }; result: null };
  /** A status for a shared object the script holds (the owner of a proxied SO refused): so.onStatus(info). */
  soStatus: { payload: { name: string; info: InfoRecord }; result: null };
  /** The answer to an httpRequest (status 0: none arrived). responderless requests (send) get none. */
  httpResult: { payload: { requestId: number; result: HttpResultRecord }; result: null };
  /** application.onStatus(info), e.g. Application.Script.Error after a handler threw. */
  status: { payload: { info: InfoRecord }; result: null };
}

export type SandboxEventName = keyof SandboxEvents;

/** What `dispatch` returns: the event's value plus the script error it caught, if any. */
export interface DispatchReply<R> {
  value: R;
  error?: ThrownRecord;
}

export type DispatchFunction = <K extends SandboxEventName>(
  event: K,
  payload: SandboxEvents[K]['payload'],
) => DispatchReply<SandboxEvents[K]['result']>;

/** Options the host passes to the bootstrap once, before main.asc runs. */
export interface BootOptions {
  /** "app/instance". */
  name: string;
  hostname: string;
  server: string;
  config: Record<string, string>;
  exposeJson: boolean;
  exposeSetTimeout: boolean;
  /**
   * Reserved property name under which a value crossing the bridge carries its AMF class alias
   * (application.registerClass; host-api/amf-classes.ts). Random per instance: not forgeable by clients.
   */
  amfClassKey: string;
  /**
   * trace() text and the message/stack of a thrown error are cut to this many characters before they
   * cross to the host (the host's log cuts at the same length, with the same marker).
   */
  maxTextChars: number;
}

/**
 * trace() text to the host without waiting for it (an isolated-vm "ignored" callback): a synchronous
 * host call is a round trip between the isolate's thread and Node's (~25 µs), five times the cost of
 * the rest of a trace. Isolated-vm runs these and the synchronous calls in the order they were
 * made, so trace records keep their place among everything else the script does. It also runs them
 * on Node's thread until none is queued, without returning to the event loop: a script that traced
 * without pause would keep Node's thread to itself. So every so often a trace goes as `traceWait`.
 */
export type TraceFunction = (text: string) => void;

/** The bundle's entry: `install(host, options, trace, hostWait)` returns the dispatch function. */
export type InstallFunction = (host: HostFunction, options: BootOptions, trace: TraceFunction, hostWait: HostWaitReference) => DispatchFunction;

// ---- The host's side: one table of argument checks, and the hooks derived from the contract -----

/**
 * How the host reads one argument (everything from the isolate is script data):
 * - `text`, `number` (finite), `list` (an array), `any`: checked, refused with a TypeError otherwise;
 *   `a|b` accepts either (`null`, `false` and `flag` as alternatives: `flag` is a real boolean there);
 * - `flag`: a boolean, anything else is false; `number|null`: null or undefined is null;
 * - `direction`: 1, anything else 0; `stack`: a string (cut to 4 KiB), anything else undefined;
 * - `responder`: a responder id (0 = none), handed on as a callback that sends `callResult` back;
 * - `reject`, `httpRequest`: the record of that name, rebuilt from the fields the host knows.
 */
export interface ArgumentKinds {
  text: string;
  number: number;
  list: unknown[];
  any: unknown;
  flag: boolean;
  'text|null': string | null;
  'text|false': string | false;
  'text|flag': string | boolean;
  'flag|number': boolean | number;
  'number|null': number | null;
  'text|number|null': string | number | null;
  direction: 0 | 1;
  stack: string | undefined;
  responder: number;
  reject: RejectRecord;
  httpRequest: HttpRequestRecord;
}
export type ArgumentKind = keyof ArgumentKinds;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The kinds whose value type is exactly `T` (a parameter may name any of them). */
type KindsOf<T> = { [K in ArgumentKind]: Same<ArgumentKinds[K], T> extends true ? K : never }[ArgumentKind];
/** One argument: `name:kind`, or `[name, values]` for a closed set (a message names them). */
export type ArgumentSpec<T = unknown> = `${string}:${KindsOf<T>}` | readonly [name: string, values: readonly T[]];
type ArgumentSpecs<P extends readonly unknown[]> = { readonly [I in keyof P]-?: ArgumentSpec<P[I]> };
type ArgumentTable<T> = { readonly [K in keyof T]: T[K] extends (...args: infer P) => unknown ? ArgumentSpecs<P> : never };

/** The checks of every host call and wait, in parameter order; the compiler holds them to the signatures above. */
export const HOST_ARGUMENTS = {
  // InstanceCalls
  acceptConnection: ['clientId:text'],
  rejectConnection: ['clientId:text', 'info:reject'],
  disconnect: ['clientId:text'],
  clientCall: ['clientId:text', 'method:text', 'args:list', 'responderId:responder'],
  broadcastMsg: ['method:text', 'args:list'],
  setClientAccess: ['clientId:text', ['field', ACCESS_FIELDS], 'value:text'],
  clientStats: ['clientId:text'],
  clientPing: ['clientId:text'],
  setBandwidthLimit: ['clientId:text', 'serverToClient:number', 'clientToServer:number'],
  getBandwidthLimit: ['clientId:text', 'direction:direction'],
  applicationStats: [],
  shutdown: [],
  ncConnect: ['ncId:number', 'uri:text', 'args:list'],
  ncCall: ['ncId:number', 'method:text', 'args:list', 'responderId:responder'],
  ncClose: ['ncId:number'],
  nsCreate: ['nsId:number', 'ncId:number'],
  nsAttach: ['nsId:number', 'streamName:text|null'],
  nsPublish: ['nsId:number', 'name:text|false', ['type', PUBLISH_TYPES]],
  nsSend: ['nsId:number', 'values:list'],
  nsTime: ['nsId:number'],
  streamGet: ['name:text'],
  streamPlay: ['name:text', 'source:text|false', 'startTime:number', 'length:number', 'reset:flag|number', 'remoteConnection:number|null'],
  streamRecord: ['name:text', ['mode', RECORD_MODES], 'maxDuration:number|null', 'maxSize:number|null'],
  streamSend: ['name:text', 'handler:text', 'args:list'],
  streamDestroy: ['name:text'],
  streamLength: ['name:text'],
  streamClear: ['name:text'],
  streamTime: ['name:text'],
  soOp: ['name:text', ['op', SHARED_OBJECT_OPS], 'args:list'],
  soClearPath: ['soPath:text'],
  soGetProxied: ['key:text', 'ncId:number', 'name:text', 'persistent:flag'],
  soIsDirty: ['name:text'],
  // ServiceCalls
  unsupported: ['member:text'],
  timedOut: ['stack:stack'],
  setTimer: ['ms:number', 'repeat:flag'],
  clearTimer: ['timerId:number'],
  ncAddHeader: ['ncId:number', 'name:text', 'mustUnderstand:flag', 'value:any'],
  fileInfo: ['path:text'],
  fileOpen: ['path:text', ['type', FILE_TYPES], 'mode:text'],
  fileIo: ['handle:number', ['op', FILE_IO_OPS], 'arg:text|number|null'],
  httpRequest: ['requestId:number', 'request:httpRequest'],
  registerClass: ['alias:text', 'registered:flag'],
  // InstanceWaits
  soGet: ['name:text', 'persistent:flag'],
  soFlush: ['name:text'],
  // ServiceWaits
  load: ['name:text', 'callerStack:stack'],
  fileList: ['path:text'],
  fileChange: ['path:text', ['op', FILE_CHANGE_OPS], 'arg:text|flag'],
  fileFlush: ['handle:number'],
  traceWait: ['text:text'],
} as const satisfies ArgumentTable<HostCalls & HostWaits>;

type Specs = typeof HOST_ARGUMENTS;

/** A result callback in place of a responder id (undefined for id 0: no result wanted). */
export type ResultCallback = ((result: CallResultRecord) => void) | undefined;

/** The arguments an implementation receives: as checked, with responder ids turned into callbacks. */
export type CheckedArgs<P extends readonly unknown[], S> = {
  -readonly [I in keyof P]-?: I extends keyof S ? (S[I] extends `${string}:responder` ? ResultCallback : P[I]) : P[I];
};

/** Implementations of host calls: the checked arguments in, the contract's value out. */
export type CallHooks<T> = {
  [K in keyof T & keyof Specs]: T[K] extends (...args: infer P) => infer R ? (...args: CheckedArgs<P, Specs[K]>) => R : never;
};

/**
 * Implementations of host waits: the checked arguments and a signal that aborts when the script's
 * wait ends (scripts.ioWaitMs; work that can stop does), the contract's value out when done.
 */
export type WaitHooks<T> = {
  [K in keyof T & keyof Specs]: T[K] extends (...args: infer P) => infer R
    ? (...args: [...CheckedArgs<P, Specs[K]>, signal: AbortSignal]) => R | Promise<R>
    : never;
};

/**
 * Where every trace() text ends (the application's log). Not a host call: texts come through the
 * trace callback (TraceFunction) and the waiting `traceWait`, and the sandbox hands each one here.
 */
export interface TraceHook {
  trace(text: string): void;
}

/** What the application instance implements (runtime/instances): derived, never declared again. */
export type InstanceHooks = CallHooks<InstanceCalls> & WaitHooks<InstanceWaits> & TraceHook;

/** What the sandbox implements itself (runtime/sandbox). */
export type ServiceHooks = CallHooks<ServiceCalls> & WaitHooks<ServiceWaits>;

/**
 * The bridge between the host (runtime/sandbox/sandbox.ts) and the host-api bundle that runs inside
 * each isolate. Type-only: both sides import it, nothing here exists at run time.
 *
 * Isolate → host: ONE synchronous function `host(op, args)`. It returns at once with a plain value
 * (or an id); anything that takes time comes back later as an event. Its arguments and results are
 * structured-clone copies, so only plain data crosses (no functions, no prototypes).
 *
 * Host → isolate: ONE `dispatch(event, payload)` function, called asynchronously with a CPU timeout
 * through a per-instance FIFO. Payloads are copies; the reply is a copy.
 *
 * host-api imports nothing from runtime/, so the few shapes shared with the instance contract
 * (runtime/instances/script-contract.ts) are declared again here; sandbox.ts passes contract values
 * into these types, so the compiler checks that the two stay compatible.
 */

export type AccessField = 'readAccess' | 'writeAccess' | 'audioSampleAccess' | 'videoSampleAccess';

/** What the isolate learns about a connecting client (script-contract ClientInfo). */
export interface ClientRecord {
  id: string;
  ip: string;
  agent: string;
  protocol: string;
  referrer: string;
  pageUrl: string;
  uri: string;
  objectEncoding: number;
  virtualKey: string;
  readAccess: string;
  writeAccess: string;
  audioSampleAccess: string;
  videoSampleAccess: string;
}

export interface StreamRecord {
  name: string;
  publishQueryString: string;
}

/** FMS info object ({level, code, description, ...}); built on the host side by status-codes.ts. */
export interface InfoRecord {
  level: string;
  code: string;
  description?: string;
  [field: string]: unknown;
}

export interface RejectRecord {
  application?: unknown;
  redirect?: string;
  description?: string;
}

export type CallReply = { ok: true; value: unknown } | { ok: false; code: 'NetConnection.Call.Failed'; description: string };

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

export type FileType = 'text' | 'binary' | 'utf8';
export type FileIoOp =
  | 'read' | 'readln' | 'readlns' | 'readAll' | 'readByte'
  | 'write' | 'writeByte'
  | 'eof' | 'position' | 'seek' | 'setPosition' | 'length' | 'flush' | 'close';
export type FileChangeOp = 'mkdir' | 'remove' | 'renameTo' | 'copyTo';

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

/** Operations the isolate may perform (isolate → host). Each returns at once. */
export interface HostCalls {
  trace(text: string): void;
  /**
   * Sent by host-api only, after the host answered a call with the deadline reply: the stack where
   * the script was, so the timeout is reported with its file and line like a pure-JS one.
   */
  timedOut(stack: string): void;
  /** A P2 member was used; the host logs "unsupported: <member>" (host-api sends each name once). */
  unsupported(member: string): void;
  load(name: string): LoadReply;
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
  applicationStats(): Record<string, number>;
  shutdown(): void;
  /** Starts a host timer; its ticks come back as `timer` events. Returns the timer id (> 0). */
  setTimer(ms: number, repeat: boolean): number;
  clearTimer(timerId: number): void;
  // Server-side NetConnection / NetStream / Stream (ids chosen by host-api; media stays on the host).
  ncConnect(ncId: number, uri: string, args: unknown[]): boolean;
  /** responderId 0 = no result wanted; otherwise a `callResult` event comes back later. */
  ncCall(ncId: number, method: string, args: unknown[], responderId: number): boolean;
  ncClose(ncId: number): void;
  nsCreate(nsId: number, ncId: number): void;
  nsAttach(nsId: number, streamName: string | null): boolean;
  nsPublish(nsId: number, name: string | false, type: 'live' | 'record' | 'append'): boolean;
  nsSend(nsId: number, values: unknown[]): boolean;
  /** ns.time: seconds of media the relay has carried to the remote stream (0 when not publishing). */
  nsTime(nsId: number): number;
  streamGet(name: string): string | null;
  streamPlay(name: string, source: string | false, startSec: number, lengthSec: number, reset: number | boolean, ncId: number | null): boolean;
  streamRecord(name: string, mode: 'record' | 'append' | false): boolean;
  streamSend(name: string, handler: string, args: unknown[]): boolean;
  streamDestroy(name: string): boolean;
  streamLength(name: string): number;
  /** s.clear(): deletes the stream's recorded file; NetStream.Clear.Success/Failed follows as a status. */
  streamClear(name: string): boolean;
  /** s.time: the stream's current position in seconds (0 when nothing plays or publishes into it). */
  streamTime(name: string): number;
  soGet(name: string, persistent: boolean): boolean;
  soOp(name: string, op: string, args: unknown[]): unknown;
  // File (synchronous, as in FMS). A refused path answers null / false / 0 and is logged once.
  fileInfo(path: string): FileInfoRecord | null;
  fileList(path: string): string[] | null;
  fileChange(path: string, op: FileChangeOp, arg: string | boolean): boolean;
  /** A handle (> 0), or 0 when the file can't be opened. */
  fileOpen(path: string, type: FileType, mode: string): number;
  fileIo(handle: number, op: FileIoOp, arg: string | number | null): unknown;
  /** LoadVars / XML: false when refused before starting; otherwise an `httpResult` event comes back. */
  httpRequest(requestId: number, request: HttpRequestRecord): boolean;
  /** application.clearSharedObjects(soPath). */
  soClearPath(soPath: string): boolean;
  /** SharedObject.get(name, persistent, nc): `key` names the handle in later soOp calls and events. */
  soGetProxied(key: string, ncId: number, name: string, persistent: boolean): boolean;
  /** application.registerClass: from now on typed objects with this alias are tagged on their way in. */
  registerClass(alias: string, registered: boolean): void;
}

export type HostOp = keyof HostCalls;

/**
 * `[true, value]`, `[false, message]` when the host refused the arguments, or `['deadline']` when
 * the running handler is past its time (the host is about to end the isolate; host-api reports
 * where the script is with `timedOut` and unwinds).
 */
export type HostReply<T> = [ok: true, value: T] | [ok: false, message: string] | [ok: 'deadline'];

/** The single synchronous callback the bootstrap receives. */
export type HostFunction = <K extends HostOp>(op: K, args: Parameters<HostCalls[K]>) => HostReply<ReturnType<HostCalls[K]>>;

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
}

/** The bundle's entry: `install(host, options)` returns the dispatch function. */
export type InstallFunction = (host: HostFunction, options: BootOptions) => DispatchFunction;

/**
 * The contract between an application instance (host side, runtime/instances/) and whatever runs its
 * script (runtime/sandbox/ for main.asc; `NoScript` when the app folder has no script).
 *
 * Direction: the instance calls `ApplicationScript` methods to deliver FMS events; the script side calls
 * `InstanceHooks` (given at construction) to act on the world. Only plain, JSON/AMF-safe data crosses:
 * ids, names, info objects and call arguments — never sockets or media.
 */

/** What a script may know about a client (Client class properties, fms-api.md §3.1). */
export interface ClientInfo {
  id: string;
  ip: string;
  /** connect flashVer, e.g. "FMLE/3.0 (compatible; FMSc/1.0)" or "LNX 9,0,124,2". */
  agent: string;
  protocol: 'rtmp';
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

export interface StreamInfo {
  /** Stream name without query string (prefix like mp4: kept). */
  name: string;
  /** The part after `?` given at publish, '' when none. */
  publishQueryString: string;
}

/** Outcome of the script's `onConnect`. 'pending' = the script will call accept/reject later. */
export type ConnectOutcome = 'accept' | 'reject' | 'pending';

/** Outcome of a client→server call (`nc.call("method", responder, ...args)`). */
export type CallOutcome =
  | { ok: true; value: unknown }
  /** `notRun`: the call never reached the script (retired by a hot reload, or unloaded, before its turn). */
  | { ok: false; code: 'NetConnection.Call.Failed'; description: string; notRun?: true };

export interface RejectInfo {
  /** The errObj of rejectConnection; delivered as info.application. */
  application?: unknown;
  /** For redirectConnection. */
  redirect?: string;
  description?: string;
}

/** Result of a server→client call, delivered back to the script's responder. */
export type ClientCallResult = { ok: true; value: unknown } | { ok: false; info: Record<string, unknown> };

/**
 * Server-side NetConnection / NetStream / Stream operations (fms-api §4–§6). Ids are chosen by the
 * script side; media never crosses: the host wires native relays between streams and connections.
 */
export interface MediaHooks {
  ncConnect(ncId: number, uri: string, args: unknown[]): boolean;
  ncCall(ncId: number, method: string, args: unknown[], onResult?: (result: ClientCallResult) => void): boolean;
  ncClose(ncId: number): void;
  nsCreate(nsId: number, ncId: number): void;
  /** Source of a NetStream relay: a stream name of this instance, or null to detach. */
  nsAttach(nsId: number, streamName: string | null): boolean;
  nsPublish(nsId: number, name: string | false, type: 'live' | 'record' | 'append'): boolean;
  nsSend(nsId: number, values: unknown[]): boolean;
  /** ns.time in seconds: media time the relay has carried so far; 0 when it is not publishing. */
  nsTime(nsId: number): number;
  /** Normalised stream name for Stream.get, or null when the name is not valid. */
  streamGet(name: string): string | null;
  streamPlay(name: string, source: string | false, startSec: number, lengthSec: number, reset: number | boolean, ncId: number | null): boolean;
  streamRecord(name: string, mode: 'record' | 'append' | false): boolean;
  streamSend(name: string, handler: string, args: unknown[]): boolean;
  streamDestroy(name: string): boolean;
  streamLength(name: string): number;
  /** s.clear(): deletes the recorded file; false (and Clear.Failed) when absent, in use by a recording, or refused. */
  streamClear(name: string): boolean;
  /** s.time in seconds: the stream's current media time; 0 when nothing plays or publishes into it. */
  streamTime(name: string): number;
}

/** Server-side SharedObject operations (fms-api §7) on the script's handles, keyed by SO name. */
export const SHARED_OBJECT_OPS = [
  'getProperty', 'setProperty', 'getPropertyNames', 'size', 'send', 'lock', 'unlock', 'flush', 'clear', 'close', 'purge', 'version',
  'resyncDepth', 'setResyncDepth',
] as const;
export type SharedObjectOp = (typeof SHARED_OBJECT_OPS)[number];

export interface SharedObjectHooks {
  /** SharedObject.get(name, persistent): false when the name is refused or persistence differs. */
  get(name: string, persistent: boolean): boolean;
  op(name: string, op: SharedObjectOp, args: unknown[]): unknown;
  /** application.clearSharedObjects(soPath): true only when everything matched was cleared. */
  clearSharedObjects(soPath: string): boolean;
  /**
   * SharedObject.get(name, persistent, nc): a proxied SO owned by whatever `ncId` connects to,
   * operated with op(key, …) like a local one. False when that NetConnection does not exist.
   */
  getProxied(key: string, ncId: number, name: string, persistent: boolean): boolean;
}

/** Status events of server-side media objects, delivered to the script's onStatus handlers. */
export type MediaEvent =
  | { kind: 'soSync'; name: string; list: Record<string, unknown>[] }
  | { kind: 'soSend'; name: string; handler: string; args: unknown[] }
  | { kind: 'soStatus'; name: string; info: Record<string, unknown> }
  | { kind: 'ncStatus'; ncId: number; info: Record<string, unknown> }
  | { kind: 'nsStatus'; nsId: number; info: Record<string, unknown> }
  | { kind: 'streamStatus'; name: string; info: Record<string, unknown> };

/** Operations the script side may perform on its instance (isolate → host). */
export interface InstanceHooks {
  media: MediaHooks;
  sharedObjects: SharedObjectHooks;
  /** trace() output: one log record, msg = text. */
  trace(text: string): void;
  /** A script problem already classified; logs once with code Application.Script.Error. */
  scriptError(info: { description: string; filename?: string; lineno?: number; linebuf?: string }): void;
  acceptConnection(clientId: string): void;
  rejectConnection(clientId: string, info: RejectInfo): void;
  disconnect(clientId: string): boolean;
  /**
   * client.call: sends a command to the client. When `wantResult`, `onResult` is called later
   * (the script side keeps the responder keyed by its own id). Returns false when not sent.
   */
  clientCall(clientId: string, method: string, args: unknown[], onResult?: (result: ClientCallResult) => void): boolean;
  broadcastMsg(method: string, args: unknown[]): void;
  /** Client property writes the host enforces (readAccess, writeAccess, ...). */
  setClientAccess(clientId: string, field: 'readAccess' | 'writeAccess' | 'audioSampleAccess' | 'videoSampleAccess', value: string): void;
  clientStats(clientId: string): Record<string, number>;
  /** client.ping(): an RTMP PingRequest; the round trip shows in clientStats' ping_rtt when answered. */
  clientPing(clientId: string): boolean;
  applicationStats(): Record<string, number>;
  /** application.shutdown(): asynchronous unload with Application.Shutdown. */
  shutdown(): void;
}

/** FMS events delivered to the script, in order, each run to completion (one FIFO per instance). */
export interface ApplicationScript {
  /**
   * Compile + run top level and load()ed files only (a hot reload's trial run; no onAppStart yet).
   * Rejects with ScriptError on failure. Idempotent.
   */
  load(): Promise<void>;
  /** load() unless already done, then onAppStart. Rejects with ScriptError on failure. */
  start(): Promise<void>;
  connect(client: ClientInfo, args: unknown[]): Promise<ConnectOutcome>;
  disconnect(clientId: string): Promise<void>;
  call(clientId: string, method: string, args: unknown[]): Promise<CallOutcome>;
  publish(clientId: string, stream: StreamInfo): Promise<void>;
  unpublish(clientId: string, stream: StreamInfo): Promise<void>;
  /** A status for a server-side NetConnection/NetStream/Stream (runs its onStatus). */
  mediaEvent(event: MediaEvent): Promise<void>;
  /** The remote server called a method on a server-side NetConnection of this script. */
  ncCall(ncId: number, method: string, args: unknown[]): Promise<CallOutcome>;
  /** onAppStop(info); resolves false when the script refuses the unload (only honoured for GC). */
  stop(code: 'Application.GC' | 'Application.Shutdown'): Promise<boolean>;
  /** Free the isolate and all its timers. Idempotent. */
  dispose(): void;
  /**
   * A hot reload replaced this script: events still queued settle as not run (a call with
   * `notRun`), a handler already running finishes (under its timeout), then dispose(). Idempotent.
   */
  retire(): void;
  /** Absolute paths of the script files run so far (main.asc, load()ed files, libraries). */
  sourceFiles(): string[];
}

/**
 * What the primary and its worker processes say to each other over Node's IPC channel
 * (child_process fork with serialization 'advanced', so Buffers travel as they are). Sockets travel
 * beside a `connection` message as Node handles. Declared once here for both sides.
 */
import type { Config } from '../config.ts';
import type { TransportKind } from '../rtmp/transport.ts';

/** Who the client is and how it came, as the primary saw it (the worker's socket may be a local pair). */
export interface HandedClient {
  kind: TransportKind;
  /** The RTMPE cipher was on (the primary deciphers; the worker reads plain RTMP). */
  encrypted: boolean;
  remoteAddress: string;
}

/** Sent to the worker that serves a client, with its socket (the client's own, or the worker's end of a pair). */
export interface ConnectionMessage {
  type: 'connection';
  /** The primary's id of this connection; `closed` names it back. */
  id: number;
  /** Order of handed connections; instance reports say the last one they saw (InstanceRouter). */
  seq: number;
  client: HandedClient;
  bytesIn: number;
  bytesOut: number;
  /** Everything read after the handshake (the connect command and what came with it). */
  replay: Buffer;
}

/** What the primary asks a worker; the answer comes back as a `reply` with the same id. */
export type WorkerRequest =
  /** One admin API route, answered by the worker's own AdminApi. */
  | { op: 'admin'; method: string; path: string }
  /** prom-client JSON of the worker's metrics. */
  | { op: 'metrics' }
  /** Hot reload of an app (every loaded instance of it, or one) in this worker. */
  | { op: 'reload'; app: string; instance?: string; mode: 'carry' | 'restart' }
  /** A script library file changed: reload the apps of this worker that use it. */
  | { op: 'reloadLibrary'; file: string; mode: 'carry' | 'restart' }
  /** Application.xml LoadOnStartup: start this app's default instance here (the primary picked this worker). */
  | { op: 'loadOnStartup'; app: string }
  /** Server shutdown: instances get onAppStop, clients are closed, then the worker exits. */
  | { op: 'shutdown' };

export type PrimaryMessage = ConnectionMessage | { type: 'request'; id: number; request: WorkerRequest };

export type WorkerMessage =
  | { type: 'ready' }
  /** A handed connection ended (the primary releases what it kept for it). */
  | { type: 'closed'; id: number }
  /** The instances loaded now, after every handed connection up to `lastSeq` was processed. */
  | { type: 'instances'; names: string[]; lastSeq: number }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

/** How the primary starts a worker: `fms-runtime __worker` with this JSON in the environment. */
export interface WorkerSettings {
  index: number;
  /** The server's configuration, as the primary read it (a worker watches no files and opens no port of it). */
  config: Config;
  /** The worker's HTTP server listens here (egress requests the primary passes on). */
  httpSocketPath: string;
  /** The primary's ports (loopback NetConnection URIs without a port go to them). */
  ports: { rtmp: number; http: number; rtmps: number; https: number };
}

export const WORKER_ENV = 'FMS_RUNTIME_WORKER';
/** The hidden subcommand a worker process runs (runtime/main.ts). */
export const WORKER_COMMAND = '__worker';

import type { Logger } from '../log/logger.ts';
import type { LiveStream } from '../media/live-stream.ts';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { lastFlvTimestamp } from '../media/flv-file.ts';
import { parseStreamName, StreamRegistry } from '../media/stream-registry.ts';
import { resolveStreamFile } from '../media/stream-files.ts';
import type { ScriptError } from '../errors.ts';
import type { AppDefinition } from './app-catalog.ts';
import type { ClientSession, SessionOwner } from './client-session.ts';
import type { StreamHost } from './net-stream-session.ts';
import type { RelayStats } from '../media/relay.ts';
import { OutboundConnections } from './outbound-connections.ts';
import type { ApplicationScript, InstanceHooks, MediaEvent, MediaHooks, RejectInfo, StreamInfo } from './script-contract.ts';
import { ProxiedSharedObjects } from './proxied-shared-objects.ts';
import { ScriptSharedObjects } from './script-shared-objects.ts';
import { ServerStreams } from './server-streams.ts';
import { SharedObjectStore } from './shared-object-store.ts';
import { status } from './status-codes.ts';

export type ScriptFactory = (
  def: AppDefinition,
  instanceName: string,
  hooks: InstanceHooks,
  onFatal: (error: ScriptError) => void,
) => ApplicationScript;

export interface AppInstanceOptions {
  /** Root folder of persistent shared objects. */
  sharedObjectsDir: string;
  /** This server's RTMP port: where rtmp://localhost/... without a port goes. */
  ownRtmpPort: () => number;
  connectTimeoutMs: number;
  idleUnloadSec: number;
  gopCacheMaxBytes: number;
  playerMaxBufferedBytes: number;
}

type InstanceState = 'starting' | 'running' | 'stopping' | 'closed';

/**
 * One application instance (`app/inst`): its clients, its live streams and its script.
 * Owns the FMS life cycle: start (top level + onAppStart), connects routed through onConnect,
 * idle unload with Application.GC, shutdown, and fatal script failures.
 */
export class AppInstance implements SessionOwner, StreamHost {
  readonly name: string;
  readonly def: AppDefinition;
  readonly instanceName: string;
  readonly streams: StreamRegistry;
  readonly log: Logger;
  readonly startedAt = Date.now();
  readonly #options: AppInstanceOptions;
  readonly #script: ApplicationScript;
  readonly #outbound: OutboundConnections;
  /** SharedObject.get(name, persistent, nc): SOs of other instances/servers, through #outbound. */
  readonly #proxiedSharedObjects: ProxiedSharedObjects;
  /** Remote shared objects of this instance (clients use them over RTMP messages 19/16). */
  readonly sharedObjects: SharedObjectStore;
  readonly #serverStreams: ServerStreams;
  readonly #sessions = new Map<string, ClientSession>();
  readonly #onClosed: (instance: AppInstance) => void;
  #state: InstanceState = 'starting';
  #started: Promise<boolean>;
  #idleTimer: NodeJS.Timeout | null = null;
  /** onDisconnect handlers queued but not yet run (unload waits for them). */
  readonly #disconnecting = new Set<Promise<void>>();
  stats = { totalConnects: 0, totalDisconnects: 0, scriptErrors: 0 };

  constructor(def: AppDefinition, instanceName: string, options: AppInstanceOptions, createScript: ScriptFactory, log: Logger, onClosed: (instance: AppInstance) => void) {
    this.def = def;
    this.instanceName = instanceName;
    this.name = `${def.name}/${instanceName}`;
    this.#options = options;
    this.log = log.child({ app: this.name });
    this.#onClosed = onClosed;
    this.streams = new StreamRegistry({ gopCacheMaxBytes: options.gopCacheMaxBytes });
    const mediaEvent = (event: MediaEvent) => {
      if (this.#state === 'closed') return;
      void this.#script.mediaEvent(event).catch((error: unknown) => this.#reportScriptError(error));
    };
    this.sharedObjects = new SharedObjectStore({ dataDir: options.sharedObjectsDir, app: def.name, instance: instanceName, log: this.log });
    this.sharedObjects.onSync = (name, list) => mediaEvent({ kind: 'soSync', name, list: list as unknown as Record<string, unknown>[] });
    this.sharedObjects.onSend = (name, handler, args) => mediaEvent({ kind: 'soSend', name, handler, args });
    this.#outbound = new OutboundConnections(
      this.streams,
      {
        ncStatus: (ncId, info) => mediaEvent({ kind: 'ncStatus', ncId, info }),
        nsStatus: (nsId, info) => mediaEvent({ kind: 'nsStatus', nsId, info }),
        ncIncomingCall: async (ncId, method, args) => {
          const outcome = await this.#script.ncCall(ncId, method, args);
          return outcome.ok ? outcome : { ok: false, description: outcome.description };
        },
      },
      { ownRtmpPort: options.ownRtmpPort, relayMaxBufferedBytes: options.playerMaxBufferedBytes, agent: `FMS/3,5,7,7009 (fms-runtime; ${this.name})` },
      this.log,
    );
    this.#proxiedSharedObjects = new ProxiedSharedObjects(
      this.#outbound,
      {
        sync: (key, list) => mediaEvent({ kind: 'soSync', name: key, list }),
        send: (key, handler, args) => mediaEvent({ kind: 'soSend', name: key, handler, args }),
      },
      this.log,
    );
    this.#serverStreams = new ServerStreams(
      {
        streams: this.streams,
        recordedFile: (name) => this.recordedFile(name),
        remoteConnection: (ncId) => this.#outbound.netConnection(ncId),
        streamStatus: (name, info) => mediaEvent({ kind: 'streamStatus', name, info }),
      },
      this.log,
    );
    this.#script = createScript(def, instanceName, this.#hooks, (error) => this.#fatal(error));
    this.#started = this.#start();
  }

  get streamHost(): StreamHost {
    return this;
  }

  /** FMS layout: recorded streams live in <app>/streams/<instance>/<name>.flv. */
  recordedFile(name: string): string | null {
    return resolveStreamFile(path.join(this.def.dir, 'streams'), this.instanceName, name);
  }

  get playerMaxBufferedBytes(): number {
    return this.#options.playerMaxBufferedBytes;
  }

  /** Resolves true once the script's top level and onAppStart ran, false if the start failed. */
  get started(): Promise<boolean> {
    return this.#started;
  }

  get state(): InstanceState {
    return this.#state;
  }

  get sessions(): ClientSession[] {
    return [...this.#sessions.values()];
  }

  async #start(): Promise<boolean> {
    try {
      await this.#script.start();
      if (this.#state !== 'starting') return false;
      this.#state = 'running';
      this.log.info({ script: this.def.scriptPath }, 'instance started');
      if (this.#sessions.size === 0) this.#scheduleIdle(); // started without a client (reload, load on startup)
      return true;
    } catch (error) {
      this.#reportScriptError(error);
      this.log.error('instance failed to start');
      this.#close();
      return false;
    }
  }

  /** A new client: wait for start, then let onConnect decide (maybe later). */
  async connect(session: ClientSession): Promise<void> {
    this.#cancelIdle();
    this.#sessions.set(session.id, session);
    session.attach(this, this.#options.connectTimeoutMs);
    this.stats.totalConnects++;
    if (!(await this.#started) || this.#state !== 'running') {
      session.rejectWith(status.connectRejected(`Application (${this.name}) failed to start.`));
      return;
    }
    if (session.state !== 'pending') return;
    const outcome = await this.#script.connect(session.info, session.connectArgs).catch((error: unknown) => {
      this.#reportScriptError(error);
      return 'reject' as const;
    });
    if (outcome === 'accept') this.#hooks.acceptConnection(session.id);
    else if (outcome === 'reject') this.#hooks.rejectConnection(session.id, {});
  }

  async call(session: ClientSession, method: string, args: unknown[]) {
    const outcome = await this.#script.call(session.id, method, args).catch((error: unknown) => {
      this.#reportScriptError(error);
      return { ok: false as const, code: 'NetConnection.Call.Failed' as const, description: 'Script error.' };
    });
    if (outcome.ok) return outcome;
    // FMS 3+ answers getStreamLength itself unless the script defines it (FLVPlayback and ffmpeg call it).
    if (method === 'getStreamLength' && outcome.description.startsWith('Method not found')) {
      return { ok: true as const, value: this.streamLengthSec(String(args[0] ?? '')) };
    }
    return { ok: false as const, description: outcome.description };
  }

  /** Stream.length semantics: duration in seconds of a recorded stream, 0 when there is none. */
  streamLengthSec(name: string): number {
    const file = this.recordedFile(parseStreamName(name).name);
    if (!file || !existsSync(file)) return 0;
    return lastFlvTimestamp(file) / 1000;
  }

  publishStarted(session: ClientSession, _stream: LiveStream, info: StreamInfo): void {
    void this.#script.publish(session.id, info).catch((error: unknown) => this.#reportScriptError(error));
  }

  publishStopped(session: ClientSession, _stream: LiveStream, info: StreamInfo): void {
    if (this.#state === 'closed') return;
    void this.#script.unpublish(session.id, info).catch((error: unknown) => this.#reportScriptError(error));
  }

  sessionClosed(session: ClientSession, _reason: string, wasAccepted: boolean): void {
    if (!this.#sessions.delete(session.id)) return;
    this.stats.totalDisconnects++;
    // onDisconnect is for accepted clients only; rejected or pending ones never joined.
    if (wasAccepted && this.#state !== 'closed') {
      const done = this.#script.disconnect(session.id).catch((error: unknown) => this.#reportScriptError(error));
      this.#disconnecting.add(done);
      void done.finally(() => this.#disconnecting.delete(done));
    }
    if (this.#sessions.size === 0) this.#scheduleIdle();
  }

  #scheduleIdle(): void {
    if (this.#state !== 'running') return;
    this.#cancelIdle();
    this.#idleTimer = setTimeout(() => void this.unload('Application.GC'), this.#options.idleUnloadSec * 1000);
    this.#idleTimer.unref();
  }

  #cancelIdle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  /** onAppStop, then disconnect everyone and free the script. GC unloads can be refused by the script. */
  async unload(code: 'Application.GC' | 'Application.Shutdown'): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'stopping') return;
    if (code === 'Application.GC' && this.#sessions.size > 0) return;
    const previous = this.#state;
    this.#state = 'stopping';
    const allow = previous === 'running' ? await this.#script.stop(code).catch(() => true) : true;
    if (code === 'Application.GC' && allow === false && this.#sessions.size === 0) {
      this.#state = 'running';
      this.log.info('onAppStop refused the idle unload');
      this.#scheduleIdle();
      return;
    }
    // Closing each session queues its onDisconnect; FMS runs them all before the instance goes away.
    for (const session of this.sessions) session.disconnect('application unloaded', status.connectAppShutdown(this.name));
    await Promise.all(this.#disconnecting);
    await this.sharedObjects.close(); // persistent shared objects are on disk before the instance goes
    this.log.info({ code }, 'instance unloaded');
    this.#close();
  }

  #fatal(error: ScriptError): void {
    if (this.#state === 'closed') return;
    this.#reportScriptError(error);
    for (const session of this.sessions) {
      if (session.accepted) session.disconnect('script failure', status.connectAppShutdown(this.name));
      else session.rejectWith(status.connectRejected(`Application (${this.name}) script failed.`));
    }
    this.#close();
  }

  /** Relay states for the admin layer and tests. */
  relays(): RelayStats[] {
    return this.#outbound.relays();
  }

  #close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#cancelIdle();
    this.#outbound.closeAll();
    this.#serverStreams.closeAll();
    void this.sharedObjects.close(); // idempotent; flushes persistent shared objects on the fatal path too
    this.#script.dispose();
    for (const session of this.sessions) session.disconnect('application closed');
    this.#onClosed(this);
  }

  #reportScriptError(error: unknown): void {
    this.stats.scriptErrors++;
    const e = error as ScriptError;
    this.log.error(
      { code: 'Application.Script.Error', errorCode: e?.code, filename: e?.filename, lineno: e?.lineno, linebuf: e?.linebuf },
      e?.message ?? String(error),
    );
  }

  /** The operations a script may perform, each validated against this instance's own clients. */
  readonly #mediaHooks: MediaHooks = {
    ncConnect: (ncId, uri, args) => this.#outbound.connect(ncId, uri, args),
    ncCall: (ncId, method, args, onResult) => this.#outbound.call(ncId, method, args, onResult),
    ncClose: (ncId) => this.#outbound.close(ncId),
    nsCreate: (nsId, ncId) => this.#outbound.createStream(nsId, ncId),
    nsAttach: (nsId, streamName) => this.#outbound.attach(nsId, streamName),
    nsPublish: (nsId, name, type) => this.#outbound.publish(nsId, name, type),
    nsSend: (nsId, values) => this.#outbound.send(nsId, values),
    streamGet: (name) => this.#serverStreams.get(name),
    streamPlay: (name, source, startSec, lengthSec, reset, ncId) => this.#serverStreams.play(name, source, startSec, lengthSec, reset, ncId),
    streamRecord: (name, mode) => this.#serverStreams.record(name, mode),
    streamSend: (name, handler, args) => this.#serverStreams.send(name, handler, args),
    streamDestroy: (name) => this.#serverStreams.destroy(name),
    streamLength: (name) => this.streamLengthSec(name),
  };

  readonly #hooks: InstanceHooks = {
    media: this.#mediaHooks,
    sharedObjects: new ScriptSharedObjects(() => this.sharedObjects, () => this.#proxiedSharedObjects ?? null),
    trace: (text) => this.log.info({ trace: true }, text),
    scriptError: (info) => {
      this.stats.scriptErrors++;
      const { description, ...where } = info;
      this.log.error({ code: 'Application.Script.Error', ...where }, description);
    },
    acceptConnection: (clientId) => {
      const session = this.#sessions.get(clientId);
      if (!session || session.state !== 'pending') return;
      session.accept();
      session.log.info({ app: this.name, agent: session.info.agent }, 'client accepted');
    },
    rejectConnection: (clientId, info: RejectInfo) => {
      const session = this.#sessions.get(clientId);
      if (!session || session.state !== 'pending') return;
      session.log.info({ app: this.name, redirect: info.redirect }, 'client rejected');
      session.reject(info);
    },
    disconnect: (clientId) => {
      const session = this.#sessions.get(clientId);
      if (!session || session.state === 'closed') return false;
      session.disconnect('application.disconnect');
      return true;
    },
    clientCall: (clientId, method, args, onResult) => this.#sessions.get(clientId)?.call(method, args, onResult) ?? false,
    broadcastMsg: (method, args) => {
      for (const session of this.#sessions.values()) if (session.accepted) session.call(method, args);
    },
    setClientAccess: (clientId, field, value) => {
      const session = this.#sessions.get(clientId);
      if (session) session.info[field] = value;
    },
    clientStats: (clientId) => {
      const c = this.#sessions.get(clientId)?.connection;
      if (!c) return {} as Record<string, number>;
      return {
        bytes_in: c.bytesIn, bytes_out: c.bytesOut, msg_in: c.messagesIn, msg_out: c.messagesOut, msg_dropped: 0,
        ping_rtt: c.lastPingRttMs, bw_in: 0, bw_out: 0,
      };
    },
    applicationStats: () => {
      let bytesIn = 0;
      let bytesOut = 0;
      let msgIn = 0;
      let msgOut = 0;
      for (const s of this.#sessions.values()) {
        bytesIn += s.connection.bytesIn;
        bytesOut += s.connection.bytesOut;
        msgIn += s.connection.messagesIn;
        msgOut += s.connection.messagesOut;
      }
      return {
        bw_in: 0, bw_out: 0, bytes_in: bytesIn, bytes_out: bytesOut, msg_in: msgIn, msg_out: msgOut, msg_dropped: 0,
        server_bytes_in: bytesIn, server_bytes_out: bytesOut,
        total_connects: this.stats.totalConnects, total_disconnects: this.stats.totalDisconnects,
      };
    },
    shutdown: () => {
      queueMicrotask(() => void this.unload('Application.Shutdown'));
    },
  };
}

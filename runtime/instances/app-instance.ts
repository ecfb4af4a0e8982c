import type { Logger } from '../log/logger.ts';
import type { LiveStream } from '../media/live-stream.ts';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { lastFlvTimestamp } from '../media/flv-file.ts';
import { parseStreamName, StreamRegistry } from '../media/stream-registry.ts';
import { resolveStreamFile, resolveVirtualStreamFile } from '../media/stream-files.ts';
import { ErrorCode, type ScriptError } from '../errors.ts';
import type { AppDefinition } from './app-catalog.ts';
import { DEFAULT_ACCESS, type ClientSession, type SessionOwner } from './client-session.ts';
import type { StreamHost } from './net-stream-session.ts';
import type { RelayStats } from '../media/relay.ts';
import type { CallOutcome, ClientInfo, InstanceHooks, RejectInfo, StreamInfo } from './script-contract.ts';
import { ScriptGeneration, type GenerationHost, type ScriptFactory } from './script-generation.ts';
import { SharedObjectStore } from '../shared-objects/shared-object-store.ts';
import { status } from './status-codes.ts';

export type { ScriptFactory } from './script-generation.ts';

type AccessField = 'readAccess' | 'writeAccess' | 'audioSampleAccess' | 'videoSampleAccess';
const ACCESS_FIELDS: readonly AccessField[] = ['readAccess', 'writeAccess', 'audioSampleAccess', 'videoSampleAccess'];

export interface AppInstanceOptions {
  /** Root folder of persistent shared objects. */
  sharedObjectsDir: string;
  /** This server's RTMP port: where rtmp://localhost/... without a port goes. */
  ownRtmpPort: () => number;
  connectTimeoutMs: number;
  idleUnloadSec: number;
  /** How long an unload waits for the script (queued events, onAppStop, onDisconnect) before ending it. */
  unloadTimeoutMs: number;
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
  /** Replaced by a hot reload (the app folder's script may have moved). */
  def: AppDefinition;
  readonly instanceName: string;
  readonly streams: StreamRegistry;
  readonly log: Logger;
  readonly startedAt = Date.now();
  readonly #options: AppInstanceOptions;
  readonly #createScript: ScriptFactory;
  /** The script now serving, with the relays/streams/SO handles it created. */
  #gen: ScriptGeneration;
  /** 1 for the first script; each hot reload that carried the clients over adds one. */
  generation = 1;
  /**
   * Carried-over clients whose onConnect in the new generation has not decided yet, with the access
   * fields (readAccess…) its script has set so far. Until it decides, the limits the old script set
   * stay enforced; then the fields it did not set fall back to the defaults a new Client starts with.
   */
  readonly #carriedAccess = new Map<string, Set<AccessField>>();
  /** What every script generation borrows from this instance. */
  readonly #generationHost: GenerationHost;
  /** Remote shared objects of this instance (clients use them over RTMP messages 19/16). */
  readonly sharedObjects: SharedObjectStore;
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
    this.#createScript = createScript;
    this.sharedObjects = new SharedObjectStore({ dataDir: options.sharedObjectsDir, app: def.name, instance: instanceName, log: this.log });
    this.sharedObjects.onSync = (name, list) => this.#gen.mediaEvent({ kind: 'soSync', name, list: list as unknown as Record<string, unknown>[] });
    this.sharedObjects.onSend = (name, handler, args) => this.#gen.mediaEvent({ kind: 'soSend', name, handler, args });
    this.#generationHost = {
      name: this.name,
      instanceName,
      streams: this.streams,
      sharedObjects: () => this.sharedObjects,
      recordedFile: (name) => this.recordedFile(name),
      streamLengthSec: (name) => this.streamLengthSec(name),
      ownRtmpPort: options.ownRtmpPort,
      relayMaxBufferedBytes: options.playerMaxBufferedBytes,
      clientHooks: this.#hooks,
      reportScriptError: (error) => this.#reportScriptError(error),
      onFatal: (gen, error) => {
        if (gen === this.#gen) this.#fatal(error);
        else {
          this.#reportScriptError(error); // a trial generation failed between load() and the swap
          gen.retire();
        }
      },
      log: this.log,
    };
    this.#gen = new ScriptGeneration(def, this.#generationHost, createScript);
    this.#started = this.#start();
  }

  get streamHost(): StreamHost {
    return this;
  }

  /** FMS layout: recorded streams live in <app>/streams/<instance>/<name>.flv, unless Application.xml maps the name elsewhere. */
  recordedFile(name: string): string | null {
    const mapped = resolveVirtualStreamFile(this.def.settings?.streamDirs ?? [], name);
    if (mapped !== undefined) return mapped;
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
      await this.#gen.script.start();
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
    this.#defaultAccess(session);
    session.attach(this, this.#options.connectTimeoutMs);
    this.stats.totalConnects++;
    if (!(await this.#started) || this.#state !== 'running') {
      session.rejectWith(status.connectRejected(`Application (${this.name}) failed to start.`));
      return;
    }
    if (session.state !== 'pending') return;
    await this.#decideConnect(this.#gen, session);
  }

  /** The Client access properties before the script's onConnect: FMS defaults, then Application.xml's. */
  #defaultAccess(session: ClientSession): void {
    Object.assign(session.info, this.#accessDefaults());
  }

  #accessDefaults(): Record<AccessField, string> {
    const settings = this.def.settings;
    return { ...DEFAULT_ACCESS, ...(settings ? { audioSampleAccess: settings.audioSampleAccess, videoSampleAccess: settings.videoSampleAccess } : {}) };
  }

  /** A carried client's decision arrived: access fields the new script left alone get their defaults. */
  #settleCarriedAccess(session: ClientSession): void {
    const written = this.#carriedAccess.get(session.id);
    if (!written) return;
    this.#carriedAccess.delete(session.id);
    const defaults = this.#accessDefaults();
    for (const field of ACCESS_FIELDS) if (!written.has(field)) session.info[field] = defaults[field];
  }

  /**
   * onConnect in one generation; a generation retired meanwhile has handed the decision on.
   * `info` is what the script's Client starts from (a carried client's: the defaults).
   */
  async #decideConnect(gen: ScriptGeneration, session: ClientSession, info: ClientInfo = session.info): Promise<void> {
    const outcome = await gen.script.connect(info, session.connectArgs).catch((error: unknown) => {
      this.#reportScriptError(error);
      return 'reject' as const;
    });
    if (gen !== this.#gen) return; // a hot reload replayed this connect into the new generation
    if (outcome === 'accept') this.#hooks.acceptConnection(session.id);
    else if (outcome === 'reject') this.#hooks.rejectConnection(session.id, {});
  }

  /**
   * Hot reload that carries everyone over (the default mode). The new version's top level runs in
   * a fresh isolate first while this generation keeps serving; if it fails, nothing changes
   * (false). Otherwise the old generation is retired — its relays, streams and SO locks closed,
   * its isolate freed; clients, live streams and shared-object data stay — and the new script gets
   * onAppStart, then onConnect for every connected client, then onPublish for every live publish,
   * queued in that order before any other event can be. A carried client the new script rejects
   * is disconnected with NetConnection.Connect.Rejected.
   */
  async reload(def: AppDefinition): Promise<boolean> {
    if (this.#state !== 'running') return false;
    const next = new ScriptGeneration(def, this.#generationHost, this.#createScript);
    try {
      await next.script.load();
    } catch (error) {
      this.#reportScriptError(error);
      next.retire();
      return false;
    }
    if (this.#state !== 'running') {
      next.retire();
      return false;
    }
    const previous = this.#gen;
    this.#gen = next;
    this.def = def;
    this.generation++;
    previous.retire(true);
    const work: Promise<unknown>[] = [
      next.script.start().catch((error: unknown) => {
        // An overlapping reload may retire `next` while its onAppStart runs (dispose rejects it):
        // that is no failure of the generation now serving, which must not be shut down for it.
        if (next === this.#gen) this.#fatal(error as ScriptError);
      }),
    ];
    const sessions = this.sessions.filter((s) => s.state !== 'closed');
    for (const session of sessions) {
      if (!session.accepted) {
        this.#defaultAccess(session);
        work.push(this.#decideConnect(next, session));
        continue;
      }
      // Connected already: the old script's limits stay enforced until the new one decides
      // (a viewer must not publish or write shared objects in between), while the new script's
      // Client starts from the defaults, as a new Client object does.
      this.#carriedAccess.set(session.id, new Set());
      work.push(this.#decideConnect(next, session, { ...session.info, ...this.#accessDefaults() }));
    }
    let streams = 0;
    for (const session of sessions) {
      for (const stream of session.streams) {
        if (!stream.publishing) continue;
        streams++;
        work.push(next.script.publish(session.id, stream.publishing.info).catch((error: unknown) => this.#reportScriptError(error)));
      }
    }
    await Promise.all(work);
    // Logged once the new generation has run onAppStart and the replayed events (their traces come first).
    this.log.info({ generation: this.generation, clients: sessions.length, streams }, 'instance reloaded');
    return true;
  }

  async call(session: ClientSession, method: string, args: unknown[]) {
    const started = performance.now();
    let gen = this.#gen;
    let outcome = await this.#callIn(gen, session, method, args);
    // Queued in a generation a hot reload retired before its turn: the generation now serving answers.
    while (!outcome.ok && outcome.notRun === true && gen !== this.#gen) {
      gen = this.#gen;
      outcome = await this.#callIn(gen, session, method, args);
    }
    // Every call in the live log is a debug-level record: `--log-level debug` turns them on.
    session.log.debug({ app: this.name, method, ok: outcome.ok, ms: Math.round((performance.now() - started) * 100) / 100 }, 'call');
    if (outcome.ok) return outcome;
    // FMS 3+ answers getStreamLength itself unless the script defines it (FLVPlayback and ffmpeg call it).
    if (method === 'getStreamLength' && outcome.description.startsWith('Method not found')) {
      return { ok: true as const, value: this.streamLengthSec(String(args[0] ?? '')) };
    }
    return { ok: false as const, description: outcome.description };
  }

  #callIn(gen: ScriptGeneration, session: ClientSession, method: string, args: unknown[]): Promise<CallOutcome> {
    return gen.script.call(session.id, method, args).catch((error: unknown) => {
      this.#reportScriptError(error);
      return { ok: false as const, code: 'NetConnection.Call.Failed' as const, description: 'Script error.' };
    });
  }

  /** Stream.length semantics: duration in seconds of a recorded stream, 0 when there is none. */
  streamLengthSec(name: string): number {
    const file = this.recordedFile(parseStreamName(name).name);
    if (!file || !existsSync(file)) return 0;
    return lastFlvTimestamp(file) / 1000;
  }

  publishStarted(session: ClientSession, _stream: LiveStream, info: StreamInfo): void {
    void this.#gen.script.publish(session.id, info).catch((error: unknown) => this.#reportScriptError(error));
  }

  publishStopped(session: ClientSession, _stream: LiveStream, info: StreamInfo): void {
    if (this.#state === 'closed') return;
    void this.#gen.script.unpublish(session.id, info).catch((error: unknown) => this.#reportScriptError(error));
  }

  sessionClosed(session: ClientSession, _reason: string, wasAccepted: boolean): void {
    if (!this.#sessions.delete(session.id)) return;
    this.#carriedAccess.delete(session.id);
    this.stats.totalDisconnects++;
    // onDisconnect is for accepted clients only; rejected or pending ones never joined.
    if (wasAccepted && this.#state !== 'closed') {
      const done = this.#gen.script.disconnect(session.id).catch((error: unknown) => this.#reportScriptError(error));
      this.#disconnecting.add(done);
      void done.finally(() => this.#disconnecting.delete(done));
    }
    if (this.#sessions.size === 0) this.#scheduleIdle();
  }

  #scheduleIdle(): void {
    if (this.#state !== 'running') return;
    this.#cancelIdle();
    const idleUnloadSec = this.def.settings?.idleUnloadSec ?? this.#options.idleUnloadSec; // Application.xml MaxAppIdleTime
    this.#idleTimer = setTimeout(() => void this.unload('Application.GC'), idleUnloadSec * 1000);
    this.#idleTimer.unref();
  }

  #cancelIdle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  /**
   * onAppStop, then disconnect everyone and free the script. GC unloads can be refused by the script.
   * Whatever the script does, the wait for it (queued events, onAppStop, every onDisconnect) ends
   * after unloadTimeoutMs: then the isolate is disposed (#close) and the unload completes.
   */
  async unload(code: 'Application.GC' | 'Application.Shutdown'): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'stopping') return;
    if (code === 'Application.GC' && this.#sessions.size > 0) return;
    const previous = this.#state;
    this.#state = 'stopping';
    const startedAt = performance.now();
    const wait = new UnloadWait(this.#options.unloadTimeoutMs);
    const allow = previous === 'running' ? await wait.for(this.#gen.script.stop(code).catch(() => true)) : true;
    if (code === 'Application.GC' && allow === false && this.#sessions.size === 0) {
      wait.end();
      this.#state = 'running';
      this.log.info('onAppStop refused the idle unload');
      this.#scheduleIdle();
      return;
    }
    // Closing each session queues its onDisconnect; FMS runs them all before the instance goes away.
    for (const session of this.sessions) session.disconnect('application unloaded', status.connectAppShutdown(this.name));
    if (allow !== undefined) await wait.for(Promise.all(this.#disconnecting));
    wait.end();
    if (wait.expired) {
      this.log.warn(
        { code: ErrorCode.ScriptUnloadTimeout, unloadTimeoutMs: this.#options.unloadTimeoutMs },
        'unload deadline passed: the script is stopped without waiting for it',
      );
    }
    this.#gen.retire(); // frees the isolate now, before the disk work below
    await this.sharedObjects.close(); // persistent shared objects are on disk before the instance goes
    this.log.info({ code, ms: Math.round(performance.now() - startedAt) }, 'instance unloaded');
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

  /** Script files the current generation has run (hot reload follows shared libraries). */
  sourceFiles(): string[] {
    return this.#gen.script.sourceFiles();
  }

  /** Relay states for the admin layer and tests. */
  relays(): RelayStats[] {
    return this.#gen.relays();
  }

  #close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#cancelIdle();
    this.#gen.retire();
    void this.sharedObjects.close(); // idempotent; flushes persistent shared objects on the fatal path too
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

  /** The operations a script may perform on clients, each validated against this instance's own clients. */
  readonly #hooks: GenerationHost['clientHooks'] = {
    trace: (text) => this.log.info({ trace: true }, text),
    scriptError: (info) => {
      this.stats.scriptErrors++;
      const { description, ...where } = info;
      this.log.error({ code: 'Application.Script.Error', ...where }, description);
    },
    acceptConnection: (clientId) => {
      const session = this.#sessions.get(clientId);
      if (session && this.#carriedAccess.has(clientId)) {
        this.#settleCarriedAccess(session);
        session.log.info({ app: this.name }, 'client carried over to the reloaded script');
        return;
      }
      if (!session || session.state !== 'pending') return;
      session.accept();
      session.log.info({ app: this.name, agent: session.info.agent }, 'client accepted');
    },
    rejectConnection: (clientId, info: RejectInfo) => {
      const session = this.#sessions.get(clientId);
      if (session && this.#carriedAccess.delete(clientId)) {
        // Already connected, so no _error for the connect: the status FMS sends, then the close.
        session.log.info({ app: this.name }, 'client rejected by the reloaded script');
        const rejected = info.redirect
          ? status.connectRedirect(info.redirect, info.description, info.application)
          : status.connectRejected(info.description, info.application);
        session.disconnect('rejected by the reloaded script', rejected);
        return;
      }
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
      this.#carriedAccess.get(clientId)?.add(field);
    },
    clientStats: (clientId) => {
      const session = this.#sessions.get(clientId);
      if (!session) return {} as Record<string, number>;
      const c = session.connection;
      return {
        bytes_in: c.bytesIn, bytes_out: c.bytesOut, msg_in: c.messagesIn, msg_out: c.messagesOut, msg_dropped: session.messagesDropped,
        // Same unit as application.getStats (total kilobytes): FMS 3's Client reference says "current
        // bandwidth" without a unit, and one definition for both objects is what a script can rely on.
        ping_rtt: c.lastPingRttMs, bw_in: Math.floor(c.bytesIn / 1024), bw_out: Math.floor(c.bytesOut / 1024),
      };
    },
    clientPing: (clientId) => this.#sessions.get(clientId)?.connection.ping() ?? false,
    applicationStats: () => {
      let bytesIn = 0;
      let bytesOut = 0;
      let msgIn = 0;
      let msgOut = 0;
      let msgDropped = 0;
      for (const s of this.#sessions.values()) {
        bytesIn += s.connection.bytesIn;
        bytesOut += s.connection.bytesOut;
        msgIn += s.connection.messagesIn;
        msgOut += s.connection.messagesOut;
        msgDropped += s.messagesDropped;
      }
      return {
        // Adobe's reference: bw_in/bw_out are the total kilobytes received/sent (not a rate).
        bw_in: Math.floor(bytesIn / 1024), bw_out: Math.floor(bytesOut / 1024),
        bytes_in: bytesIn, bytes_out: bytesOut, msg_in: msgIn, msg_out: msgOut, msg_dropped: msgDropped,
        server_bytes_in: bytesIn, server_bytes_out: bytesOut,
        total_connects: this.stats.totalConnects, total_disconnects: this.stats.totalDisconnects,
      };
    },
    shutdown: () => {
      queueMicrotask(() => void this.unload('Application.Shutdown'));
    },
  };
}

/** One deadline for the whole unload: `for()` resolves undefined once it has passed. */
class UnloadWait {
  #timer: NodeJS.Timeout | undefined;
  readonly #passed: Promise<undefined>;
  expired = false;

  constructor(ms: number) {
    this.#passed = new Promise((resolve) => {
      this.#timer = setTimeout(() => {
        this.expired = true;
        resolve(undefined);
      }, ms);
    });
  }

  for<T>(work: Promise<T>): Promise<T | undefined> {
    return Promise.race([work, this.#passed]);
  }

  end(): void {
    clearTimeout(this.#timer);
  }
}

import type { Logger } from '../log/logger.ts';
import type { LiveStream } from '../media/live-stream.ts';
import { parseStreamName, StreamRegistry } from '../media/stream-registry.ts';
import { recordedFileOf, recordedLengthSec } from './recorded-streams.ts';
import { ErrorCode, type ScriptError } from '../errors.ts';
import { HostMemoryBudget } from './host-memory-budget.ts';
import type { AppDefinition } from './app-catalog.ts';
import type { OutboundNetwork } from './outbound-connections.ts';
import { DEFAULT_ACCESS, type ClientSession, type SessionOwner } from '../sessions/client-session.ts';
import { refused, type ConnectOutcome } from '../sessions/connect-request.ts';
import { CarriedAccess } from './carried-access.ts';
import { clientHooks, type ClientHooks } from './client-hooks.ts';
import type { StreamHost } from '../sessions/net-stream-session.ts';
import type { RelayStats } from '../media/relay.ts';
import type { AccessField, CallReply, ClientRecord, StreamRecord } from '../../host-api/protocol.ts';
import { ScriptGeneration, type GenerationHost, type ScriptFactory } from './script-generation.ts';
import { DEFAULT_SO_LIMITS, SharedObjectStore } from '../shared-objects/shared-object-store.ts';
import type { SoLimits } from '../shared-objects/shared-object-budget.ts';
import { status } from '../common/status-codes.ts';
import { NO_RECORDING_SETTINGS, publishRecordingLimits } from './recording-limits.ts';
import { NO_BANDWIDTH_LIMITS } from '../sessions/bandwidth-settings.ts';
import type { RecordingLimits } from '../media/recorder.ts';

export interface AppInstanceOptions {
  /** The folder of an application's persistent shared objects (one sub-folder per instance). */
  sharedObjectsDir: (app: AppDefinition) => string;
  /** This server's own ports (where rtmp://localhost/... without a port goes) and outbound TLS trust. */
  network: OutboundNetwork;
  idleUnloadSec: number;
  /** How long an unload waits for the script (queued events, onAppStop, onDisconnect) before ending it. */
  unloadTimeoutMs: number;
  gopCacheMaxBytes: number;
  playerMaxBufferedBytes: number;
  /** sharedObjects.maxSlotBytes / maxObjectBytes / maxInstanceBytes. */
  sharedObjectLimits?: SoLimits;
  /** scripts.hostMemoryMb in bytes: host memory the script may cause before the instance is shut down. */
  hostMemoryBytes?: number;
  /** scripts.maxOutboundConnections. */
  maxOutboundConnections?: number;
  /** A stream of this instance started publishing (HLS packaging "always"). */
  onStreamPublish?(instance: AppInstance, stream: LiveStream): void;
  /** Starts/stops HLS packaging of one of this instance's streams (f4f: record()); false if refused. */
  packageHls?(instance: AppInstance, streamName: string, on: boolean): boolean;
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
  /** Clients a hot reload carried over, until the new script decides about them. */
  readonly #carried = new CarriedAccess(() => this.#accessDefaults());
  /** The instance's half of the bridge for its clients (the same for every script generation). */
  readonly #clientHooks: ClientHooks;
  /** What every script generation borrows from this instance. */
  readonly #generationHost: GenerationHost;
  /** Remote shared objects of this instance (clients use them over RTMP messages 19/16). */
  readonly sharedObjects: SharedObjectStore;
  readonly #sessions = new Map<string, ClientSession>();
  readonly #onClosed: (instance: AppInstance) => void;
  #state: InstanceState = 'starting';
  #started: Promise<boolean>;
  #idleTimer: NodeJS.Timeout | null = null;
  /** scripts.hostMemoryMb: over it the instance is shut down like an isolate out of memory. */
  readonly #hostMemory: HostMemoryBudget;
  #idleSinceMs = 0;
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
    this.streams = new StreamRegistry({ gopCacheMaxBytes: options.gopCacheMaxBytes, onPublish: (stream) => options.onStreamPublish?.(this, stream) });
    this.#createScript = createScript;
    const soLimits = options.sharedObjectLimits ?? DEFAULT_SO_LIMITS;
    this.sharedObjects = new SharedObjectStore({
      appDataDir: options.sharedObjectsDir(def),
      instance: instanceName,
      log: this.log,
      limits: soLimits,
      admitScriptBytes: (bytes) => this.#hostMemory.admit(bytes),
    });
    this.sharedObjects.onSync = (name, list) => this.#gen.event('soSync', { name, list: list as unknown as Record<string, unknown>[] });
    this.sharedObjects.onSend = (name, handler, args) => this.#gen.event('soSend', { name, handler, args });
    this.#clientHooks = clientHooks({
      name: this.name,
      log: this.log,
      stats: this.stats,
      session: (clientId) => this.#sessions.get(clientId),
      sessions: () => this.#sessions.values(),
      carried: this.#carried,
      shutdown: () => queueMicrotask(() => void this.unload('Application.Shutdown')),
    });
    this.#generationHost = {
      name: this.name,
      instanceName,
      streams: this.streams,
      sharedObjects: () => this.sharedObjects,
      recordedFile: (name) => this.recordedFile(name),
      packageHls: (name, on) => options.packageHls?.(this, name, on) ?? false,
      recordingSettings: () => this.def.settings?.recording ?? NO_RECORDING_SETTINGS,
      streamLengthSec: (name) => this.streamLengthSec(name),
      network: options.network,
      relayMaxBufferedBytes: options.playerMaxBufferedBytes,
      maxOutboundConnections: options.maxOutboundConnections ?? 64,
      maxSlotBytes: soLimits.maxSlotBytes,
      clientHooks: this.#clientHooks,
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
    this.#hostMemory = new HostMemoryBudget(this.name, options.hostMemoryBytes ?? 128 * 1024 * 1024, () => this.hostMemoryBytes, (error) => this.#fatal(error));
    this.#started = this.#start();
  }

  /**
   * Host memory the script holds outside its isolate: shared-object slots it wrote last and SOs it
   * opened, its open-file buffers and timers, its outbound queues and proxied-SO calls waiting.
   */
  get hostMemoryBytes(): number {
    return this.sharedObjects.scriptBytes + this.#gen.hostBytes();
  }

  get streamHost(): StreamHost {
    return this;
  }

  /** FMS layout: recorded streams live in <app>/streams/<instance>/<name>.flv, unless Application.xml maps the name elsewhere. */
  recordedFile(name: string): string | null {
    return recordedFileOf(this.def, this.instanceName, name);
  }

  get playerMaxBufferedBytes(): number {
    return this.#options.playerMaxBufferedBytes;
  }

  publishRecordingLimits(): RecordingLimits {
    return publishRecordingLimits(this.def.settings?.recording ?? NO_RECORDING_SETTINGS);
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

  /** Since when this running instance has had no client (its idle unload is pending), else null. */
  get idleSince(): number | null {
    return this.#idleTimer === null || this.#state !== 'running' ? null : this.#idleSinceMs;
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
      if (this.#state === 'closed') return false; // shut down while starting (host memory): logged then
      this.#reportScriptError(error);
      this.log.error('instance failed to start');
      // The clients waiting for this start hear why before the close (a bare close looks like a server that is down).
      for (const session of this.sessions) session.decide(this.#startFailed());
      this.#close();
      return false;
    }
  }

  /** A new client: wait for start, then let onConnect decide (maybe later). */
  async connect(session: ClientSession): Promise<void> {
    this.#cancelIdle();
    this.#sessions.set(session.id, session);
    this.#defaultAccess(session);
    this.#defaultBandwidth(session);
    session.join(this);
    this.stats.totalConnects++;
    if (!(await this.#started) || this.#state !== 'running') {
      session.decide(this.#startFailed());
      return;
    }
    if (session.state !== 'pending') return;
    await this.#decideConnect(this.#gen, session);
  }

  /** What a client connecting to an instance that could not start gets (its script's file:line stays in the log). */
  #startFailed(): ConnectOutcome {
    return refused(status.connectRejected(`Application (${this.name}) failed to start.`), 'application failed to start');
  }

  /** The Client access properties before the script's onConnect: FMS defaults, then Application.xml's. */
  #defaultAccess(session: ClientSession): void {
    Object.assign(session.info, this.#accessDefaults());
  }

  /** Application.xml Client/Bandwidth and BandwidthCap, before onConnect (a script may change them there). */
  #defaultBandwidth(session: ClientSession): void {
    session.setBandwidthDefaults(this.def.settings?.bandwidth ?? NO_BANDWIDTH_LIMITS);
  }

  #accessDefaults(): Record<AccessField, string> {
    const settings = this.def.settings;
    return { ...DEFAULT_ACCESS, ...(settings ? { audioSampleAccess: settings.audioSampleAccess, videoSampleAccess: settings.videoSampleAccess } : {}) };
  }

  /**
   * onConnect in one generation; a generation retired meanwhile has handed the decision on.
   * `info` is what the script's Client starts from (a carried client's: the defaults).
   */
  async #decideConnect(gen: ScriptGeneration, session: ClientSession, info: ClientRecord = session.info): Promise<void> {
    const outcome = await gen.script.dispatch('connect', { client: info, args: session.connectArgs }).catch((error: unknown) => {
      this.#reportScriptError(error);
      return 'reject' as const;
    });
    if (gen !== this.#gen) return; // a hot reload replayed this connect into the new generation
    // The handler's value decides like the script's own accept/reject calls do.
    if (outcome === 'accept') this.#clientHooks.acceptConnection(session.id);
    else if (outcome === 'reject') this.#clientHooks.rejectConnection(session.id, {});
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
      this.#carried.carry(session.id);
      work.push(this.#decideConnect(next, session, { ...session.info, ...this.#accessDefaults() }));
    }
    let streams = 0;
    for (const session of sessions) {
      for (const stream of session.streams) {
        if (!stream.publishing) continue;
        streams++;
        work.push(next.script.dispatch('publish', { clientId: session.id, stream: stream.publishing.info }).catch((error: unknown) => this.#reportScriptError(error)));
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

  #callIn(gen: ScriptGeneration, session: ClientSession, method: string, args: unknown[]): Promise<CallReply> {
    return gen.script.dispatch('call', { clientId: session.id, method, args }).catch((error: unknown) => {
      this.#reportScriptError(error);
      return { ok: false as const, code: 'NetConnection.Call.Failed' as const, description: 'Script error.' };
    });
  }

  /** Stream.length semantics: duration in seconds of a recorded stream, 0 when there is none. */
  streamLengthSec(name: string): number {
    return recordedLengthSec(this.recordedFile(parseStreamName(name).name));
  }

  publishStarted(session: ClientSession, _stream: LiveStream, info: StreamRecord): void {
    this.#gen.event('publish', { clientId: session.id, stream: info });
  }

  publishStopped(session: ClientSession, _stream: LiveStream, info: StreamRecord): void {
    if (this.#state === 'closed') return;
    this.#gen.event('unpublish', { clientId: session.id, stream: info });
  }

  sessionClosed(session: ClientSession, _reason: string, wasAccepted: boolean): void {
    if (!this.#sessions.delete(session.id)) return;
    this.#carried.forget(session.id);
    this.stats.totalDisconnects++;
    // onDisconnect is for accepted clients only; rejected or pending ones never joined.
    if (wasAccepted && this.#state !== 'closed') {
      const done = this.#gen.script.dispatch('disconnect', { clientId: session.id }).then(
        () => undefined,
        (error: unknown) => this.#reportScriptError(error),
      );
      this.#disconnecting.add(done);
      void done.finally(() => this.#disconnecting.delete(done));
    }
    if (this.#sessions.size === 0) this.#scheduleIdle();
  }

  #scheduleIdle(): void {
    if (this.#state !== 'running') return;
    this.#cancelIdle();
    const idleUnloadSec = this.def.settings?.idleUnloadSec ?? this.#options.idleUnloadSec; // Application.xml MaxAppIdleTime
    this.#idleSinceMs = Date.now();
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
    const info = code === 'Application.GC' ? status.appGc() : status.appShutdown();
    const allow = previous === 'running' ? await wait.for(this.#gen.script.dispatch('appStop', { info }).catch(() => true)) : true;
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
      else session.decide(refused(status.connectRejected(`Application (${this.name}) script failed.`), 'script failure'));
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
    this.#hostMemory.stop();
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

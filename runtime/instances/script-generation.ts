import type { Logger } from '../log/logger.ts';
import type { RelayStats } from '../media/relay.ts';
import type { StreamRegistry } from '../media/stream-registry.ts';
import type { ScriptError } from '../errors.ts';
import type { AppDefinition } from './app-catalog.ts';
import { OutboundConnections, type OutboundNetwork } from './outbound-connections.ts';
import { ProxiedSharedObjects } from '../shared-objects/proxied-shared-objects.ts';
import type { InfoRecord, InstanceHooks, SandboxEventName, SandboxEvents } from '../../host-api/protocol.ts';
import { ScriptSharedObjects } from './script-shared-objects.ts';
import { ServerStreams } from './server-streams.ts';
import type { ClientHooks } from './client-hooks.ts';
import type { RecordingSettings } from './recording-limits.ts';
import type { SharedObjectStore } from '../shared-objects/shared-object-store.ts';

/** Events the instance sends its script; the rest (appStart, timer ticks, results, status) the sandbox raises itself. */
export type ScriptEventName = Exclude<SandboxEventName, 'appStart' | 'timer' | 'callResult' | 'httpResult' | 'status'>;

/**
 * What runs an instance's script, as the instance sees it: a life cycle, and one `dispatch` of the
 * bridge's events (host-api/protocol.ts SandboxEvents), run in order. runtime/sandbox's Sandbox
 * (main.asc in an isolate) and NoScript (an app folder without one) are the two; the compiler checks
 * the Sandbox against this where the server wires them (runtime/server/script-factory.ts).
 */
export interface ApplicationScript {
  /**
   * Compile + run top level and load()ed files only (a hot reload's trial run; no onAppStart yet).
   * Rejects with ScriptError on failure. Idempotent.
   */
  load(): Promise<void>;
  /** load() unless already done, then onAppStart. Rejects with ScriptError on failure. */
  start(): Promise<void>;
  /**
   * One event into the script, after those sent before it; its neutral value when the script is
   * gone (connect 'reject', a call Call.Failed, appStop true). Rejects only on a host bug.
   */
  dispatch<K extends ScriptEventName>(event: K, payload: SandboxEvents[K]['payload']): Promise<SandboxEvents[K]['result']>;
  /** Free the isolate and all its timers. Idempotent. */
  dispose(): void;
  /**
   * A hot reload replaced this script: events still queued settle as not run (a call with
   * `notRun`), a handler already running finishes (under its timeout), then dispose(). Idempotent.
   */
  retire(): void;
  /** Absolute paths of the script files run so far (main.asc, load()ed files, libraries). */
  sourceFiles(): string[];
  /** Host memory the script side holds outside the isolate (open-file buffers, timers), in bytes. */
  hostBytes(): number;
}

/** What a script gets from its instance: the instance's half of the bridge, and where its failures go. */
export interface ScriptHost {
  hooks: InstanceHooks;
  /** A handler threw (or a load() inside one failed): the instance logs it once and keeps running. */
  onScriptError(error: ScriptError): void;
  /** Timeout or out-of-memory after start: the script is gone. */
  onFatal(error: ScriptError): void;
}

export type ScriptFactory = (def: AppDefinition, instanceName: string, host: ScriptHost) => ApplicationScript;

/** What a generation borrows from its instance; the instance outlives every generation. */
export interface GenerationHost {
  /** `app/inst`, for the relay agent string. */
  name: string;
  instanceName: string;
  streams: StreamRegistry;
  sharedObjects: () => SharedObjectStore;
  recordedFile(name: string): string | null;
  packageHls(name: string, on: boolean): boolean;
  /** Application.xml Recording: limits and caps of script recordings (Stream.record). */
  recordingSettings(): RecordingSettings;
  streamLengthSec(name: string): number;
  network: OutboundNetwork;
  relayMaxBufferedBytes: number;
  /** scripts.maxOutboundConnections. */
  maxOutboundConnections: number;
  /** sharedObjects.maxSlotBytes (proxied SOs: what the script sends their owners). */
  maxSlotBytes: number;
  /** The hooks that act on the instance's clients (accept, call, trace…), the same for every generation. */
  clientHooks: ClientHooks;
  reportScriptError(error: unknown): void;
  onFatal(generation: ScriptGeneration, error: ScriptError): void;
  log: Logger;
}

/**
 * One loaded version of an instance's script with the server-side objects it created: its
 * NetConnections and NetStream relays, its Streams, its SharedObject handles. A hot reload replaces
 * the whole generation while clients, live streams and shared-object data, which belong to the
 * instance, stay. Script object ids (ncId, nsId) are chosen by the script, so each generation needs
 * its own tables, and a retired generation's late events (a relay's Connect.Closed) must never
 * reach its successor, whose ncId 1 is a different NetConnection.
 */
export class ScriptGeneration {
  readonly script: ApplicationScript;
  readonly #outbound: OutboundConnections;
  readonly #serverStreams: ServerStreams;
  readonly #sharedObjects: ScriptSharedObjects;
  /** SharedObject.get(name, persistent, nc): SOs of other instances/servers, over this generation's NetConnections. */
  readonly #proxiedSharedObjects: ProxiedSharedObjects;
  readonly #host: GenerationHost;
  #retired = false;

  constructor(def: AppDefinition, host: GenerationHost, createScript: ScriptFactory) {
    this.#host = host;
    this.#outbound = new OutboundConnections(
      host.streams,
      {
        ncStatus: (ncId, info) => this.event('ncStatus', { ncId, info }),
        nsStatus: (nsId, info) => this.event('nsStatus', { nsId, info }),
        ncIncomingCall: async (ncId, method, args) => {
          const outcome = await this.script.dispatch('ncCall', { ncId, method, args });
          return outcome.ok ? outcome : { ok: false, description: outcome.description };
        },
      },
      {
        network: host.network,
        relayMaxBufferedBytes: host.relayMaxBufferedBytes,
        agent: `FMS/3,5,7,7009 (fms-runtime; ${host.name})`,
        maxConnections: host.maxOutboundConnections,
      },
      host.log,
    );
    this.#serverStreams = new ServerStreams(
      {
        streams: host.streams,
        recordedFile: (name) => host.recordedFile(name),
        recordingSettings: () => host.recordingSettings(),
        remoteConnection: (ncId) => this.#outbound.netConnection(ncId),
        streamStatus: (name, info) => this.event('streamStatus', { name, info }),
        packageHls: (name, on) => host.packageHls(name, on),
      },
      host.log,
    );
    this.#proxiedSharedObjects = new ProxiedSharedObjects(
      this.#outbound,
      {
        sync: (key, list) => this.event('soSync', { name: key, list }),
        send: (key, handler, args) => this.event('soSend', { name: key, handler, args }),
        status: (key, info) => this.event('soStatus', { name: key, info: info as InfoRecord }),
      },
      host.log,
      host.maxSlotBytes,
    );
    this.#sharedObjects = new ScriptSharedObjects(host.sharedObjects, () => this.#proxiedSharedObjects);
    // The instance's half of the bridge, checked against the contract as a whole.
    const hooks = { ...host.clientHooks, ...this.#mediaHooks(), ...this.#sharedObjects.hooks } satisfies InstanceHooks;
    this.script = createScript(def, host.instanceName, {
      hooks,
      onScriptError: (error) => host.reportScriptError(error),
      onFatal: (error) => host.onFatal(this, error),
    });
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** An event for one of this generation's objects (or a shared object) nobody awaits; dropped once retired. */
  event<K extends ScriptEventName>(event: K, payload: SandboxEvents[K]['payload']): void {
    if (this.#retired) return;
    void this.script.dispatch(event, payload).catch((error: unknown) => this.#host.reportScriptError(error));
  }

  /** Every relay this generation started: NetStream republishes and Stream.play pulls. */
  relays(): RelayStats[] {
    return [...this.#outbound.relays(), ...this.#serverStreams.relays()];
  }

  /** Host memory this generation's script holds besides shared objects: files, timers, outbound queues. */
  hostBytes(): number {
    if (this.#retired) return 0;
    return this.script.hostBytes() + this.#outbound.bufferedBytes + this.#proxiedSharedObjects.waitingBytes;
  }

  /**
   * Closes what this generation started (relays, streams, SO locks) and frees its script. Idempotent.
   * `replaced` (a hot reload's swap): a handler already running may finish first (see
   * ApplicationScript.retire); otherwise the isolate goes at once.
   */
  retire(replaced = false): void {
    if (this.#retired) {
      if (!replaced) this.script.dispose();
      return;
    }
    this.#retired = true;
    this.#outbound.closeAll();
    this.#serverStreams.closeAll();
    this.#sharedObjects.release();
    if (replaced) this.script.retire();
    else this.script.dispose();
  }

  /** The operations a script may perform on media, each on this generation's own objects. */
  #mediaHooks() {
    const outbound = this.#outbound;
    const streams = this.#serverStreams;
    return {
      ncConnect: (ncId, uri, args) => outbound.connect(ncId, uri, args),
      ncCall: (ncId, method, args, onResult) => outbound.call(ncId, method, args, onResult),
      ncClose: (ncId) => outbound.close(ncId),
      nsCreate: (nsId, ncId) => outbound.createStream(nsId, ncId),
      nsAttach: (nsId, streamName) => outbound.attach(nsId, streamName),
      nsPublish: (nsId, name, type) => outbound.publish(nsId, name, type),
      nsSend: (nsId, values) => outbound.send(nsId, values),
      nsTime: (nsId) => outbound.timeSec(nsId),
      streamGet: (name) => streams.get(name),
      streamPlay: (name, source, startSec, lengthSec, reset, ncId) => streams.play(name, source, startSec, lengthSec, reset, ncId),
      streamRecord: (name, mode, maxDurationSec, maxSizeKb) => streams.record(name, mode, maxDurationSec ?? undefined, maxSizeKb ?? undefined),
      streamSend: (name, handler, args) => streams.send(name, handler, args),
      streamDestroy: (name) => streams.destroy(name),
      streamLength: (name) => this.#host.streamLengthSec(name),
      streamTime: (name) => streams.timeSec(name),
      streamClear: (name) => streams.clear(name),
    } satisfies Partial<InstanceHooks>;
  }
}

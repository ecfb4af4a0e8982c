import type { Logger } from '../log/logger.ts';
import type { RelayStats } from '../media/relay.ts';
import type { StreamRegistry } from '../media/stream-registry.ts';
import type { ScriptError } from '../errors.ts';
import type { AppDefinition } from './app-catalog.ts';
import { OutboundConnections, type OutboundNetwork } from './outbound-connections.ts';
import { ProxiedSharedObjects } from '../shared-objects/proxied-shared-objects.ts';
import type { ApplicationScript, InstanceHooks, MediaEvent, MediaHooks } from './script-contract.ts';
import { ScriptSharedObjects } from './script-shared-objects.ts';
import { ServerStreams } from './server-streams.ts';
import type { RecordingSettings } from './recording-limits.ts';
import type { SharedObjectStore } from '../shared-objects/shared-object-store.ts';

export type ScriptFactory = (
  def: AppDefinition,
  instanceName: string,
  hooks: InstanceHooks,
  onFatal: (error: ScriptError) => void,
) => ApplicationScript;

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
  clientHooks: Omit<InstanceHooks, 'media' | 'sharedObjects'>;
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
        ncStatus: (ncId, info) => this.mediaEvent({ kind: 'ncStatus', ncId, info }),
        nsStatus: (nsId, info) => this.mediaEvent({ kind: 'nsStatus', nsId, info }),
        ncIncomingCall: async (ncId, method, args) => {
          const outcome = await this.script.ncCall(ncId, method, args);
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
        streamStatus: (name, info) => this.mediaEvent({ kind: 'streamStatus', name, info }),
        packageHls: (name, on) => host.packageHls(name, on),
      },
      host.log,
    );
    this.#proxiedSharedObjects = new ProxiedSharedObjects(
      this.#outbound,
      {
        sync: (key, list) => this.mediaEvent({ kind: 'soSync', name: key, list }),
        send: (key, handler, args) => this.mediaEvent({ kind: 'soSend', name: key, handler, args }),
        status: (key, info) => this.mediaEvent({ kind: 'soStatus', name: key, info }),
      },
      host.log,
      host.maxSlotBytes,
    );
    this.#sharedObjects = new ScriptSharedObjects(host.sharedObjects, () => this.#proxiedSharedObjects);
    const hooks: InstanceHooks = { ...host.clientHooks, media: this.#mediaHooks(), sharedObjects: this.#sharedObjects };
    this.script = createScript(def, host.instanceName, hooks, (error) => host.onFatal(this, error));
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** A status for one of this generation's objects (or a shared object); dropped once retired. */
  mediaEvent(event: MediaEvent): void {
    if (this.#retired) return;
    void this.script.mediaEvent(event).catch((error: unknown) => this.#host.reportScriptError(error));
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

  /** Closes what this generation started (relays, streams, SO locks) and frees its script. Idempotent. */
  retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    this.#outbound.closeAll();
    this.#serverStreams.closeAll();
    this.#sharedObjects.release();
    this.script.dispose();
  }

  /** The operations a script may perform on media, each on this generation's own objects. */
  #mediaHooks(): MediaHooks {
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
      streamRecord: (name, mode, maxDurationSec, maxSizeKb) => streams.record(name, mode, maxDurationSec, maxSizeKb),
      streamSend: (name, handler, args) => streams.send(name, handler, args),
      streamDestroy: (name) => streams.destroy(name),
      streamLength: (name) => this.#host.streamLengthSec(name),
      streamTime: (name) => streams.timeSec(name),
      streamClear: (name) => streams.clear(name),
    };
  }
}

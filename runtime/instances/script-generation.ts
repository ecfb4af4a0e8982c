import type { Logger } from '../log/logger.ts';
import type { RelayStats } from '../media/relay.ts';
import type { StreamRegistry } from '../media/stream-registry.ts';
import type { ScriptError } from '../errors.ts';
import type { AppDefinition } from './app-catalog.ts';
import { OutboundConnections } from './outbound-connections.ts';
import { ProxiedSharedObjects } from '../shared-objects/proxied-shared-objects.ts';
import type { ApplicationScript, InstanceHooks, MediaEvent, MediaHooks } from './script-contract.ts';
import { ScriptSharedObjects } from './script-shared-objects.ts';
import { ServerStreams } from './server-streams.ts';
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
  streamLengthSec(name: string): number;
  ownRtmpPort: () => number;
  relayMaxBufferedBytes: number;
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
      { ownRtmpPort: host.ownRtmpPort, relayMaxBufferedBytes: host.relayMaxBufferedBytes, agent: `FMS/3,5,7,7009 (fms-runtime; ${host.name})` },
      host.log,
    );
    this.#serverStreams = new ServerStreams(
      {
        streams: host.streams,
        recordedFile: (name) => host.recordedFile(name),
        remoteConnection: (ncId) => this.#outbound.netConnection(ncId),
        streamStatus: (name, info) => this.mediaEvent({ kind: 'streamStatus', name, info }),
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

  relays(): RelayStats[] {
    return this.#outbound.relays();
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
      streamRecord: (name, mode) => streams.record(name, mode),
      streamSend: (name, handler, args) => streams.send(name, handler, args),
      streamDestroy: (name) => streams.destroy(name),
      streamLength: (name) => this.#host.streamLengthSec(name),
      streamTime: (name) => streams.timeSec(name),
      streamClear: (name) => streams.clear(name),
    };
  }
}

import type { Logger } from '../log/logger.ts';
import { TypedEmitter } from '../common/typed-emitter.ts';
import { KeyframeGate } from './keyframe-gate.ts';
import type { LiveStream, LiveSubscriber } from './live-stream.ts';
import type { MediaPacket } from './media-packet.ts';
import { SubscriberQueue, type PacketSink } from './subscriber-queue.ts';
import { Timeline } from './timeline.ts';

/**
 * `connecting` until the far end is open, then `publishing` (a republish to a remote server) or
 * `playing` (a pull into a local stream), until it ends: `closed` by its owner or `failed` on its
 * own (the far end refused or went away). Nothing retries: reconnecting is the script's decision.
 */
export type RelayState = 'connecting' | 'publishing' | 'playing' | 'closed' | 'failed';

/** `republish`: NetStream.attach + publish (local stream → remote server); `pull`: Stream.play (remote or local stream → local stream). */
export type RelayKind = 'republish' | 'pull';

export interface RelayStats {
  id: string;
  kind: RelayKind;
  state: RelayState;
  /** Where the packets go: a remote URI for a republish (credentials stripped), the local stream of a pull. */
  destination: string;
  /** The stream name on the far side: the remote publish name, or the stream a pull plays. */
  streamName: string;
  /** Where the packets come from: a local stream name, or the remote URI of a pull; null while detached. */
  source: string | null;
  bytes: number;
  packets: number;
  droppedPackets: number;
  /** Media time the destination socket has not taken yet (estimated from backlog and bitrate). */
  lagMs: number;
  /** Why it failed (the far end's status code and description, or the socket error). */
  lastError: string | null;
  /** Why it ended ('closed' when its owner stopped it normally); null while it runs. */
  endReason: string | null;
  startedAt: number;
  endedAt: number | null;
}

export type RelayEvents = {
  state: [stats: RelayStats];
  /** Once, when it ends; `error` is what made it fail (undefined when its owner closed it). */
  end: [stats: RelayStats, error: unknown];
};

/** The open far end of a relay. */
export interface RelayLink {
  /** Where packets go (a remote stream's connection, or a local live stream). */
  sink: PacketSink;
  /** Releases the far end; called once when the relay ends. */
  close(): void;
}

/**
 * Opens the far end. `lost` reports that it went away later (the relay fails with that error); a
 * rejection fails the relay at once. Errors carrying an FMS `info` ({code, description}) are shown
 * by code.
 */
export type RelayOpener = (lost: (error: unknown) => void) => RelayLink | Promise<RelayLink>;

export interface RelayOptions {
  id: string;
  kind: RelayKind;
  destination: string;
  streamName: string;
  /** Source label when packets do not come from an attached local stream (a remote pull's URI). */
  remoteSource?: string;
  /** Backlog of the destination beyond which packets are dropped up to the next keyframe. */
  maxBufferedBytes: number;
  /** A timeline the owner keeps across relays, so one NetStream's republishes continue its clock. */
  timeline?: Timeline;
  log: Logger;
}

/** "NetStream.Publish.BadName: x is already being published." for FMS info errors, else the message. */
function describeError(error: unknown): string {
  const info = (error as { info?: { code?: unknown; description?: unknown } } | undefined)?.info;
  if (info && typeof info.code === 'string') return `${info.code}${typeof info.description === 'string' && info.description ? `: ${info.description}` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A native relay (mediamtx-style forwarder) that owns its loop: it opens its far end, forwards
 * packets until it is closed or the far end goes away, keeps its counters and last error, and logs
 * its end once. Its owner (the script's NetStream or Stream) only starts it, feeds or attaches its
 * source and closes it, and observes it through its events.
 *
 * Packets never pass through a script. A bounded queue (the destination's backlog, see
 * SubscriberQueue) keeps a slow or dead destination from stalling the source or its siblings, and
 * the destination starts at a keyframe. Timestamps stay continuous across detach/attach (and
 * across the relays of one owner sharing a timeline); the 32-bit wrap is handled by Timeline.
 */
export class Relay extends TypedEmitter<RelayEvents> implements LiveSubscriber {
  readonly id: string;
  readonly kind: RelayKind;
  readonly #options: RelayOptions;
  readonly #log: Logger;
  #state: RelayState = 'connecting';
  #source: LiveStream | null = null;
  #link: RelayLink | null = null;
  #queue: SubscriberQueue | null = null;
  #lastError: string | null = null;
  #endReason: string | null = null;
  #bytes = 0;
  #packets = 0;
  readonly #startedAt = Date.now();
  #endedAt: number | null = null;
  /** Drops of its queue, kept when the queue goes at the end. */
  #droppedAtEnd = 0;
  readonly #timeline: Timeline;
  /** The destination starts at a keyframe (after every new destination, source or publish). */
  readonly #gate = new KeyframeGate(true);
  #bitrateBytesPerSec = 0;
  #rateWindowStart = Date.now();
  #rateWindowBytes = 0;

  constructor(options: RelayOptions) {
    super();
    this.id = options.id;
    this.kind = options.kind;
    this.#options = options;
    this.#log = options.log;
    this.#timeline = options.timeline ?? new Timeline();
    this.#timeline.rebase();
  }

  get state(): RelayState {
    return this.#state;
  }

  get ended(): boolean {
    return this.#state === 'closed' || this.#state === 'failed';
  }

  get source(): LiveStream | null {
    return this.#source;
  }

  /** Media time carried to the destination so far (ms; ns.time), 0 while it has no destination. */
  get timeMs(): number {
    return this.#queue ? this.#timeline.lastOut : 0;
  }

  stats(): RelayStats {
    const backlog = this.#link?.sink.bufferedBytes ?? 0;
    return {
      id: this.id,
      kind: this.kind,
      state: this.#state,
      destination: this.#options.destination,
      streamName: this.#options.streamName,
      source: this.#options.remoteSource ?? this.#source?.name ?? null,
      bytes: this.#bytes,
      packets: this.#packets,
      droppedPackets: this.#queue?.packetsDropped ?? this.#droppedAtEnd,
      lagMs: this.#bitrateBytesPerSec > 0 ? Math.round((backlog / this.#bitrateBytesPerSec) * 1000) : 0,
      lastError: this.#lastError,
      endReason: this.#endReason,
      startedAt: this.#startedAt,
      endedAt: this.#endedAt,
    };
  }

  /** Starts the relay's life: opens the far end with `open`, then forwards until it ends. Once. */
  start(open: RelayOpener): void {
    this.#log.debug({ relay: this.id, kind: this.kind, destination: this.#options.destination, stream: this.#options.streamName }, 'relay connecting');
    let opened: RelayLink | Promise<RelayLink>;
    try {
      opened = open((error) => this.#end('failed', error));
    } catch (error) {
      return this.#end('failed', error);
    }
    // A far end in this process (a local pull) opens at once: its startup packets go out now.
    if (!(opened instanceof Promise)) return this.#opened(opened);
    opened.then(
      (link) => this.#opened(link),
      (error: unknown) => this.#end('failed', error),
    );
  }

  #opened(link: RelayLink): void {
    if (this.ended) {
      link.close(); // closed (or lost) while it was opening
      return;
    }
    this.#link = link;
    this.#queue = new SubscriberQueue(this.#countingSink(link.sink), { maxBufferedBytes: this.#options.maxBufferedBytes });
    this.#state = this.kind === 'republish' ? 'publishing' : 'playing';
    this.#log.info({ relay: this.id, kind: this.kind, destination: this.#options.destination, stream: this.#options.streamName, source: this.stats().source }, 'relay started');
    this.emit('state', this.stats());
    if (this.#source?.isPublishing) this.#sendStartup(this.#source);
  }

  /** Source of packets: a local live stream, or null to detach (timestamps continue on re-attach). */
  attach(source: LiveStream | null): void {
    if (this.#source === source || this.ended) return;
    this.#source?.unsubscribe(this);
    this.#source = source;
    this.#rebase();
    if (!source) return;
    source.subscribe(this);
    if (this.#queue && source.isPublishing) this.#sendStartup(source);
  }

  /** Its owner stops it (ns.publish(false), nc.close(), Stream.play(false), unload). Idempotent. */
  close(reason = 'closed'): void {
    this.#end('closed', undefined, reason);
  }

  #end(state: 'closed' | 'failed', error: unknown, reason?: string): void {
    if (this.ended) return;
    this.#state = state;
    this.#endedAt = Date.now();
    if (state === 'failed') this.#lastError = describeError(error);
    this.#endReason = reason ?? this.#lastError ?? 'failed';
    this.#source?.unsubscribe(this);
    this.#droppedAtEnd = this.#queue?.packetsDropped ?? 0;
    this.#queue = null;
    const link = this.#link;
    this.#link = null;
    try {
      link?.close();
    } catch (closeError) {
      this.#log.warn({ relay: this.id, err: (closeError as Error)?.message }, 'relay far end did not close cleanly');
    }
    const stats = this.stats();
    const fields = {
      relay: this.id, kind: this.kind, state, reason: this.#endReason, destination: stats.destination, stream: stats.streamName,
      source: stats.source, bytes: stats.bytes, packets: stats.packets, droppedPackets: stats.droppedPackets, durationMs: this.#endedAt - this.#startedAt,
    };
    if (state === 'failed') this.#log.warn({ ...fields, lastError: this.#lastError }, 'relay ended');
    else this.#log.info(fields, 'relay ended');
    this.emit('state', stats);
    this.emit('end', stats, error);
  }

  #countingSink(target: PacketSink): PacketSink {
    return {
      get bufferedBytes() {
        return target.bufferedBytes;
      },
      write: (packet, timestamp) => {
        this.#bytes += packet.payload.length;
        this.#packets++;
        this.#trackRate(packet.payload.length);
        target.write(packet, timestamp);
      },
    };
  }

  #trackRate(bytes: number): void {
    this.#rateWindowBytes += bytes;
    const elapsed = Date.now() - this.#rateWindowStart;
    if (elapsed >= 1000) {
      this.#bitrateBytesPerSec = (this.#rateWindowBytes * 1000) / elapsed;
      this.#rateWindowBytes = 0;
      this.#rateWindowStart = Date.now();
    }
  }

  /** New timeline segment: the next media packet maps to just after the last one sent. */
  #rebase(): void {
    this.#timeline.rebase();
    this.#gate.cut();
  }

  #sendStartup(source: LiveStream): void {
    for (const packet of source.startupPackets) this.packet(packet);
  }

  /** LiveSubscriber (an attached local stream), or a remote pull's packets. */
  packet(packet: MediaPacket): void {
    if (!this.#queue) return;
    if (!this.#gate.admit(packet, Boolean(this.#source?.videoConfig))) return;
    this.#queue.push(packet, this.#timeline.map(packet)); // the mapped timestamp beside the packet: no copy of it
  }

  published(): void {
    this.#rebase();
  }

  unpublished(): void {
    // Keep the destination open: a new publisher on the source continues the same remote stream.
  }
}

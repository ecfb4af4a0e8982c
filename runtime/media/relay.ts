import { MessageType } from '../rtmp/message.ts';
import { TypedEmitter } from '../common/typed-emitter.ts';
import type { LiveStream, LiveSubscriber } from './live-stream.ts';
import { isAudioConfig, isVideoConfig, isVideoKeyframe, type MediaPacket } from './media-packet.ts';
import { SubscriberQueue, type PacketSink } from './subscriber-queue.ts';
import { Timeline } from './timeline.ts';

export type RelayState = 'idle' | 'connecting' | 'publishing' | 'retrying' | 'closed' | 'failed';

export interface RelayStats {
  id: string;
  state: RelayState;
  /** Destination with credentials stripped, e.g. rtmp://host:1935/app/inst. */
  destination: string;
  streamName: string;
  source: string | null;
  bytes: number;
  packets: number;
  droppedPackets: number;
  /** Media time the destination socket has not taken yet (estimated from backlog and bitrate). */
  lagMs: number;
  lastError: string | null;
  startedAt: number;
}

export type RelayEvents = { state: [stats: RelayStats] };

/**
 * A native relay: packets of a local live stream go straight to a destination (an outbound RTMP
 * stream) through this host-side object, never through a script. It owns a bounded queue (the
 * destination socket's backlog, see SubscriberQueue), so a slow or dead destination never stalls
 * the source or its siblings. Timestamps stay continuous across detach/attach and republish, and
 * 32-bit wrap is handled with signed 32-bit deltas.
 */
export class Relay extends TypedEmitter<RelayEvents> implements LiveSubscriber {
  readonly id: string;
  #state: RelayState = 'idle';
  /** close() ran: for good (a 'closed' state set by the owner, ns.publish(false), can be published again). */
  #ended = false;
  #source: LiveStream | null = null;
  #target: PacketSink | null = null;
  #queue: SubscriberQueue | null = null;
  #destination: string;
  #streamName = '';
  #lastError: string | null = null;
  #bytes = 0;
  #packets = 0;
  #droppedBefore = 0;
  #startedAt = Date.now();
  readonly #maxBufferedBytes: number;
  readonly #timeline = new Timeline();
  #needKeyframe = true;
  #bitrateBytesPerSec = 0;
  #rateWindowStart = Date.now();
  #rateWindowBytes = 0;

  constructor(id: string, destination: string, maxBufferedBytes: number) {
    super();
    this.id = id;
    this.#destination = destination;
    this.#maxBufferedBytes = maxBufferedBytes;
  }

  get state(): RelayState {
    return this.#state;
  }

  get source(): LiveStream | null {
    return this.#source;
  }

  /** Media time carried to the destination so far (ms; ns.time), 0 while it has no destination. */
  get timeMs(): number {
    return this.#target ? this.#timeline.lastOut : 0;
  }

  stats(): RelayStats {
    const backlog = this.#target?.bufferedBytes ?? 0;
    return {
      id: this.id,
      state: this.#state,
      destination: this.#destination,
      streamName: this.#streamName,
      source: this.#source?.name ?? null,
      bytes: this.#bytes,
      packets: this.#packets,
      droppedPackets: this.#droppedBefore + (this.#queue?.packetsDropped ?? 0),
      lagMs: this.#bitrateBytesPerSec > 0 ? Math.round((backlog / this.#bitrateBytesPerSec) * 1000) : 0,
      lastError: this.#lastError,
      startedAt: this.#startedAt,
    };
  }

  setState(state: RelayState, error?: string): void {
    if (error !== undefined) this.#lastError = error;
    if (state === this.#state) return;
    if (this.#state === 'closed') return;
    this.#state = state;
    this.emit('state', this.stats());
  }

  /** Source of packets: a local live stream, or null to detach (timestamps continue on re-attach). */
  attach(source: LiveStream | null): void {
    if (this.#source === source || this.#ended) return;
    this.#source?.unsubscribe(this);
    this.#source = source;
    this.#rebase();
    if (!source) return;
    source.subscribe(this);
    if (this.#target && source.isPublishing) this.#sendStartup(source);
  }

  /** The destination is ready to take packets (publish succeeded), or gone (null). */
  setTarget(target: PacketSink | null, streamName = this.#streamName): void {
    this.#streamName = streamName;
    if (this.#queue) this.#droppedBefore += this.#queue.packetsDropped;
    this.#target = target;
    this.#queue = target ? new SubscriberQueue(this.#countingSink(target), { maxBufferedBytes: this.#maxBufferedBytes }) : null;
    this.#rebase();
    if (target && this.#source?.isPublishing) this.#sendStartup(this.#source);
  }

  #countingSink(target: PacketSink): PacketSink {
    return {
      get bufferedBytes() {
        return target.bufferedBytes;
      },
      write: (packet) => {
        this.#bytes += packet.payload.length;
        this.#packets++;
        this.#trackRate(packet.payload.length);
        target.write(packet);
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
    this.#needKeyframe = true;
  }

  #sendStartup(source: LiveStream): void {
    for (const packet of source.startupPackets) this.packet(packet);
  }

  // LiveSubscriber
  packet(packet: MediaPacket): void {
    if (!this.#queue) return;
    if (this.#needKeyframe && packet.type === MessageType.Video && !isVideoConfig(packet)) {
      if (!isVideoKeyframe(packet)) return; // the destination starts at a keyframe
      this.#needKeyframe = false;
    }
    if (this.#needKeyframe && packet.type === MessageType.Audio && !isAudioConfig(packet) && this.#source?.videoConfig) return;
    this.#queue.push({ type: packet.type, timestamp: this.#timeline.map(packet), payload: packet.payload });
  }

  published(): void {
    this.#rebase();
  }

  unpublished(): void {
    // Keep the destination open: a new publisher on the source continues the same remote stream.
  }

  close(reason: string): void {
    // Also when the owner already set 'closed': a closed relay must leave its source's subscribers,
    // or a stream that outlives it (players keep it) holds it, and through it the script generation
    // that made it, for good.
    this.#ended = true;
    this.#source?.unsubscribe(this);
    this.#source = null;
    this.#target = null;
    this.#queue = null;
    if (this.#state === 'closed') return;
    this.#lastError = this.#lastError ?? (reason === 'closed' ? null : reason);
    this.#state = 'closed';
    this.emit('state', this.stats());
  }
}

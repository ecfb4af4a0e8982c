import { MessageType } from '../rtmp/message.ts';
import { GopCache } from './gop-cache.ts';
import { isAudioConfig, isVideoConfig, isVideoKeyframe, type MediaPacket } from './media-packet.ts';

/** A player (or relay) attached to a live stream. */
export interface LiveSubscriber {
  packet(packet: MediaPacket): void;
  /** A publisher started; the stream's codec state follows as packets. */
  published(stream: LiveStream): void;
  unpublished(stream: LiveStream): void;
}

export interface LiveStreamLimits {
  /** The GOP cache is dropped (late joiners wait for the next keyframe) beyond this size. */
  gopCacheMaxBytes: number;
  /** Told after every publish start (HLS packaging "always" starts there). */
  onPublish?(stream: LiveStream): void;
}

export interface PublisherInfo {
  /** Client id, or a relay id for server-side publishers. */
  id: string;
  publishQueryString: string;
  startedAt: number;
}

/**
 * One live stream of one application instance: a single publisher, any number of subscribers.
 * Keeps what a late joiner needs to start decoding at once: metadata, codec configs and the packets
 * since the last video keyframe (GOP cache, SRS-style).
 */
export class LiveStream {
  readonly name: string;
  readonly #limits: LiveStreamLimits;
  publisher: PublisherInfo | null = null;
  metadata: MediaPacket | null = null;
  videoConfig: MediaPacket | null = null;
  audioConfig: MediaPacket | null = null;
  readonly subscribers = new Set<LiveSubscriber>();
  /**
   * The subscribers as an array, replaced (never changed) on subscribe/unsubscribe: write() runs per
   * packet and a Set's iterator was one object per packet. A subscriber removed during a fan-out may
   * still get that packet; every subscriber ignores packets once it has closed.
   */
  #fanout: readonly LiveSubscriber[] = [];
  readonly #gop = new GopCache();
  bytesIn = 0;
  /** bytesIn when the current publish started (average bitrate since then). */
  bytesInAtPublish = 0;
  packetsIn = 0;
  /** Timestamp of the last packet written in the current publish (0 until its first packet): Stream.time. */
  lastTimestamp = 0;

  constructor(name: string, limits: LiveStreamLimits) {
    this.name = name;
    this.#limits = limits;
  }

  get isPublishing(): boolean {
    return this.publisher !== null;
  }

  /** Packets a joining subscriber gets first, in order (the GOP's are copies: see GopCache). */
  get startupPackets(): MediaPacket[] {
    const head = [this.metadata, this.videoConfig, this.audioConfig].filter((p): p is MediaPacket => p !== null);
    return [...head, ...this.#gop.packets()];
  }

  /** Bytes the GOP cache holds for this stream (its arena), for memory accounting. */
  get gopCacheBytes(): number {
    return this.#gop.capacity;
  }

  startPublish(publisher: PublisherInfo): void {
    this.publisher = publisher;
    this.bytesInAtPublish = this.bytesIn;
    this.lastTimestamp = 0; // a new publish starts a new clock; Stream.time must not show the old one
    this.metadata = this.videoConfig = this.audioConfig = null;
    this.#resetGop();
    for (const subscriber of [...this.subscribers]) subscriber.published(this);
    this.#limits.onPublish?.(this);
  }

  stopPublish(): void {
    if (!this.publisher) return;
    this.publisher = null;
    this.#resetGop();
    for (const subscriber of [...this.subscribers]) subscriber.unpublished(this);
  }

  /** A packet from the publisher: remember codec state, then fan out. */
  write(packet: MediaPacket): void {
    this.bytesIn += packet.payload.length;
    this.packetsIn++;
    this.lastTimestamp = packet.timestamp;
    this.#remember(packet);
    const fanout = this.#fanout;
    for (let i = 0; i < fanout.length; i++) fanout[i]!.packet(packet);
  }

  /** Sets onMetaData (from @setDataFrame); delivered to current subscribers too. */
  setMetadata(packet: MediaPacket): void {
    this.metadata = ownCopy(packet);
    for (const subscriber of this.subscribers) subscriber.packet(packet);
  }

  subscribe(subscriber: LiveSubscriber): void {
    if (this.subscribers.has(subscriber)) return;
    this.subscribers.add(subscriber);
    this.#fanout = [...this.subscribers];
  }

  unsubscribe(subscriber: LiveSubscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    this.#fanout = [...this.subscribers];
  }

  get idle(): boolean {
    return !this.publisher && this.subscribers.size === 0;
  }

  #remember(packet: MediaPacket): void {
    // Codec configs are kept for the whole publish: their own copy, so they do not pin the (up to
    // 64 KiB) socket read their payload is a view of.
    if (isVideoConfig(packet)) {
      this.videoConfig = ownCopy(packet);
      return;
    }
    if (isAudioConfig(packet)) {
      this.audioConfig = ownCopy(packet);
      return;
    }
    if (packet.type !== MessageType.Audio && packet.type !== MessageType.Video) return;
    if (isVideoKeyframe(packet)) this.#gop.startGop(packet);
    else if (this.#gop.length === 0) return; // no keyframe yet: nothing a joiner could decode
    else this.#gop.add(packet);
    if (this.#gop.bytes > this.#limits.gopCacheMaxBytes) this.#resetGop();
  }

  #resetGop(): void {
    this.#gop.clear();
  }
}

function ownCopy(packet: MediaPacket): MediaPacket {
  return { type: packet.type, timestamp: packet.timestamp, payload: Buffer.from(packet.payload) };
}

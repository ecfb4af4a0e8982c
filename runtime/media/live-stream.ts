import { MessageType } from '../rtmp/message.ts';
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
  #gop: MediaPacket[] = [];
  #gopBytes = 0;
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

  /** Packets a joining subscriber gets first, in order. */
  get startupPackets(): MediaPacket[] {
    const head = [this.metadata, this.videoConfig, this.audioConfig].filter((p): p is MediaPacket => p !== null);
    return [...head, ...this.#gop];
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
    for (const subscriber of this.subscribers) subscriber.packet(packet);
  }

  /** Sets onMetaData (from @setDataFrame); delivered to current subscribers too. */
  setMetadata(packet: MediaPacket): void {
    this.metadata = packet;
    for (const subscriber of this.subscribers) subscriber.packet(packet);
  }

  subscribe(subscriber: LiveSubscriber): void {
    this.subscribers.add(subscriber);
  }

  unsubscribe(subscriber: LiveSubscriber): void {
    this.subscribers.delete(subscriber);
  }

  get idle(): boolean {
    return !this.publisher && this.subscribers.size === 0;
  }

  #remember(packet: MediaPacket): void {
    if (isVideoConfig(packet)) {
      this.videoConfig = packet;
      return;
    }
    if (isAudioConfig(packet)) {
      this.audioConfig = packet;
      return;
    }
    if (packet.type !== MessageType.Audio && packet.type !== MessageType.Video) return;
    if (isVideoKeyframe(packet)) this.#resetGop();
    else if (this.#gop.length === 0) return; // no keyframe yet: nothing a joiner could decode
    this.#gop.push(packet);
    this.#gopBytes += packet.payload.length;
    if (this.#gopBytes > this.#limits.gopCacheMaxBytes) this.#resetGop();
  }

  #resetGop(): void {
    this.#gop = [];
    this.#gopBytes = 0;
  }
}

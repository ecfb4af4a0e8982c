import { MessageType } from '../rtmp/message.ts';
import { isAudioConfig, isVideoConfig, isVideoKeyframe, type MediaPacket } from './media-packet.ts';
import { MESSAGE_OVERHEAD_BYTES, type BandwidthLimiter } from './bandwidth-limiter.ts';

/** Where a player's packets go: a connection (or a relay) that reports its own backlog. */
export interface PacketSink {
  readonly bufferedBytes: number;
  /**
   * `timestamp` is the packet's on this sink's timeline: a relay remaps timestamps and passes the
   * mapped one here rather than making a new packet object per packet; players pass packet.timestamp.
   */
  write(packet: MediaPacket, timestamp: number): void;
}

export interface SubscriberQueueLimits {
  /** Above this backlog the player is too slow: drop media until the next keyframe. */
  maxBufferedBytes: number;
}

/**
 * Bounded delivery to one player. The socket buffer itself is the queue; when it grows beyond the
 * limit, media is dropped up to the next video keyframe (or, for audio-only streams, until the
 * backlog halves) so a stalled player costs bounded memory and resumes cleanly on a keyframe.
 * Codec configs and data messages are never dropped: players need them to decode what follows.
 *
 * A client with a bandwidth limit (`limiter`, shared by the client's streams) also drops what its
 * token bucket has no room for — video up to the next keyframe that fits, audio packet by packet —
 * so it gets at most its allowance, decodable, without anything piling up. Unlimited players
 * (limiter null) pay one field test per packet.
 */
export class SubscriberQueue {
  readonly #sink: PacketSink;
  readonly #limits: SubscriberQueueLimits;
  #dropping = false;
  #hasVideo = false;
  /** Set by the client session when a server→client limit is in force; null = unlimited. */
  limiter: BandwidthLimiter | null = null;
  /** The limiter refused a video frame: the next video sent must be a keyframe. */
  #limitedUntilKeyframe = false;
  packetsSent = 0;
  packetsDropped = 0;
  bytesDropped = 0;

  constructor(sink: PacketSink, limits: SubscriberQueueLimits) {
    this.#sink = sink;
    this.#limits = limits;
  }

  get dropping(): boolean {
    return this.#dropping;
  }

  /** `timestamp`: the packet's on the sink's timeline (a relay's remapped one), see PacketSink.write. */
  push(packet: MediaPacket, timestamp = packet.timestamp): void {
    if (packet.type === MessageType.Video) this.#hasVideo = true;
    if (this.#mustKeep(packet)) {
      this.limiter?.force(packet.payload.length + MESSAGE_OVERHEAD_BYTES);
      return this.#send(packet, timestamp);
    }
    const backlog = this.#sink.bufferedBytes;
    if (!this.#dropping && backlog > this.#limits.maxBufferedBytes) this.#dropping = true;
    if (this.#dropping && this.#canResume(packet, backlog)) this.#dropping = false;
    if (this.#dropping || (this.limiter !== null && !this.#withinLimit(this.limiter, packet, timestamp))) {
      this.packetsDropped++;
      this.bytesDropped += packet.payload.length;
      return;
    }
    this.#send(packet, timestamp);
  }

  /** Whether the client's allowance has room for this packet (video: only from a keyframe on, after a refusal). */
  #withinLimit(limiter: BandwidthLimiter, packet: MediaPacket, timestamp: number): boolean {
    const bytes = packet.payload.length + MESSAGE_OVERHEAD_BYTES;
    if (packet.type !== MessageType.Video) return limiter.take(bytes);
    const keyframe = isVideoKeyframe(packet);
    if (keyframe) limiter.keyframeAt(timestamp);
    if (this.#limitedUntilKeyframe && !keyframe) return false;
    this.#limitedUntilKeyframe = !limiter.take(bytes);
    return !this.#limitedUntilKeyframe;
  }

  #mustKeep(packet: MediaPacket): boolean {
    return (
      packet.type === MessageType.DataAmf0 ||
      packet.type === MessageType.DataAmf3 ||
      isVideoConfig(packet) ||
      isAudioConfig(packet)
    );
  }

  #canResume(packet: MediaPacket, backlog: number): boolean {
    if (backlog > this.#limits.maxBufferedBytes / 2) return false;
    return this.#hasVideo ? isVideoKeyframe(packet) : true;
  }

  #send(packet: MediaPacket, timestamp: number): void {
    this.packetsSent++;
    this.#sink.write(packet, timestamp);
  }
}

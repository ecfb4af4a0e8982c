import { MessageType } from '../rtmp/message.ts';
import { isAudioConfig, isVideoConfig, isVideoKeyframe, type MediaPacket } from './media-packet.ts';

/** Where a player's packets go: a connection (or a relay) that reports its own backlog. */
export interface PacketSink {
  readonly bufferedBytes: number;
  write(packet: MediaPacket): void;
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
 */
export class SubscriberQueue {
  readonly #sink: PacketSink;
  readonly #limits: SubscriberQueueLimits;
  #dropping = false;
  #hasVideo = false;
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

  push(packet: MediaPacket): void {
    if (packet.type === MessageType.Video) this.#hasVideo = true;
    if (this.#mustKeep(packet)) return this.#send(packet);
    const backlog = this.#sink.bufferedBytes;
    if (!this.#dropping && backlog > this.#limits.maxBufferedBytes) this.#dropping = true;
    if (this.#dropping && this.#canResume(packet, backlog)) this.#dropping = false;
    if (this.#dropping) {
      this.packetsDropped++;
      this.bytesDropped += packet.payload.length;
      return;
    }
    this.#send(packet);
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

  #send(packet: MediaPacket): void {
    this.packetsSent++;
    this.#sink.write(packet);
  }
}

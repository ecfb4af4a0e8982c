import { MessageType } from '../rtmp/message.ts';
import { isAudioConfig, isVideoConfig, type MediaPacket } from './media-packet.ts';

/**
 * Maps the timestamps of one or more incoming segments (a publisher, a re-attached source, a
 * remote pull that starts mid-stream) onto one continuous outgoing timeline that starts at
 * `startMs`. Deltas are signed 32-bit, so the 2^32 wrap of RTMP timestamps carries through.
 * Codec configs and data messages take the current position (they are not on the media clock).
 */
export class Timeline {
  #inBase: number | null = null;
  #outBase: number;
  #lastOut: number;
  #mapped = false;

  constructor(startMs = 0) {
    this.#outBase = startMs >>> 0;
    this.#lastOut = this.#outBase;
  }

  get lastOut(): number {
    return this.#lastOut;
  }

  /** A new segment begins: its first media packet lands just after the last one mapped. */
  rebase(): void {
    this.#inBase = null;
    this.#outBase = this.#mapped ? (this.#lastOut + 1) >>> 0 : this.#outBase;
  }

  map(packet: MediaPacket): number {
    const isMedia = packet.type === MessageType.Audio || packet.type === MessageType.Video;
    if (!isMedia || isVideoConfig(packet) || isAudioConfig(packet)) return this.#lastOut;
    if (this.#inBase === null) this.#inBase = packet.timestamp;
    const delta = (packet.timestamp - this.#inBase) | 0;
    this.#lastOut = (this.#outBase + Math.max(0, delta)) >>> 0;
    this.#mapped = true;
    return this.#lastOut;
  }
}

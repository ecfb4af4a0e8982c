import { closeSync, openSync, readSync } from 'node:fs';
import { MessageType } from '../rtmp/message.ts';
import { isAudioConfig, isVideoConfig, isVideoKeyframe, type MediaPacket } from './media-packet.ts';

const TAG_HEADER_BYTES = 11;
/** How far ahead of real time we send (FMS sends a few seconds of buffer fill, then paces). */
const LEAD_MS = 1000;
const MAX_TAG_BYTES = 16 * 1024 * 1024;

export interface VodPlayerOptions {
  startMs: number;
  /** -1: to the end; 0: first frame only; n: that many ms. */
  lengthMs: number;
  write: (packet: MediaPacket) => void;
  onEnd: (reason: 'complete' | 'error', error?: Error) => void;
}

/**
 * Plays a recorded FLV file at real-time pace: reads tag by tag from disk (never the whole file),
 * sends metadata and codec configs first, starts at the keyframe at or after `startMs`.
 */
export class VodPlayer {
  readonly #fd: number;
  readonly #options: VodPlayerOptions;
  #offset: number;
  #timer: NodeJS.Timeout | null = null;
  #startedAt = 0;
  #firstTs: number | null = null;
  #started = false;
  #stopped = false;
  #paused = false;

  constructor(file: string, options: VodPlayerOptions) {
    this.#fd = openSync(file, 'r');
    this.#options = options;
    const header = Buffer.alloc(9);
    readSync(this.#fd, header, 0, 9, 0);
    if (header.toString('latin1', 0, 3) !== 'FLV') {
      closeSync(this.#fd);
      throw new Error('not an FLV file');
    }
    this.#offset = header.readUInt32BE(5) + 4;
  }

  start(): void {
    this.#startedAt = Date.now();
    this.#pump();
  }

  pause(paused: boolean): void {
    if (this.#paused === paused || this.#stopped) return;
    this.#paused = paused;
    if (paused) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
    } else {
      // Continue the timeline where it stopped.
      this.#startedAt = Date.now() - this.#elapsedMediaMs;
      this.#pump();
    }
  }

  #elapsedMediaMs = 0;

  #readTag(): MediaPacket | null {
    const header = Buffer.alloc(TAG_HEADER_BYTES);
    if (readSync(this.#fd, header, 0, TAG_HEADER_BYTES, this.#offset) < TAG_HEADER_BYTES) return null;
    const size = header.readUIntBE(1, 3);
    if (size > MAX_TAG_BYTES) return null;
    const payload = Buffer.alloc(size);
    if (readSync(this.#fd, payload, 0, size, this.#offset + TAG_HEADER_BYTES) < size) return null;
    this.#offset += TAG_HEADER_BYTES + size + 4;
    return { type: header[0]! & 0x1f, timestamp: (header.readUIntBE(4, 3) | (header[7]! << 24)) >>> 0, payload };
  }

  #pump(): void {
    this.#timer = null;
    if (this.#stopped || this.#paused) return;
    try {
      for (;;) {
        const tag = this.#readTag();
        if (!tag) return this.#finish('complete');
        if (!this.#started) {
          const config = tag.type === MessageType.DataAmf0 || isVideoConfig(tag) || isAudioConfig(tag);
          if (config) {
            this.#options.write({ ...tag, timestamp: 0 });
            continue;
          }
          const startable = tag.timestamp >= this.#options.startMs && (tag.type !== MessageType.Video || isVideoKeyframe(tag));
          if (!startable) continue;
          this.#started = true;
          this.#firstTs = tag.timestamp;
        }
        const mediaMs = tag.timestamp - this.#firstTs!;
        if (this.#options.lengthMs >= 0 && mediaMs > this.#options.lengthMs) return this.#finish('complete');
        this.#options.write(tag);
        this.#elapsedMediaMs = mediaMs;
        if (this.#options.lengthMs === 0) return this.#finish('complete');
        const ahead = mediaMs - (Date.now() - this.#startedAt);
        if (ahead > LEAD_MS) {
          this.#timer = setTimeout(() => this.#pump(), ahead - LEAD_MS);
          return;
        }
      }
    } catch (error) {
      this.#finish('error', error as Error);
    }
  }

  #finish(reason: 'complete' | 'error', error?: Error): void {
    if (this.#stopped) return;
    this.stop();
    this.#options.onEnd(reason, error);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    closeSync(this.#fd);
  }
}

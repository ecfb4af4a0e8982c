import { closeSync, fsyncSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { LiveStream, LiveSubscriber } from './live-stream.ts';
import type { MediaPacket } from './media-packet.ts';
import { Timeline } from './timeline.ts';
import { flvHeader, flvTag, lastFlvTimestamp as lastTimestamp } from './flv-file.ts';

/** How long and how big one recording may grow (Application.xml Recording, Stream.record's arguments); -1 = no limit. */
export interface RecordingLimits {
  maxDurationMs: number;
  maxBytes: number;
}

export const UNLIMITED_RECORDING: RecordingLimits = { maxDurationMs: -1, maxBytes: -1 };

/** Which limit ended a recording. */
export type RecordingLimit = 'duration' | 'size';

/**
 * Records a live stream to an FLV file ("record" truncates, "append" continues after the last
 * timestamp already in the file). Writes are synchronous per packet: a recording is small next
 * to the network I/O and this keeps ordering and crash behaviour simple (what was written is a
 * valid FLV up to the last complete tag).
 *
 * Limits count this recording (not what an appended file held before): the tag that would pass
 * one is not written, the recorder stops itself (file closed) and `onLimit` tells the owner once.
 */
export class Recorder implements LiveSubscriber {
  readonly file: string;
  #fd: number;
  #timeline: Timeline;
  readonly #limits: RecordingLimits;
  readonly #onLimit: (limit: RecordingLimit) => void;
  #stream: LiveStream | null = null;
  /** Output timestamp of this recording's first tag (duration is measured from it). */
  #firstOut: number | null = null;
  bytesWritten = 0;

  constructor(file: string, mode: 'record' | 'append', limits: RecordingLimits = UNLIMITED_RECORDING, onLimit: (limit: RecordingLimit) => void = () => undefined) {
    this.file = file;
    this.#limits = limits;
    this.#onLimit = onLimit;
    mkdirSync(path.dirname(file), { recursive: true });
    const existing = mode === 'append' ? safeSize(file) : 0;
    this.#fd = openSync(file, existing > 0 ? 'a' : 'w');
    this.#timeline = new Timeline(existing > 0 ? lastTimestamp(file) + 1 : 0);
    if (existing === 0) this.#write(flvHeader(true, true));
  }

  /** Starts feeding from the stream: metadata and codec configs first so the file plays alone. */
  start(stream: LiveStream): void {
    this.#stream = stream;
    for (const packet of [stream.metadata, stream.videoConfig, stream.audioConfig]) if (packet) this.packet(packet);
    stream.subscribe(this);
  }

  packet(packet: MediaPacket): void {
    if (this.#fd < 0) return;
    const out = this.#timeline.map(packet);
    this.#firstOut ??= out;
    const { maxDurationMs, maxBytes } = this.#limits;
    if (maxDurationMs >= 0 && out - this.#firstOut > maxDurationMs) return this.#reached('duration');
    const tag = flvTag({ type: packet.type === 15 ? 18 : packet.type, timestamp: out, payload: packet.payload });
    if (maxBytes >= 0 && this.bytesWritten + tag.length > maxBytes) return this.#reached('size');
    this.#write(tag);
  }

  #reached(limit: RecordingLimit): void {
    this.stop(this.#stream ?? undefined);
    this.#onLimit(limit);
  }

  published(): void {}
  unpublished(): void {}

  #write(buffer: Buffer): void {
    writeSync(this.#fd, buffer);
    this.bytesWritten += buffer.length;
  }

  stop(stream: LiveStream | undefined = this.#stream ?? undefined): void {
    stream?.unsubscribe(this);
    if (this.#fd < 0) return;
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

function safeSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // no file yet: append starts a new one
  }
}

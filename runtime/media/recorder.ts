import { closeSync, fsyncSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { LiveStream, LiveSubscriber } from './live-stream.ts';
import type { MediaPacket } from './media-packet.ts';
import { Timeline } from './timeline.ts';
import { flvHeader, flvTag, lastFlvTimestamp as lastTimestamp } from './flv-file.ts';

/**
 * Records a live stream to an FLV file ("record" truncates, "append" continues after the last
 * timestamp already in the file). Writes are synchronous per packet: a recording is small next
 * to the network I/O and this keeps ordering and crash behaviour simple (what was written is a
 * valid FLV up to the last complete tag).
 */
export class Recorder implements LiveSubscriber {
  readonly file: string;
  #fd: number;
  #timeline: Timeline;
  bytesWritten = 0;

  constructor(file: string, mode: 'record' | 'append') {
    this.file = file;
    mkdirSync(path.dirname(file), { recursive: true });
    const existing = mode === 'append' ? safeSize(file) : 0;
    this.#fd = openSync(file, existing > 0 ? 'a' : 'w');
    this.#timeline = new Timeline(existing > 0 ? lastTimestamp(file) + 1 : 0);
    if (existing === 0) this.#write(flvHeader(true, true));
  }

  /** Starts feeding from the stream: metadata and codec configs first so the file plays alone. */
  start(stream: LiveStream): void {
    for (const packet of [stream.metadata, stream.videoConfig, stream.audioConfig]) if (packet) this.packet(packet);
    stream.subscribe(this);
  }

  packet(packet: MediaPacket): void {
    if (this.#fd < 0) return;
    const out = this.#timeline.map(packet);
    this.#write(flvTag({ type: packet.type === 15 ? 18 : packet.type, timestamp: out, payload: packet.payload }));
  }

  published(): void {}
  unpublished(): void {}

  #write(buffer: Buffer): void {
    writeSync(this.#fd, buffer);
    this.bytesWritten += buffer.length;
  }

  stop(stream?: LiveStream): void {
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

import { open } from 'node:fs/promises';
import { MessageType } from '../../rtmp/message.ts';
import { isAudioConfigBytes, isKeyframeByte, isVideoConfigBytes, metadataObject } from '../media-packet.ts';
import { audioConfigOf, sameAudioConfig, sameVideoConfig, videoConfigOf, type AudioConfig, type VideoConfig } from './codec-config.ts';
import { targetDurationSec } from './hls-settings.ts';

/*
 * The segment map of a recorded FLV for VOD HLS, made by one pass over the file's tag headers (read in
 * 256 KiB chunks, asynchronously: a multi-hour recording never blocks the event loop). Segments start
 * at keyframes like live ones; a codec change starts a new period (own init segment, discontinuity).
 */

export interface VodPeriod {
  video: VideoConfig | null;
  audio: AudioConfig | null;
}

export interface VodSegment {
  startMs: number;
  durationMs: number;
  /** File offsets of the segment's first tag and just past its last one. */
  start: number;
  end: number;
  period: number;
  independent: boolean;
}

export interface VodIndex {
  periods: VodPeriod[];
  segments: VodSegment[];
  targetDurationSec: number;
}

const CHUNK_BYTES = 256 * 1024;
const TAG_HEADER = 11;
/** A tag larger than this is a broken file, not media: indexing stops there. */
const MAX_TAG_BYTES = 16 * 1024 * 1024;

export async function indexFlv(file: string, segmentTargetMs: number, maxSegmentBytes: number): Promise<VodIndex> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(13);
    await handle.read(head, 0, 13, 0);
    if (head.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV file');
    const tdSec = targetDurationSec({ segmentTargetMs });
    const maxMs = tdSec * 1000 + 400;
    const periods: VodPeriod[] = [];
    const segments: VodSegment[] = [];
    let video: VideoConfig | null = null;
    let audio: AudioConfig | null = null;
    let meta = { width: 0, height: 0 };
    let periodDirty = true;
    let current: VodSegment | null = null;
    let lastMs = 0;
    let frameMs = 40;
    const close = (endMs: number, endOffset: number) => {
      if (!current) return;
      current.durationMs = Math.max(1, endMs - current.startMs);
      current.end = endOffset;
      segments.push(current);
      current = null;
    };
    const startAt = (ms: number, offset: number, independent: boolean) => {
      if (periodDirty) {
        periods.push({ video, audio });
        periodDirty = false;
      }
      current = { startMs: ms, durationMs: 0, start: offset, end: offset, period: periods.length - 1, independent };
    };
    let offset = head.readUInt32BE(5) + 4;
    let buffer = Buffer.alloc(0);
    let bufferAt = offset;
    for (;;) {
      // Make sure the next tag header and the first two payload bytes are in the buffer.
      if (offset + TAG_HEADER + 2 > bufferAt + buffer.length) {
        const rest = offset - bufferAt < buffer.length ? buffer.subarray(offset - bufferAt) : Buffer.alloc(0);
        const chunk = Buffer.alloc(CHUNK_BYTES);
        const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, offset + rest.length);
        if (bytesRead === 0) break;
        buffer = Buffer.concat([rest, chunk.subarray(0, bytesRead)]);
        bufferAt = offset;
        continue;
      }
      const at = offset - bufferAt;
      const type = buffer[at]! & 0x1f;
      const size = buffer.readUIntBE(at + 1, 3);
      const ms = (buffer.readUIntBE(at + 4, 3) | (buffer[at + 7]! << 24)) >>> 0;
      if (size > MAX_TAG_BYTES) break;
      const tagEnd = offset + TAG_HEADER + size + 4;
      const b0 = buffer[at + TAG_HEADER]!;
      const b1 = buffer[at + TAG_HEADER + 1]!;
      const isVideoConfig = type === MessageType.Video && isVideoConfigBytes(b0, b1);
      const isAudioConfig = type === MessageType.Audio && isAudioConfigBytes(b0, b1);
      if (isVideoConfig || isAudioConfig || type === 18) {
        const payload = Buffer.alloc(size);
        await handle.read(payload, 0, size, offset + TAG_HEADER);
        const packet = { type, timestamp: ms, payload };
        if (type === 18) {
          const m = metadataObject(payload);
          const n = (v: unknown) => (typeof v === 'number' && v > 0 && v < 65536 ? Math.round(v) : 0);
          if (m) meta = { width: n(m['width']), height: n(m['height']) };
        } else if (isVideoConfig) {
          const next = videoConfigOf(packet, meta);
          if (!sameVideoConfig(next, video)) {
            close(lastMs, offset);
            video = next;
            periodDirty = true;
          }
        } else {
          const next = audioConfigOf(packet);
          if (!sameAudioConfig(next, audio)) {
            close(lastMs, offset);
            audio = next;
            periodDirty = true;
          }
        }
      } else if ((type === MessageType.Video && video) || (type === MessageType.Audio && audio && !video)) {
        const keyframe = type === MessageType.Audio || isKeyframeByte(b0);
        if (type === MessageType.Video && ms > lastMs && ms - lastMs < 1000) frameMs = ms - lastMs;
        const open = current as VodSegment | null;
        if (!open) {
          if (keyframe) startAt(ms, offset, true);
        } else if ((keyframe && ms - open.startMs >= segmentTargetMs - frameMs / 2) || ms - open.startMs + frameMs > maxMs || offset - open.start > maxSegmentBytes) {
          close(ms, offset);
          startAt(ms, offset, keyframe);
        }
        lastMs = ms;
      }
      offset = tagEnd;
    }
    close(lastMs + frameMs, offset);
    return { periods, segments, targetDurationSec: tdSec };
  } finally {
    await handle.close();
  }
}

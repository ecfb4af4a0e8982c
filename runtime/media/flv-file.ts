import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { MediaPacket } from './media-packet.ts';

const FLV_HEADER_BYTES = 9;
const TAG_HEADER_BYTES = 11;

/**
 * Reads the tags of an FLV file held in memory (audio 8, video 9, data 18) as media packets.
 * Used for VOD playback and by tests and benchmarks that publish real encoded media.
 */
export function readFlvTags(data: Buffer): MediaPacket[] {
  if (data.length < FLV_HEADER_BYTES || data.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV file');
  let offset = data.readUInt32BE(5) + 4; // header, then PreviousTagSize0
  const tags: MediaPacket[] = [];
  while (offset + TAG_HEADER_BYTES <= data.length) {
    const type = data[offset]! & 0x1f;
    const size = data.readUIntBE(offset + 1, 3);
    const timestamp = (data.readUIntBE(offset + 4, 3) | (data[offset + 7]! << 24)) >>> 0;
    const start = offset + TAG_HEADER_BYTES;
    if (start + size > data.length) break; // truncated last tag
    tags.push({ type, timestamp, payload: data.subarray(start, start + size) });
    offset = start + size + 4;
  }
  return tags;
}

/** Serialises packets as an FLV file (header flags from the packet types present). */
export function flvHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const header = Buffer.from([0x46, 0x4c, 0x56, 1, (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0), 0, 0, 0, 9, 0, 0, 0, 0]);
  return header;
}

export function flvTag(packet: MediaPacket): Buffer {
  const tag = Buffer.alloc(TAG_HEADER_BYTES + packet.payload.length + 4);
  tag[0] = packet.type;
  tag.writeUIntBE(packet.payload.length, 1, 3);
  tag.writeUIntBE(packet.timestamp & 0xffffff, 4, 3);
  tag[7] = (packet.timestamp >>> 24) & 0xff;
  packet.payload.copy(tag, TAG_HEADER_BYTES);
  tag.writeUInt32BE(TAG_HEADER_BYTES + packet.payload.length, TAG_HEADER_BYTES + packet.payload.length);
  return tag;
}

/** Timestamp (ms) of the last complete tag of an FLV file, read backwards via PreviousTagSize; 0 if none. */
export function lastFlvTimestamp(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const size = statSync(file).size;
    if (size < 13 + 4) return 0;
    const tail = Buffer.alloc(4);
    readSync(fd, tail, 0, 4, size - 4);
    const tagSize = tail.readUInt32BE(0);
    if (tagSize < TAG_HEADER_BYTES || tagSize > size - 13) return 0;
    const header = Buffer.alloc(TAG_HEADER_BYTES);
    readSync(fd, header, 0, TAG_HEADER_BYTES, size - 4 - tagSize);
    return (header.readUIntBE(4, 3) | (header[7]! << 24)) >>> 0;
  } finally {
    closeSync(fd);
  }
}

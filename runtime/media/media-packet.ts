import { decodeAmf0 } from '../rtmp/amf0.ts';
import { MessageType } from '../rtmp/message.ts';
import type { SharedWire } from '../rtmp/shared-wire.ts';

/** One audio, video or data message of a live stream, as it travels from publisher to players. */
export interface MediaPacket {
  type: number;
  /** Stream timestamp in ms, 32-bit unsigned. */
  timestamp: number;
  payload: Buffer;
  /**
   * Chunked wire pieces shared by every player with the same chunk stream id, message stream id
   * and chunk size (fan-out encodes once, not once per player). Filled lazily by the connection.
   */
  wire?: SharedWire;
}

// The codec tests of the media path, in one place. The byte forms serve readers that scan FLV
// files without building packets (vod-index.ts); the packet forms everything else.

/** FLV/RTMP video tag: frame type in the high nibble (1 = keyframe); enhanced RTMP sets bit 7 and keeps it. */
export function isKeyframeByte(first: number): boolean {
  return ((first >> 4) & 0x07) === 1;
}

/** AVC/HEVC sequence header (codec config) or enhanced-RTMP SequenceStart, from a video tag's first two bytes. */
export function isVideoConfigBytes(first: number, second: number | undefined): boolean {
  if (first & 0x80) return (first & 0x0f) === 0; // enhanced RTMP: PacketTypeSequenceStart
  const codec = first & 0x0f;
  return (codec === 7 || codec === 12) && second === 0;
}

/** AAC AudioSpecificConfig, from an audio tag's first two bytes. */
export function isAudioConfigBytes(first: number, second: number | undefined): boolean {
  return first >> 4 === 10 && second === 0;
}

export function isVideoKeyframe(packet: MediaPacket): boolean {
  if (packet.type !== MessageType.Video || packet.payload.length === 0) return false;
  return isKeyframeByte(packet.payload[0]!);
}

export function isVideoConfig(packet: MediaPacket): boolean {
  if (packet.type !== MessageType.Video || packet.payload.length < 2) return false;
  return isVideoConfigBytes(packet.payload[0]!, packet.payload[1]);
}

export function isAudioConfig(packet: MediaPacket): boolean {
  if (packet.type !== MessageType.Audio || packet.payload.length < 2) return false;
  return isAudioConfigBytes(packet.payload[0]!, packet.payload[1]);
}

/** AMF0 string "onMetaData" as it opens a metadata data message. */
const ON_METADATA = Buffer.from([0x02, 0x00, 0x0a, ...Buffer.from('onMetaData', 'latin1')]);

/** An AMF0 data message whose handler is onMetaData (a stream's metadata, kept for late joiners). */
export function isMetadata(packet: MediaPacket): boolean {
  return packet.type === MessageType.DataAmf0 && packet.payload.length >= ON_METADATA.length && packet.payload.compare(ON_METADATA, 0, ON_METADATA.length, 0, ON_METADATA.length) === 0;
}

/** The onMetaData object of a data message's AMF0 payload, or null. */
export function metadataObject(payload: Buffer): Record<string, unknown> | null {
  try {
    const values = decodeAmf0(payload);
    const object = values[0] === 'onMetaData' ? values[1] : values[0];
    return typeof object === 'object' && object !== null ? (object as Record<string, unknown>) : null;
  } catch {
    return null; // malformed metadata: fall back to the codec configs
  }
}

import { MessageType } from '../rtmp/message.ts';
import type { SharedWire } from '../rtmp/shared-wire.ts';

/** One audio, video or data message of a live stream, as it travels from publisher to players. */
export interface MediaPacket {
  type: number;
  /** Stream timestamp in ms, 32-bit unsigned. */
  timestamp: number;
  payload: Buffer;
  /**
   * Chunked wire bytes shared by every player with the same chunk stream id, message stream id
   * and chunk size (fan-out encodes once, not once per player). Filled lazily by the connection.
   */
  wire?: SharedWire;
}

/** FLV/RTMP video tag: frame type in the high nibble (1 = keyframe); enhanced RTMP sets bit 7. */
export function isVideoKeyframe(packet: MediaPacket): boolean {
  if (packet.type !== MessageType.Video || packet.payload.length === 0) return false;
  const first = packet.payload[0]!;
  return ((first >> 4) & 0x07) === 1;
}

/** AVC/HEVC sequence header (codec config) or enhanced-RTMP SequenceStart. */
export function isVideoConfig(packet: MediaPacket): boolean {
  if (packet.type !== MessageType.Video || packet.payload.length < 2) return false;
  const first = packet.payload[0]!;
  if (first & 0x80) return (first & 0x0f) === 0; // enhanced RTMP: PacketTypeSequenceStart
  const codec = first & 0x0f;
  return (codec === 7 || codec === 12) && packet.payload[1] === 0;
}

/** AAC AudioSpecificConfig. */
export function isAudioConfig(packet: MediaPacket): boolean {
  if (packet.type !== MessageType.Audio || packet.payload.length < 2) return false;
  return packet.payload[0]! >> 4 === 10 && packet.payload[1] === 0;
}

import { MessageType } from '../../rtmp/message.ts';
import { isAudioConfig, isKeyframeByte, type MediaPacket } from '../media-packet.ts';
import { spsDimensions } from './h264-sps.ts';

/*
 * What the fMP4 muxer needs from an FLV/RTMP stream's codec configuration packets, and how the media
 * packets of each codec are read. HLS here carries H.264 or HEVC video (classic FLV codec ids 7 and 12,
 * or enhanced-RTMP 'avc1'/'hvc1') and AAC audio. Other codecs (VP6, H.263, Screen video, AV1, VP9, MP3,
 * Nellymoser, Speex, G.711…) have no track here: a stream with one of them and one packageable track is
 * packaged with that track alone; a stream with none is refused (HLS_CODEC_UNSUPPORTED).
 */

export interface VideoConfig {
  kind: 'avc1' | 'hvc1';
  /** AVCDecoderConfigurationRecord / HEVCDecoderConfigurationRecord, as it goes into avcC/hvcC. */
  record: Buffer;
  /** RFC 6381 codec string for the playlist and MSE. */
  codec: string;
  width: number;
  height: number;
}

export interface AudioConfig {
  /** AudioSpecificConfig (ISO 14496-3), as it goes into esds. */
  asc: Buffer;
  codec: string;
  sampleRate: number;
  channels: number;
}

/**
 * One media sample read from an FLV video tag: the AVCC/HVCC NAL units as they go into mdat are
 * `payload` from `offset` on (no Buffer view is made per frame). Callers reuse one object.
 */
export interface VideoSample {
  payload: Buffer;
  offset: number;
  keyframe: boolean;
  /** Composition time offset, ms (signed). */
  ctsMs: number;
}

export const emptyVideoSample = (): VideoSample => ({ payload: Buffer.alloc(0), offset: 0, keyframe: false, ctsMs: 0 });

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Video config from an AVC/HEVC sequence header (classic or enhanced RTMP); null for other codecs. */
export function videoConfigOf(packet: MediaPacket, fallback: { width: number; height: number }): VideoConfig | null {
  const p = packet.payload;
  if (p.length < 6) return null;
  let kind: 'avc1' | 'hvc1';
  let record: Buffer;
  if (p[0]! & 0x80) {
    if ((p[0]! & 0x0f) !== 0) return null; // not SequenceStart
    const fourcc = p.toString('latin1', 1, 5);
    if (fourcc !== 'avc1' && fourcc !== 'hvc1') return null;
    kind = fourcc;
    record = p.subarray(5);
  } else {
    const codec = p[0]! & 0x0f;
    if ((codec !== 7 && codec !== 12) || p[1] !== 0) return null;
    kind = codec === 7 ? 'avc1' : 'hvc1';
    record = p.subarray(5);
  }
  if (kind === 'avc1') {
    if (record.length < 7 || record[0] !== 1) return null;
    const dims = avcDimensions(record) ?? fallback;
    const hex = (b: number) => b.toString(16).padStart(2, '0');
    return { kind, record: Buffer.from(record), codec: `avc1.${hex(record[1]!)}${hex(record[2]!)}${hex(record[3]!)}`, ...dims };
  }
  if (record.length < 23 || record[0] !== 1) return null;
  return { kind, record: Buffer.from(record), codec: hevcCodecString(record), ...fallback };
}

/** Width/height from the first SPS of an avcC record; null when it cannot be read. */
function avcDimensions(record: Buffer): { width: number; height: number } | null {
  const spsCount = record[5]! & 0x1f;
  if (spsCount < 1 || record.length < 8) return null;
  const length = record.readUInt16BE(6);
  if (8 + length > record.length) return null;
  return spsDimensions(record.subarray(8, 8 + length));
}

/** ISO 14496-15 Annex E: hvc1.<space><profile>.<compat, bit-reversed>.<tier><level>.<constraints>. */
function hevcCodecString(r: Buffer): string {
  const space = ['', 'A', 'B', 'C'][r[1]! >> 6]!;
  const tier = r[1]! & 0x20 ? 'H' : 'L';
  const profile = r[1]! & 0x1f;
  let compat = r.readUInt32BE(2);
  let reversed = 0;
  for (let i = 0; i < 32; i++) {
    reversed = (reversed << 1) | (compat & 1);
    compat >>>= 1;
  }
  const constraints = [...r.subarray(6, 12)];
  while (constraints.length > 1 && constraints.at(-1) === 0) constraints.pop();
  return `hvc1.${space}${profile}.${(reversed >>> 0).toString(16)}.${tier}${r[12]}.${constraints.map((b) => b.toString(16)).join('.')}`;
}

/** AAC config from an AAC sequence header; null for other audio codecs or a malformed config. */
export function audioConfigOf(packet: MediaPacket): AudioConfig | null {
  const p = packet.payload;
  if (p.length < 4 || !isAudioConfig(packet)) return null;
  const asc = p.subarray(2);
  let objectType = asc[0]! >> 3;
  let bit = 5;
  const read = (bits: number) => {
    let value = 0;
    for (let i = 0; i < bits; i++, bit++) value = (value << 1) | ((asc[bit >> 3]! >> (7 - (bit & 7))) & 1);
    return value;
  };
  if (objectType === 31) objectType = 32 + read(6);
  const rateIndex = read(4);
  const sampleRate = rateIndex === 15 ? read(24) : AAC_RATES[rateIndex];
  const channels = read(4);
  if (!sampleRate || bit > asc.length * 8) return null;
  return { asc: Buffer.from(asc), codec: `mp4a.40.${objectType}`, sampleRate, channels: channels || 2 };
}

/** Reads the coded frame of an H.264/HEVC video tag into `into`; false for configs, end-of-sequence and other codecs. */
export function readVideoSample(packet: MediaPacket, into: VideoSample): boolean {
  const p = packet.payload;
  if (packet.type !== MessageType.Video || p.length < 5) return false;
  into.payload = p;
  into.keyframe = isKeyframeByte(p[0]!);
  if (p[0]! & 0x80) {
    const packetType = p[0]! & 0x0f;
    if (packetType === 1 && p.length > 8) {
      into.offset = 8;
      into.ctsMs = p.readIntBE(5, 3);
      return true;
    }
    into.offset = 5;
    into.ctsMs = 0;
    return packetType === 3;
  }
  const codec = p[0]! & 0x0f;
  into.offset = 5;
  into.ctsMs = p.length >= 6 ? p.readIntBE(2, 3) : 0;
  return (codec === 7 || codec === 12) && p[1] === 1 && p.length >= 6;
}

/** Where the raw AAC frame of an audio tag starts (2), or -1 for configs and other codecs. */
export function aacFrameOffset(packet: MediaPacket): number {
  const p = packet.payload;
  return packet.type === MessageType.Audio && p.length >= 3 && p[0]! >> 4 === 10 && p[1] === 1 ? 2 : -1;
}

/** Whether two configs would produce the same init segment. */
export function sameVideoConfig(a: VideoConfig | null, b: VideoConfig | null): boolean {
  return a === b || (a !== null && b !== null && a.kind === b.kind && a.record.equals(b.record));
}

export function sameAudioConfig(a: AudioConfig | null, b: AudioConfig | null): boolean {
  return a === b || (a !== null && b !== null && a.asc.equals(b.asc));
}

import type { LiveStream } from './live-stream.ts';
import { metadataObject } from './media-packet.ts';

/*
 * Human-readable codec names of a live stream, for the admin API and console. Read from the codec
 * config packets (AVC/HEVC sequence header, enhanced-RTMP FourCC, AAC config) and, for codecs that
 * have none (MP3, Speex, VP6…), from onMetaData's videocodecid/audiocodecid.
 */

/** FLV VIDEODATA CodecID (FLV spec E.4.3.1). */
const VIDEO_CODECS: Record<number, string> = { 2: 'H.263', 3: 'Screen video', 4: 'VP6', 5: 'VP6 alpha', 6: 'Screen video 2', 7: 'H.264', 12: 'HEVC' };
/** FLV AUDIODATA SoundFormat (FLV spec E.4.2.1). */
const AUDIO_CODECS: Record<number, string> = {
  0: 'PCM', 1: 'ADPCM', 2: 'MP3', 3: 'PCM LE', 4: 'Nellymoser 16k', 5: 'Nellymoser 8k', 6: 'Nellymoser',
  7: 'G.711 A-law', 8: 'G.711 mu-law', 10: 'AAC', 11: 'Speex', 14: 'MP3 8k',
};
/** Enhanced RTMP FourCCs. */
const FOURCC: Record<string, string> = { avc1: 'H.264', hvc1: 'HEVC', av01: 'AV1', vp09: 'VP9', mp4a: 'AAC', Opus: 'Opus', '.mp3': 'MP3', 'ac-3': 'AC-3', 'ec-3': 'E-AC-3', fLaC: 'FLAC' };

export interface StreamCodecs {
  video: string | null;
  audio: string | null;
}

export function streamCodecs(stream: Pick<LiveStream, 'metadata' | 'videoConfig' | 'audioConfig'>): StreamCodecs {
  const meta = stream.metadata ? metadataObject(stream.metadata.payload) : null;
  return {
    video: videoFromConfig(stream.videoConfig?.payload) ?? codecFromMeta(meta?.['videocodecid'], VIDEO_CODECS),
    audio: stream.audioConfig ? 'AAC' : codecFromMeta(meta?.['audiocodecid'], AUDIO_CODECS),
  };
}

function videoFromConfig(payload: Buffer | undefined): string | null {
  if (!payload || payload.length < 1) return null;
  const first = payload[0]!;
  if (first & 0x80) return payload.length >= 5 ? nameOfFourCC(payload.toString('latin1', 1, 5)) : null;
  return VIDEO_CODECS[first & 0x0f] ?? null;
}

function codecFromMeta(id: unknown, names: Record<number, string>): string | null {
  if (typeof id === 'number') return names[id] ?? `codec ${id}`;
  if (typeof id === 'string' && id) return nameOfFourCC(id);
  return null;
}

function nameOfFourCC(fourcc: string): string {
  return FOURCC[fourcc] ?? fourcc;
}

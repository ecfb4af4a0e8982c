import { stat, open } from 'node:fs/promises';
import type http from 'node:http';
import type { Logger } from '../../log/logger.ts';
import { MessageType } from '../../rtmp/message.ts';
import { aacFrameOffset, emptyVideoSample, readVideoSample } from './codec-config.ts';
import { AUDIO_TRACK_ID, initSegment, mediaFragment, VIDEO_TRACK_ID } from './fmp4.ts';
import type { HlsSettings } from './hls-settings.ts';
import type { HlsObject, HlsRoute } from './hls-request.ts';
import { answerError, answerObject, CORS_HEADERS, IMMUTABLE } from './http-answers.ts';
import { TrackBuffer } from './track-buffer.ts';
import { indexFlv, type VodIndex, type VodSegment } from './vod-index.ts';

/*
 * Recordings as VOD HLS: `…/<stream>/vod.m3u8` lists the recorded FLV's segments; each segment is one
 * moof+mdat muxed on request from its byte range of the file (nothing is written next to the
 * recording). Seeking is the player's: every segment starts at a keyframe. Object names carry a
 * version made of the file's size and mtime, so a recording that grows (record "append") gets new
 * names and a CDN never mixes two versions.
 *
 * Why VOD HLS and not progressive fMP4: it reuses the live muxer and its cache headers, seeks by
 * segment without a sample table for the whole file up front (a progressive MP4 needs the complete
 * moov before its first byte), and plays natively in Safari and through hls.js everywhere else.
 */

export interface VodSource {
  file: string;
  settings: HlsSettings;
}

export type VodLookup = (app: string, instance: string, stream: string) => VodSource | null;

export interface VodBudgets {
  /** Indexes kept (least recently used goes first). */
  maxIndexedFiles: number;
  /** Files being indexed at once; more requests wait for none: 503. */
  maxIndexing: number;
  /** A VOD segment is cut before it exceeds this many file bytes (bounds the memory of one request). */
  maxSegmentBytes: number;
}

interface Cached {
  version: string;
  index: Promise<VodIndex>;
}

export class VodHls {
  readonly #lookup: VodLookup;
  readonly #budgets: VodBudgets;
  readonly #log: Logger;
  readonly #cache = new Map<string, Cached>();
  #indexing = 0;

  constructor(lookup: VodLookup, budgets: VodBudgets, log: Logger) {
    this.#lookup = lookup;
    this.#budgets = budgets;
    this.#log = log;
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse, routes: HlsRoute[], object: HlsObject): void {
    this.#answer(req, res, routes, object).catch((error: unknown) => {
      this.#log.warn({ err: (error as Error).message }, 'VOD HLS request failed');
      answerError(res, 500, 'the recording could not be read');
    });
  }

  async #answer(req: http.IncomingMessage, res: http.ServerResponse, routes: HlsRoute[], object: HlsObject): Promise<void> {
    const found = await this.#find(routes);
    if (!found) return answerError(res, 404, 'no recording of that stream');
    const { source, version } = found;
    if ((object.kind === 'vod-init' || object.kind === 'vod-segment') && object.version !== version) {
      return answerError(res, 404, 'the recording changed since this playlist was read: reload the playlist');
    }
    const index = await this.#index(source, version);
    if (index === 'busy') return answerError(res, 503, 'too many recordings being indexed; retry', { 'retry-after': '2' });
    if (index.segments.length === 0) return answerError(res, 501, 'the recording has no H.264/HEVC or AAC media HLS can carry; play it over RTMP');
    if (object.kind === 'vod-playlist') return this.#playlist(req, res, index, version);
    if (object.kind === 'vod-init') {
      const period = index.periods[object.index];
      if (!period) return answerError(res, 404, 'no such init segment');
      return answerObject(req, res, { contentType: 'video/mp4', cacheControl: IMMUTABLE, etag: `"vod-${version}-i${object.index}"`, body: [initSegment(period.video, period.audio)] });
    }
    if (object.kind !== 'vod-segment') return;
    const segment = index.segments[object.index];
    if (!segment) return answerError(res, 404, 'no such segment');
    const next = index.segments[object.index + 1];
    const bytes = await muxSegment(source.file, segment, index, object.index + 1, next);
    answerObject(req, res, { contentType: 'video/mp4', cacheControl: IMMUTABLE, etag: `"vod-${version}-${object.index}"`, body: [bytes] });
  }

  #playlist(req: http.IncomingMessage, res: http.ServerResponse, index: VodIndex, version: string): void {
    const lines = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${index.targetDurationSec}`, '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MEDIA-SEQUENCE:0'];
    let period = -1;
    index.segments.forEach((segment, i) => {
      if (segment.period !== period) {
        if (period >= 0) lines.push('#EXT-X-DISCONTINUITY');
        lines.push(`#EXT-X-MAP:URI="vod-${version}-init-${segment.period}.mp4"`);
        period = segment.period;
      }
      lines.push(`#EXTINF:${(segment.durationMs / 1000).toFixed(3)},`, `vod-${version}-${i}.m4s`);
    });
    lines.push('#EXT-X-ENDLIST');
    const body = Buffer.from(`${lines.join('\n')}\n`);
    // Short: a recording can grow (record "append"); its objects are immutable under their versioned names.
    res.writeHead(200, { ...CORS_HEADERS, 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'public, max-age=10', 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async #find(routes: HlsRoute[]): Promise<{ source: VodSource; version: string } | null> {
    for (const route of routes) {
      const source = this.#lookup(route.app, route.instance, route.stream);
      if (!source || !source.settings.enabled) continue;
      const st = await stat(source.file).catch(() => null);
      if (!st?.isFile()) continue;
      return { source, version: `${st.size.toString(36)}${Math.floor(st.mtimeMs).toString(36)}` };
    }
    return null;
  }

  async #index(source: VodSource, version: string): Promise<VodIndex | 'busy'> {
    const cached = this.#cache.get(source.file);
    if (cached?.version === version) {
      this.#cache.delete(source.file); // most recently used goes last
      this.#cache.set(source.file, cached);
      return cached.index;
    }
    if (this.#indexing >= this.#budgets.maxIndexing) return 'busy';
    this.#indexing++;
    const index = indexFlv(source.file, source.settings.segmentTargetMs, this.#budgets.maxSegmentBytes).finally(() => this.#indexing--);
    this.#cache.set(source.file, { version, index });
    index.catch(() => this.#cache.delete(source.file));
    while (this.#cache.size > this.#budgets.maxIndexedFiles) this.#cache.delete(this.#cache.keys().next().value!);
    return index;
  }
}

/** One VOD segment as one moof+mdat, from its tags on disk. */
async function muxSegment(file: string, segment: VodSegment, index: VodIndex, sequence: number, next: VodSegment | undefined): Promise<Buffer> {
  const handle = await open(file, 'r');
  const data = Buffer.alloc(segment.end - segment.start);
  try {
    await handle.read(data, 0, data.length, segment.start);
  } finally {
    await handle.close();
  }
  const period = index.periods[segment.period]!;
  const video = new TrackBuffer(VIDEO_TRACK_ID, true);
  const audio = new TrackBuffer(AUDIO_TRACK_ID, false);
  const endMs = next && next.period === segment.period ? next.startMs : segment.startMs + segment.durationMs;
  const sample = emptyVideoSample();
  let pending: { ms: number; payload: Buffer; offset: number; keyframe: boolean; ctsMs: number } | null = null;
  const writePending = (untilMs: number) => {
    if (pending) video.add(Math.round(pending.ms * 90), Math.max(1, Math.round((untilMs - pending.ms) * 90)), pending.payload, pending.offset, Math.round(pending.ctsMs * 90), pending.keyframe);
  };
  let audioNext = -1;
  for (let at = 0; at + 11 <= data.length;) {
    const type = data[at]! & 0x1f;
    const size = data.readUIntBE(at + 1, 3);
    const ms = (data.readUIntBE(at + 4, 3) | (data[at + 7]! << 24)) >>> 0;
    if (at + 11 + size > data.length) break;
    const packet = { type, timestamp: ms, payload: data.subarray(at + 11, at + 11 + size) };
    at += 11 + size + 4;
    if (type === MessageType.Video && period.video) {
      if (!readVideoSample(packet, sample)) continue;
      writePending(ms);
      pending = { ms: Math.max(ms, pending ? pending.ms + 1 : ms), payload: sample.payload, offset: sample.offset, keyframe: sample.keyframe, ctsMs: sample.ctsMs };
    } else if (type === MessageType.Audio && period.audio) {
      const offset = aacFrameOffset(packet);
      if (offset < 0) continue;
      const rate = period.audio.sampleRate;
      const actual = Math.round((ms * rate) / 1000);
      const dts = audioNext >= 0 && Math.abs(actual - audioNext) < 2048 ? audioNext : actual;
      audioNext = dts + 1024;
      audio.add(dts, 1024, packet.payload, offset);
    }
  }
  writePending(endMs);
  return mediaFragment(sequence, [video, audio]);
}

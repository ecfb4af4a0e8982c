import { strict as assert } from 'node:assert';
import { pollUntil } from './poll.ts';

/** A media playlist read tag by tag (only what the tests check). */
export interface MediaPlaylist {
  version: number;
  targetDuration: number;
  mediaSequence: number;
  discontinuitySequence: number;
  partTarget: number | null;
  serverControl: Record<string, string>;
  segments: { uri: string; duration: number; pdt: number | null; discontinuity: boolean; map: string | null; parts: PlaylistPart[] }[];
  /** Parts of the segment in progress (after the last EXTINF). */
  openParts: PlaylistPart[];
  preloadHints: string[];
  ended: boolean;
  playlistType: string | null;
}

export interface PlaylistPart {
  uri: string;
  duration: number;
  independent: boolean;
}

function attributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  assert.equal(lines[0], '#EXTM3U', 'a playlist starts with #EXTM3U');
  const p: MediaPlaylist = {
    version: 0, targetDuration: 0, mediaSequence: 0, discontinuitySequence: 0, partTarget: null, serverControl: {},
    segments: [], openParts: [], preloadHints: [], ended: false, playlistType: null,
  };
  let parts: PlaylistPart[] = [];
  let duration: number | null = null;
  let pdt: number | null = null;
  let discontinuity = false;
  let map: string | null = null;
  for (const line of lines.slice(1)) {
    const [tag, value = ''] = line.startsWith('#') ? [line.slice(0, line.indexOf(':') < 0 ? line.length : line.indexOf(':')), line.slice(line.indexOf(':') + 1)] : ['URI', line];
    switch (tag) {
      case '#EXT-X-VERSION': p.version = Number(value); break;
      case '#EXT-X-TARGETDURATION': p.targetDuration = Number(value); break;
      case '#EXT-X-MEDIA-SEQUENCE': p.mediaSequence = Number(value); break;
      case '#EXT-X-DISCONTINUITY-SEQUENCE': p.discontinuitySequence = Number(value); break;
      case '#EXT-X-PART-INF': p.partTarget = Number(attributes(value)['PART-TARGET']); break;
      case '#EXT-X-SERVER-CONTROL': p.serverControl = attributes(value); break;
      case '#EXT-X-PLAYLIST-TYPE': p.playlistType = value; break;
      case '#EXT-X-MAP': map = attributes(value)['URI']!; break;
      case '#EXT-X-PROGRAM-DATE-TIME': pdt = Date.parse(value); break;
      case '#EXT-X-DISCONTINUITY': discontinuity = true; break;
      case '#EXT-X-PART': {
        const a = attributes(value);
        parts.push({ uri: a['URI']!, duration: Number(a['DURATION']), independent: a['INDEPENDENT'] === 'YES' });
        break;
      }
      case '#EXT-X-PRELOAD-HINT': p.preloadHints.push(attributes(value)['URI']!); break;
      case '#EXTINF': duration = Number(value.split(',')[0]); break;
      case '#EXT-X-ENDLIST': p.ended = true; break;
      case 'URI':
        assert.notEqual(duration, null, `segment ${line} has no EXTINF`);
        p.segments.push({ uri: line, duration: duration!, pdt, discontinuity, map, parts });
        parts = [];
        duration = null;
        discontinuity = false;
        break;
      default:
    }
  }
  p.openParts = parts;
  return p;
}

/** The structural rules of RFC 8216(bis) a live LL-HLS playlist of this server must follow. */
export function assertLivePlaylist(p: MediaPlaylist, opts: { lowLatency: boolean }): void {
  assert.ok(p.targetDuration >= 1, 'EXT-X-TARGETDURATION is set');
  assert.equal(p.serverControl['CAN-BLOCK-RELOAD'], 'YES');
  assert.ok(Number(p.serverControl['HOLD-BACK']) >= 3 * p.targetDuration, 'HOLD-BACK is at least three target durations');
  for (const s of p.segments) {
    assert.ok(Math.round(s.duration) <= p.targetDuration, `segment ${s.uri} (${s.duration} s) rounds above the target duration ${p.targetDuration}`);
    assert.ok(s.map, `segment ${s.uri} has an EXT-X-MAP`);
    assert.ok(s.pdt !== null && Number.isFinite(s.pdt), `segment ${s.uri} has a PROGRAM-DATE-TIME`);
  }
  for (let i = 1; i < p.segments.length; i++) {
    assert.ok(p.segments[i]!.pdt! > p.segments[i - 1]!.pdt!, 'PROGRAM-DATE-TIME increases from segment to segment');
  }
  if (!opts.lowLatency) return;
  assert.equal(p.version >= 9, true, 'LL-HLS playlists are version 9 or later');
  assert.ok(p.partTarget !== null && p.partTarget > 0, 'EXT-X-PART-INF gives the part target');
  assert.ok(Number(p.serverControl['PART-HOLD-BACK']) >= 2 * p.partTarget!, 'PART-HOLD-BACK is at least twice the part target');
  const allParts = [...p.segments.flatMap((s) => s.parts), ...p.openParts];
  assert.ok(allParts.length > 0, 'parts are listed near the live edge');
  for (const part of allParts) assert.ok(part.duration <= p.partTarget! + 0.0005, `part ${part.uri} (${part.duration} s) is longer than PART-TARGET ${p.partTarget}`);
  for (const s of p.segments) if (s.parts.length) assert.equal(s.parts[0]!.independent, true, `segment ${s.uri} starts with an independent part`);
  for (const s of p.segments) {
    if (!s.parts.length) continue;
    const sum = s.parts.reduce((n, part) => n + part.duration, 0);
    assert.ok(Math.abs(sum - s.duration) < 0.01, `segment ${s.uri} lasts as long as its parts (${s.duration} vs ${sum})`);
  }
  assert.equal(new Set(allParts.map((x) => x.uri)).size, allParts.length, 'part URIs are unique');
  assert.equal(p.ended ? p.preloadHints.length : 1, p.preloadHints.length, 'one preload hint while live, none after the end');
}

export async function fetchText(url: string, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, ms: performance.now() - started };
}

/** Reads the playlist until `ready` says it has what the test needs. */
export async function waitForPlaylist(url: string, ready: (p: MediaPlaylist) => boolean, timeoutMs = 15_000): Promise<MediaPlaylist> {
  const read = async () => {
    const res = await fetchText(url);
    return { res, playlist: res.status === 200 ? parseMediaPlaylist(res.text) : null };
  };
  const { playlist } = await pollUntil(
    read,
    (answer) => answer.playlist !== null && ready(answer.playlist),
    (last) => `playlist never became ready: ${last.res.status} ${last.res.text}`,
    { timeoutMs, intervalMs: 200 },
  );
  return playlist!;
}

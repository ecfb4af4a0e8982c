/*
 * Reading an HLS request target: `/<app>/[<instance>/]<stream>/<object>` and the playlist's delivery
 * directives. Pure functions over client input, so they are fuzz targets (test/fuzz/targets.ts): every
 * malformed input gives null or an error text, never a throw.
 */

export type HlsObject =
  | { kind: 'playlist' }
  | { kind: 'init'; epoch: string; id: number }
  | { kind: 'segment'; epoch: string; msn: number }
  | { kind: 'part'; epoch: string; id: number }
  | { kind: 'vod-playlist' }
  | { kind: 'vod-init'; version: string; index: number }
  | { kind: 'vod-segment'; version: string; index: number };

export interface HlsRoute {
  app: string;
  instance: string;
  stream: string;
}

export interface HlsTarget {
  /** Every {app, instance, stream} reading of the path (instance and stream names may contain '/'). */
  routes: HlsRoute[];
  object: HlsObject;
}

const DEFAULT_INSTANCE = '_definst_';
/** Object names: epoch/version tags are base-36, numbers are bounded so they stay exact. */
const OBJECT = /^(?:(index\.m3u8)|(vod\.m3u8)|([0-9a-z]{1,16})-(?:init-(\d{1,9})\.mp4|(\d{1,15})\.m4s|p(\d{1,15})\.m4s)|vod-([0-9a-z]{1,32})-(?:init-(\d{1,6})\.mp4|(\d{1,9})\.m4s))$/;

function objectOf(name: string): HlsObject | null {
  const m = OBJECT.exec(name);
  if (!m) return null;
  if (m[1]) return { kind: 'playlist' };
  if (m[2]) return { kind: 'vod-playlist' };
  if (m[3]) {
    if (m[4] !== undefined) return { kind: 'init', epoch: m[3], id: Number(m[4]) };
    if (m[5] !== undefined) return { kind: 'segment', epoch: m[3], msn: Number(m[5]) };
    return { kind: 'part', epoch: m[3], id: Number(m[6]) };
  }
  return m[8] !== undefined ? { kind: 'vod-init', version: m[7]!, index: Number(m[8]) } : { kind: 'vod-segment', version: m[7]!, index: Number(m[9]) };
}

/**
 * Null when the path is not an HLS route (other routes may take it). Path segments are
 * percent-decoded; empty, "." and ".." segments make it no route at all (no traversal to guard later).
 */
export function parseHlsPath(pathname: string): HlsTarget | null {
  const slash = pathname.lastIndexOf('/');
  const object = objectOf(pathname.slice(slash + 1));
  if (!object) return null;
  let segments: string[];
  try {
    segments = pathname.slice(1, slash).split('/').map(decodeURIComponent);
  } catch {
    return null; // bad %-encoding
  }
  if (segments.length < 2 || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) return null;
  const [app, ...rest] = segments as [string, ...string[]];
  const routes: HlsRoute[] = rest.length === 1 ? [{ app, instance: DEFAULT_INSTANCE, stream: rest[0]! }] : [];
  for (let split = 1; split < rest.length; split++) {
    routes.push({ app, instance: rest.slice(0, split).join('/'), stream: rest.slice(split).join('/') });
  }
  return { routes, object };
}

export interface DeliveryDirectives {
  msn: number | null;
  part: number | null;
}

const DECIMAL = /^\d{1,15}$/;

/**
 * `_HLS_msn` / `_HLS_part` (RFC 8216bis 6.2.5.2) from a query string. Returns an error text for a
 * malformed value, a repeated directive, or `_HLS_part` without `_HLS_msn` (all 400). `_HLS_skip` is
 * ignored: the playlists do not advertise CAN-SKIP-UNTIL.
 */
export function parseDeliveryDirectives(search: URLSearchParams): DeliveryDirectives | { error: string } {
  const msns = search.getAll('_HLS_msn');
  const parts = search.getAll('_HLS_part');
  if (msns.length > 1 || parts.length > 1) return { error: 'a delivery directive is repeated' };
  const msn = msns[0];
  const part = parts[0];
  if (msn !== undefined && !DECIMAL.test(msn)) return { error: '_HLS_msn is not a decimal integer' };
  if (part !== undefined && !DECIMAL.test(part)) return { error: '_HLS_part is not a decimal integer' };
  if (part !== undefined && msn === undefined) return { error: '_HLS_part needs _HLS_msn' };
  return { msn: msn === undefined ? null : Number(msn), part: part === undefined ? null : Number(part) };
}

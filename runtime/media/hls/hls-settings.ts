/**
 * How one application's streams are packaged as HLS: the server-wide `hls.*` config keys, overridden
 * per application by Application.xml's <HLS> element (runtime/instances/application-xml.ts).
 */
export interface HlsSettings {
  /** Off: no HLS routes for this application's streams (404). */
  enabled: boolean;
  /**
   * 'on-request' (default): a stream is packaged from the first playlist request until nobody has
   * asked for it for `hls.idleTimeoutMs` — streams nobody watches over HLS cost nothing.
   * 'always': every stream is packaged from its publish on (a playlist is ready before the first viewer).
   */
  packaging: 'on-request' | 'always';
  /** LL-HLS partial segments, preload hints and PART-HOLD-BACK (regular players ignore them). */
  lowLatency: boolean;
  /** EXT-X-PART-INF PART-TARGET: every part is at most this long (ms). */
  partTargetMs: number;
  /** A segment ends at the first keyframe at or after this duration (ms); EXT-X-TARGETDURATION is 1.5× this, rounded up. */
  segmentTargetMs: number;
  /** Complete segments listed in the live playlist (older ones stay downloadable for as long again). */
  windowSegments: number;
}

/** The per-app fields of a settings object that has more (the `hls` config section). */
export function hlsSettingsOf(from: HlsSettings): HlsSettings {
  const { enabled, packaging, lowLatency, partTargetMs, segmentTargetMs, windowSegments } = from;
  return { enabled, packaging, lowLatency, partTargetMs, segmentTargetMs, windowSegments };
}

export const PACKAGING_MODES: readonly string[] = ['on-request', 'always'];

/** EXT-X-TARGETDURATION (s) for a segment target: segments are cut before they would round above it. */
export function targetDurationSec(settings: Pick<HlsSettings, 'segmentTargetMs'>): number {
  return Math.max(1, Math.ceil((settings.segmentTargetMs * 1.5) / 1000));
}

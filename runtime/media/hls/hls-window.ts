import { targetDurationSec, type HlsSettings } from './hls-settings.ts';

/** One LL-HLS partial segment: a complete moof+mdat, named by a stream-wide part number. */
export interface HlsPart {
  id: number;
  msn: number;
  index: number;
  durationMs: number;
  independent: boolean;
  bytes: Buffer;
}

export interface HlsSegment {
  msn: number;
  parts: HlsPart[];
  startMs: number;
  durationMs: number;
  /** EXT-X-PROGRAM-DATE-TIME of the first sample, ms since the epoch. */
  pdtMs: number;
  /** EXT-X-DISCONTINUITY before this segment (publisher restart, codec change). */
  discontinuity: boolean;
  /** Discontinuity Sequence Number of this segment. */
  dseq: number;
  initId: number;
  /** Starts with a keyframe (segments forced at the target duration do not). */
  independent: boolean;
  complete: boolean;
  bytes: number;
  completedAt: number;
}

/**
 * The sliding window of one packaged stream, in memory: init segments, complete segments, the open
 * one, and its parts. The playlist lists the last `windowSegments` complete segments; as many older
 * ones stay downloadable (RFC 8216bis 6.2.2: a segment removed from the playlist must stay available
 * for the playlist's duration). Bytes are bounded by `maxBytes`: beyond it the oldest segments go,
 * even if the playlist becomes shorter than three target durations (logged once by the packager).
 */
export class HlsWindow {
  readonly epoch: string;
  readonly settings: HlsSettings;
  readonly targetDurationSec: number;
  readonly #maxBytes: number;
  readonly segments: HlsSegment[] = [];
  readonly #parts = new Map<number, HlsPart>();
  readonly #inits = new Map<number, Buffer>();
  nextMsn = 0;
  nextPartId = 0;
  /** Bumped at every change a playlist shows (new part, new segment, end). */
  version = 0;
  ended = false;
  bytes = 0;
  /** Segments dropped because of `maxBytes` while they should still have been listed. */
  trimmedEarly = 0;

  constructor(settings: HlsSettings, maxBytes: number, epoch: string) {
    this.settings = settings;
    this.targetDurationSec = targetDurationSec(settings);
    this.#maxBytes = maxBytes;
    this.epoch = epoch;
  }

  get open(): HlsSegment | null {
    const last = this.segments.at(-1);
    return last && !last.complete ? last : null;
  }

  get lastComplete(): HlsSegment | null {
    for (let i = this.segments.length - 1; i >= 0; i--) if (this.segments[i]!.complete) return this.segments[i]!;
    return null;
  }

  /** The complete segments the playlist lists. */
  listed(): HlsSegment[] {
    const complete = this.segments.filter((s) => s.complete);
    return complete.slice(-this.settings.windowSegments);
  }

  addInit(id: number, bytes: Buffer): void {
    this.#inits.set(id, bytes);
    this.bytes += bytes.length;
  }

  init(id: number): Buffer | undefined {
    return this.#inits.get(id);
  }

  openSegment(startMs: number, pdtMs: number, initId: number, discontinuity: boolean, independent: boolean): HlsSegment {
    const previous = this.segments.at(-1);
    const dseq = (previous?.dseq ?? 0) + (discontinuity && previous ? 1 : 0);
    const segment: HlsSegment = {
      msn: this.nextMsn++, parts: [], startMs, durationMs: 0, pdtMs, discontinuity: discontinuity && previous !== undefined, dseq,
      initId, independent, complete: false, bytes: 0, completedAt: 0,
    };
    this.segments.push(segment);
    return segment;
  }

  addPart(segment: HlsSegment, bytes: Buffer, durationMs: number, independent: boolean): HlsPart {
    const part: HlsPart = { id: this.nextPartId++, msn: segment.msn, index: segment.parts.length, durationMs, independent, bytes };
    segment.parts.push(part);
    segment.durationMs += durationMs;
    segment.bytes += bytes.length;
    this.bytes += bytes.length;
    this.#parts.set(part.id, part);
    this.version++;
    return part;
  }

  completeSegment(segment: HlsSegment): void {
    if (segment.parts.length === 0) {
      this.segments.splice(this.segments.indexOf(segment), 1); // nothing in it: it never existed
      this.nextMsn = segment.msn;
      return;
    }
    segment.complete = true;
    segment.completedAt = Date.now();
    this.version++;
    this.#trim();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.version++;
  }

  part(id: number): HlsPart | undefined {
    return this.#parts.get(id);
  }

  segment(msn: number): HlsSegment | undefined {
    const first = this.segments[0];
    return first ? this.segments[msn - first.msn] : undefined;
  }

  /**
   * Whether a playlist answering `_HLS_msn=msn[&_HLS_part=part]` can be sent now (RFC 8216bis 6.2.5.2):
   * the segment (or the part) exists, counting a part index past a complete segment's last part as part 0
   * of the next segment.
   */
  satisfies(msn: number, part: number | null): boolean {
    if (this.ended) return true;
    const first = this.segments[0];
    if (first && msn < first.msn) return true; // gone from the window: the current playlist answers
    const segment = this.segment(msn);
    if (!segment) return false;
    if (part === null) return segment.complete;
    if (part < segment.parts.length) return true;
    return segment.complete && this.satisfies(msn + 1, 0);
  }

  /**
   * Whether such a request asks too far ahead (400 at once): more than two segments past the last
   * complete one, or a part further ahead of the newest part than the Advance Part Limit.
   */
  tooFarAhead(msn: number, part: number | null): boolean {
    const lastMsn = this.lastComplete?.msn ?? -1;
    if (msn > lastMsn + 2) return true;
    if (part === null || !this.settings.lowLatency) return false;
    const partTargetSec = this.settings.partTargetMs / 1000;
    const limit = partTargetSec < 1 ? Math.ceil(3 / partTargetSec) : 3;
    const open = this.open;
    const newestIndex = open && open.msn === msn ? open.parts.length - 1 : msn > (open?.msn ?? lastMsn) ? -1 : Infinity;
    return part - newestIndex > limit;
  }

  #trim(): void {
    const complete = this.segments.filter((s) => s.complete).length;
    let excess = complete - 2 * this.settings.windowSegments;
    while (this.segments.length > 1 && (excess > 0 || this.bytes > this.#maxBytes)) {
      const oldest = this.segments[0]!;
      if (!oldest.complete) break;
      if (excess <= 0 && complete - this.segments.indexOf(oldest) <= this.settings.windowSegments) this.trimmedEarly++;
      this.segments.shift();
      excess--;
      this.bytes -= oldest.bytes;
      for (const part of oldest.parts) this.#parts.delete(part.id);
      this.#dropUnusedInits();
    }
  }

  #dropUnusedInits(): void {
    const used = new Set(this.segments.map((s) => s.initId));
    for (const [id, bytes] of this.#inits) {
      if (used.has(id)) continue;
      this.#inits.delete(id);
      this.bytes -= bytes.length;
    }
  }
}

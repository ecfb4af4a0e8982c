import type { TrackRun } from './fmp4.ts';

/**
 * The samples of one track waiting for the next part to close. The typed arrays are reused from part
 * to part (they grow, never shrink), so adding a frame allocates nothing; only the payload references
 * are kept, and they are dropped as soon as the part is written.
 */
export class TrackBuffer implements TrackRun {
  readonly trackId: number;
  count = 0;
  baseDts = 0;
  durations = new Uint32Array(64);
  sizes = new Uint32Array(64);
  offsets = new Uint32Array(64);
  cts: Int32Array | undefined;
  keyframes: Uint8Array | undefined;
  data: Buffer[] = [];
  bytes = 0;

  constructor(trackId: number, video: boolean) {
    this.trackId = trackId;
    if (video) {
      this.cts = new Int32Array(64);
      this.keyframes = new Uint8Array(64);
    }
  }

  /** A sample: `payload` from `offset` on (the publisher's packet, not copied until the part is written). */
  add(dts: number, duration: number, payload: Buffer, offset: number, cts = 0, keyframe = true): void {
    if (this.count === this.durations.length) this.#grow();
    if (this.count === 0) this.baseDts = dts;
    const i = this.count++;
    this.durations[i] = duration;
    this.sizes[i] = payload.length - offset;
    this.offsets[i] = offset;
    if (this.cts) {
      this.cts[i] = cts;
      this.keyframes![i] = keyframe ? 1 : 0;
    }
    this.data[i] = payload;
    this.bytes += payload.length - offset;
  }

  /** After the part is written: forget the samples (and the payload references). */
  clear(): void {
    this.data.fill(undefined as unknown as Buffer, 0, this.count);
    this.count = 0;
    this.bytes = 0;
  }

  #grow(): void {
    const size = this.durations.length * 2;
    const grow = <T extends Uint32Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.durations = grow(this.durations, (n) => new Uint32Array(n));
    this.sizes = grow(this.sizes, (n) => new Uint32Array(n));
    this.offsets = grow(this.offsets, (n) => new Uint32Array(n));
    if (this.cts) this.cts = grow(this.cts, (n) => new Int32Array(n));
    if (this.keyframes) this.keyframes = grow(this.keyframes, (n) => new Uint8Array(n));
  }
}

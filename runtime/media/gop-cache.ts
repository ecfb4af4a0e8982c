import type { MediaPacket } from './media-packet.ts';

/** First arena of a stream, before any GOP has been measured. */
const INITIAL_ARENA_BYTES = 64 * 1024;
const INITIAL_SLOTS = 64;
/** An arena more than this many times the last GOP (and above the initial size) is given back (growth doubles, so 2 would oscillate). */
const SHRINK_FACTOR = 4;
/** Room left above the last GOP's size when an arena is (re)made, so a slightly bigger GOP needs no copy. */
const HEADROOM = 1.25;

/**
 * The packets since the last video keyframe of one live stream (what a late joiner needs to start
 * decoding at once, SRS-style), held WITHOUT one heap object per packet: the payloads are copied
 * into one reusable byte arena and their type, timestamp, offset and length into typed arrays.
 *
 * Why: a cached packet lives about one GOP (1–4 s), long enough to survive a young-generation
 * collection and be promoted, and short enough to die soon after; thousands of such objects per
 * second (packet, payload view, the socket read buffer the view kept alive) made V8 run a full
 * mark-compact every few hundred milliseconds under 50 relayed streams (measured: bench:relay --gc).
 * Copying ~one stream's bitrate per second costs far less than that.
 *
 * The arena is overwritten from the start at every keyframe, so nothing outside may hold a view of
 * it: packets() hands out copies (joins are rare; each joiner's bytes are encoded anew anyway).
 */
export class GopCache {
  #arena: Buffer | null = null;
  #used = 0;
  #count = 0;
  #types = new Uint8Array(INITIAL_SLOTS);
  #timestamps = new Uint32Array(INITIAL_SLOTS);
  #offsets = new Uint32Array(INITIAL_SLOTS);
  #lengths = new Uint32Array(INITIAL_SLOTS);
  /** Size of the GOP before the current one (what the next arena is sized from). */
  #lastGopBytes = 0;

  /** Payload bytes cached now. */
  get bytes(): number {
    return this.#used;
  }

  /** Packets cached now. */
  get length(): number {
    return this.#count;
  }

  /** Bytes held for the arena (its capacity), whatever is in use. */
  get capacity(): number {
    return this.#arena?.length ?? 0;
  }

  /** A keyframe: forget the previous GOP (keeping its arena, resized to what GOPs need), then cache it. */
  startGop(keyframe: MediaPacket): void {
    this.#lastGopBytes = this.#used;
    this.#count = 0;
    this.#used = 0;
    const capacity = this.capacity;
    if (capacity > INITIAL_ARENA_BYTES && capacity > SHRINK_FACTOR * this.#lastGopBytes) this.#arena = null;
    this.add(keyframe);
  }

  /** Appends a packet (copied). */
  add(packet: MediaPacket): void {
    const length = packet.payload.length;
    this.#reserve(length);
    packet.payload.copy(this.#arena!, this.#used);
    if (this.#count === this.#types.length) this.#growSlots();
    const i = this.#count++;
    this.#types[i] = packet.type;
    this.#timestamps[i] = packet.timestamp;
    this.#offsets[i] = this.#used;
    this.#lengths[i] = length;
    this.#used += length;
  }

  /** Forgets everything (publish stopped or restarted, or the cache went over its budget); gives the arena back. */
  clear(): void {
    this.#count = 0;
    this.#used = 0;
    this.#lastGopBytes = 0;
    this.#arena = null;
  }

  /** The cached packets, in order, each with its own copy of the payload. */
  packets(): MediaPacket[] {
    const out: MediaPacket[] = [];
    const arena = this.#arena;
    if (!arena) return out;
    for (let i = 0; i < this.#count; i++) {
      const offset = this.#offsets[i]!;
      out.push({ type: this.#types[i]!, timestamp: this.#timestamps[i]!, payload: Buffer.from(arena.subarray(offset, offset + this.#lengths[i]!)) });
    }
    return out;
  }

  #reserve(length: number): void {
    const needed = this.#used + length;
    if (this.#arena && needed <= this.#arena.length) return;
    // Sized from the last GOP; outgrown mid-GOP (the first one, or a burst), at least doubled, so a
    // GOP never needs more than a few copies.
    const size = Math.max(INITIAL_ARENA_BYTES, Math.ceil(Math.max(needed, this.#lastGopBytes) * HEADROOM), 2 * this.capacity);
    const arena = Buffer.allocUnsafeSlow(size);
    if (this.#arena && this.#used > 0) this.#arena.copy(arena, 0, 0, this.#used);
    this.#arena = arena;
  }

  #growSlots(): void {
    const size = this.#types.length * 2;
    const grow = <T extends Uint8Array | Uint32Array>(from: T, make: (n: number) => T): T => {
      const to = make(size);
      to.set(from);
      return to;
    };
    this.#types = grow(this.#types, (n) => new Uint8Array(n));
    this.#timestamps = grow(this.#timestamps, (n) => new Uint32Array(n));
    this.#offsets = grow(this.#offsets, (n) => new Uint32Array(n));
    this.#lengths = grow(this.#lengths, (n) => new Uint32Array(n));
  }
}

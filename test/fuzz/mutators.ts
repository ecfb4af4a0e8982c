/**
 * Deterministic randomness and byte-level mutators (AFL-style "havoc") for the fuzzer.
 * Everything random in a fuzz run flows from one seed through `Rng`, so a run is replayable.
 */

/** Mutated inputs never grow beyond this (a long AMF0 string seed is ~66 KB). */
export const MAX_INPUT_BYTES = 128 * 1024;

/** splitmix32: turns one 32-bit seed into well-mixed words (used to seed sfc32). */
function splitmix32(state: number): () => number {
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** sfc32: small, fast, good enough for fuzzing, and identical on every platform (unlike Math.random). */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number, stream = 0) {
    const mix = splitmix32((seed ^ Math.imul(stream + 1, 0x27d4eb2d)) >>> 0);
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** Values that sit on boundaries parsers get wrong: lengths, csid encodings, sign bits, extended timestamps. */
export const INTERESTING_8 = [0, 1, 2, 3, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xfe, 0xff] as const;
export const INTERESTING_16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff] as const;
export const INTERESTING_24 = [0, 1, 0x7fffff, 0x800000, 0xfffffe, 0xffffff] as const;
export const INTERESTING_32 = [0, 1, 0x80, 0x1000, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff] as const;
/** Byte runs: AMF3 U29 at its maximum / over-long, AMF0 lengths, object-end markers. */
const INTERESTING_RUNS: readonly Buffer[] = [
  Buffer.from([0xff, 0xff, 0xff, 0xff]),
  Buffer.from([0x80, 0x80, 0x80, 0x80]),
  Buffer.from([0xbf, 0xff, 0xff, 0xff]),
  Buffer.from([0x00, 0x00, 0x09]),
  Buffer.from([0x0a, 0x0b, 0x01]),
  Buffer.from([0x11, 0x0a, 0x07]),
  Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff]),
  Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff]),
];

type Mutator = (data: Buffer, rng: Rng, donors: readonly Buffer[]) => Buffer;

function writeInt(data: Buffer, rng: Rng, bytes: 1 | 2 | 3 | 4, value: number): Buffer {
  if (data.length < bytes) return data;
  const at = rng.int(data.length - bytes + 1);
  if (bytes === 3 || rng.chance(0.7)) data.writeUIntBE(value >>> 0, at, bytes);
  else data.writeUIntLE(value >>> 0, at, bytes);
  return data;
}

function splice(before: Buffer, middle: Buffer, after: Buffer): Buffer {
  return Buffer.concat([before, middle, after]);
}

const MUTATORS: readonly Mutator[] = [
  // bit flips
  (d, r) => {
    if (d.length === 0) return d;
    for (let n = 1 + r.int(4); n > 0; n--) d[r.int(d.length)]! ^= 1 << r.int(8);
    return d;
  },
  // random byte
  (d, r) => {
    if (d.length > 0) d[r.int(d.length)] = r.int(256);
    return d;
  },
  (d, r) => writeInt(d, r, 1, r.pick(INTERESTING_8)),
  (d, r) => writeInt(d, r, 2, r.pick(INTERESTING_16)),
  (d, r) => writeInt(d, r, 3, r.pick(INTERESTING_24)),
  (d, r) => writeInt(d, r, 4, r.pick(INTERESTING_32)),
  // small arithmetic on one byte (off-by-one lengths)
  (d, r) => {
    if (d.length > 0) {
      const at = r.int(d.length);
      d[at] = (d[at]! + (r.chance(0.5) ? 1 : -1) * (1 + r.int(35))) & 0xff;
    }
    return d;
  },
  // insert random bytes or a repeated byte
  (d, r) => {
    const at = r.int(d.length + 1);
    const mid = r.chance(0.5) ? r.bytes(1 + r.int(16)) : Buffer.alloc(1 + r.int(r.chance(0.1) ? 4096 : 64), r.pick(INTERESTING_8));
    return splice(d.subarray(0, at), mid, d.subarray(at));
  },
  // insert an interesting run
  (d, r) => {
    const at = r.int(d.length + 1);
    return splice(d.subarray(0, at), r.pick(INTERESTING_RUNS), d.subarray(at));
  },
  // delete a range
  (d, r) => {
    if (d.length < 2) return d;
    const at = r.int(d.length);
    const n = 1 + r.int(Math.min(d.length - at, r.chance(0.8) ? 16 : 1024));
    return Buffer.concat([d.subarray(0, at), d.subarray(at + n)]);
  },
  // duplicate a range somewhere else
  (d, r) => {
    if (d.length === 0) return d;
    const from = r.int(d.length);
    const n = 1 + r.int(Math.min(d.length - from, 256));
    const to = r.int(d.length + 1);
    return splice(d.subarray(0, to), Buffer.from(d.subarray(from, from + n)), d.subarray(to));
  },
  // truncate
  (d, r) => (d.length > 1 ? d.subarray(0, r.int(d.length)) : d),
  // splice with a donor: our prefix + donor suffix
  (d, r, donors) => {
    if (donors.length === 0) return d;
    const donor = r.pick(donors);
    return Buffer.concat([d.subarray(0, r.int(d.length + 1)), donor.subarray(r.int(donor.length + 1))]);
  },
  // overwrite a range with donor bytes
  (d, r, donors) => {
    if (donors.length === 0 || d.length === 0) return d;
    const donor = r.pick(donors);
    if (donor.length === 0) return d;
    const from = r.int(donor.length);
    const n = Math.min(1 + r.int(64), donor.length - from, d.length);
    donor.copy(d, r.int(d.length - n + 1), from, from + n);
    return d;
  },
];

/** Applies a stack of 1..8 random mutations to a copy of `input` (the input itself is never touched). */
export function mutateBytes(input: Buffer, rng: Rng, donors: readonly Buffer[] = [], maxOps = 8): Buffer {
  let data: Buffer = Buffer.from(input);
  const ops = 1 + rng.int(rng.chance(0.5) ? 2 : maxOps);
  for (let i = 0; i < ops; i++) {
    data = rng.pick(MUTATORS)(data, rng, donors);
    if (data.length > MAX_INPUT_BYTES) data = data.subarray(0, MAX_INPUT_BYTES);
  }
  return data;
}

/**
 * Lengths of 1..maxPieces consecutive pieces covering `length` bytes: the socket may deliver any
 * split, and a split is part of what reproduces a finding, so it is chosen up front and recorded.
 */
export function splitLengths(length: number, rng: Rng, maxPieces = 4): number[] {
  const pieces = 1 + rng.int(maxPieces);
  if (pieces === 1 || length < 2) return [length];
  const cuts = new Set<number>();
  for (let i = 1; i < pieces; i++) cuts.add(1 + rng.int(length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: number[] = [];
  let prev = 0;
  for (const cut of sorted) {
    out.push(cut - prev);
    prev = cut;
  }
  out.push(length - prev);
  return out;
}

/** The pieces of `data` for lengths from splitLengths (views, no copies). */
export function slices(data: Buffer, lengths: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const n of lengths) {
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** How a split reads in a report: "all at once", "byte by byte" or "12+300+5". */
export function describeSplit(lengths: readonly number[]): string {
  if (lengths.length <= 1) return 'all at once';
  if (lengths.every((n) => n === 1)) return 'byte by byte';
  return lengths.join('+');
}

/**
 * Byte-level helpers shared by the AMF codecs: a bounds-checked reader (every read checks the
 * remaining input first, so a claimed length can never make us allocate more than the peer
 * actually sent), a growing writer (one buffer per message instead of many small concats), and
 * a nesting guard shared across AMF0 and the AMF3 values embedded in it.
 */
import { AmfError } from './amf-values.ts';

export class ByteReader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are present. Call before allocating anything sized by `n`. */
  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new AmfError(`truncated AMF data: ${what} needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
    }
  }

  u8(): number {
    this.need(1, 'byte');
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2, 'u16');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  i16(): number {
    this.need(2, 'i16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4, 'u32');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4, 'i32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8, 'double');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** AMF3 U29: 1-3 bytes of 7 bits (high bit = more), then a 4th byte contributing all 8 bits. */
  u29(): number {
    let b = this.u8();
    if (b < 0x80) return b;
    let v = (b & 0x7f) << 7;
    b = this.u8();
    if (b < 0x80) return v | b;
    v = (v | (b & 0x7f)) << 7;
    b = this.u8();
    if (b < 0x80) return v | b;
    v = (v | (b & 0x7f)) << 8;
    return v | this.u8();
  }

  utf8(byteLength: number): string {
    this.need(byteLength, 'string');
    const s = this.buf.toString('utf8', this.pos, this.pos + byteLength);
    this.pos += byteLength;
    return s;
  }

  /** A copy, so a decoded ByteArray does not pin the whole message buffer. */
  bytes(byteLength: number): Buffer {
    this.need(byteLength, 'byte array');
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + byteLength));
    this.pos += byteLength;
    return out;
  }
}

export class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    const needed = this.len + n;
    if (needed <= this.buf.length) return;
    let cap = Math.max(this.buf.length * 2, 64);
    while (cap < needed) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
  }

  u16(v: number): void {
    this.ensure(2);
    this.len = this.buf.writeUInt16BE(v, this.len);
  }

  i16(v: number): void {
    this.ensure(2);
    this.len = this.buf.writeInt16BE(v, this.len);
  }

  u32(v: number): void {
    this.ensure(4);
    this.len = this.buf.writeUInt32BE(v, this.len);
  }

  i32(v: number): void {
    this.ensure(4);
    this.len = this.buf.writeInt32BE(v, this.len);
  }

  f64(v: number): void {
    this.ensure(8);
    this.len = this.buf.writeDoubleBE(v, this.len);
  }

  /** Caller guarantees 0 <= v < 2^29. */
  u29(v: number): void {
    if (v < 0x80) {
      this.u8(v);
    } else if (v < 0x4000) {
      this.ensure(2);
      this.buf[this.len++] = (v >>> 7) | 0x80;
      this.buf[this.len++] = v & 0x7f;
    } else if (v < 0x200000) {
      this.ensure(3);
      this.buf[this.len++] = (v >>> 14) | 0x80;
      this.buf[this.len++] = ((v >>> 7) & 0x7f) | 0x80;
      this.buf[this.len++] = v & 0x7f;
    } else {
      this.ensure(4);
      this.buf[this.len++] = (v >>> 22) | 0x80;
      this.buf[this.len++] = ((v >>> 15) & 0x7f) | 0x80;
      this.buf[this.len++] = ((v >>> 8) & 0x7f) | 0x80;
      this.buf[this.len++] = v & 0xff;
    }
  }

  /** Writes the UTF-8 bytes of `s`; `byteLength` must be Buffer.byteLength(s) (already written as a prefix). */
  utf8(s: string, byteLength: number): void {
    this.ensure(byteLength);
    this.len += this.buf.write(s, this.len, byteLength, 'utf8');
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** The written bytes (a view on the internal buffer: do not keep writing after taking it). */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** Counts container nesting; one instance is shared by an AMF0 codec and the AMF3 codec inside it. */
export class DepthGuard {
  depth = 0;
  constructor(readonly max: number) {}

  enter(): void {
    if (++this.depth > this.max) throw new AmfError(`AMF nesting deeper than ${this.max}`);
  }

  leave(): void {
    this.depth--;
  }
}

/**
 * Runs a whole decode/encode so that the only thing that can escape is AmfError: a stack
 * overflow (RangeError) or an allocation failure from an unexpected path becomes AmfError too.
 */
export function asAmfError<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AmfError) throw err;
    throw new AmfError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

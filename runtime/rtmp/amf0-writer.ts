/**
 * AMF0 encoder. One Amf0Writer covers one message: objects written twice (or cyclically) are
 * sent as 0x07 references, and the AMF3 writer used for 0x11 values keeps its tables for the
 * whole message too (mirroring Amf0Reader).
 *
 * With objectEncoding 3 every non-primitive value goes out as 0x11 + AMF3, as Flash does on an
 * AMF3 NetConnection. With objectEncoding 0, values only AMF3 can carry (ByteArray/Uint8Array,
 * Map, AmfVector) are still written as 0x11 + AMF3 rather than failing.
 */
import type { ByteWriter, DepthGuard } from './amf-io.ts';
import {
  AmfError,
  AmfVector,
  AmfXml,
  Amf0Marker,
  encodableEntries,
  getClassName,
  isEcmaArray,
  unbox,
} from './amf-values.ts';
import { Amf3Writer } from './amf3-writer.ts';

const MAX_U16 = 0xffff;

export class Amf0Writer {
  private readonly refs = new Map<object, number>();
  private refCount = 0;
  private amf3: Amf3Writer | undefined;

  constructor(
    private readonly w: ByteWriter,
    private readonly guard: DepthGuard,
    private readonly objectEncoding: 0 | 3 = 0,
  ) {}

  writeValue(value: unknown): void {
    const w = this.w;
    switch (typeof value) {
      case 'undefined':
      case 'function':
      case 'symbol':
        w.u8(Amf0Marker.Undefined);
        return;
      case 'boolean':
        w.u8(Amf0Marker.Boolean);
        w.u8(value ? 1 : 0);
        return;
      case 'number':
        w.u8(Amf0Marker.Number);
        w.f64(value);
        return;
      case 'string':
        this.writeString(value);
        return;
      case 'bigint':
        throw new AmfError('cannot encode a bigint in AMF0');
      case 'object':
        if (value === null) w.u8(Amf0Marker.Null);
        else this.writeObjectValue(value);
        return;
    }
  }

  /** string (u16 length) up to 65535 UTF-8 bytes, long string (u32 length) beyond. */
  private writeString(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    if (len <= MAX_U16) {
      this.w.u8(Amf0Marker.String);
      this.w.u16(len);
    } else {
      this.w.u8(Amf0Marker.LongString);
      this.w.u32(len);
    }
    this.w.utf8(s, len);
  }

  /** Property names and class names: UTF-8 with a u16 length, no long form exists. */
  private writeShortUtf8(s: string, what: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    if (len > MAX_U16) throw new AmfError(`AMF0 ${what} longer than 65535 bytes`);
    this.w.u16(len);
    this.w.utf8(s, len);
  }

  private writeObjectValue(value: object): void {
    const unboxed = unbox(value);
    if (unboxed !== value) {
      this.writeValue(unboxed);
      return;
    }
    const w = this.w;
    if (
      this.objectEncoding === 3 ||
      value instanceof Uint8Array ||
      value instanceof Map ||
      value instanceof AmfVector
    ) {
      w.u8(Amf0Marker.AvmPlus);
      this.amf3 ??= new Amf3Writer(w, this.guard);
      this.amf3.writeValue(value);
      return;
    }
    if (value instanceof Date) {
      w.u8(Amf0Marker.Date);
      w.f64(value.getTime());
      w.i16(0); // time zone: reserved, always 0
      return;
    }
    if (value instanceof AmfXml) {
      const len = Buffer.byteLength(value.xml, 'utf8');
      if (len > 0xffffffff) throw new AmfError('AMF0 XML document too long');
      w.u8(Amf0Marker.XmlDocument);
      w.u32(len);
      w.utf8(value.xml, len);
      return;
    }
    if (this.writeRef(value)) return;
    this.guard.enter();
    if (Array.isArray(value)) {
      w.u8(Amf0Marker.StrictArray);
      w.u32(value.length);
      for (let i = 0; i < value.length; i++) this.writeValue(value[i]);
    } else if (isEcmaArray(value)) {
      const entries = encodableEntries(value);
      w.u8(Amf0Marker.EcmaArray);
      w.u32(entries.length);
      this.writeProperties(entries);
    } else {
      const className = getClassName(value);
      if (className === undefined) {
        w.u8(Amf0Marker.Object);
      } else {
        w.u8(Amf0Marker.TypedObject);
        this.writeShortUtf8(className, 'class name');
      }
      this.writeProperties(encodableEntries(value));
    }
    this.guard.leave();
  }

  /**
   * Complex values are numbered in the order they are first written (the decoder numbers them
   * the same way); a repeat becomes a 0x07 reference while its index still fits in a u16.
   */
  private writeRef(obj: object): boolean {
    const index = this.refs.get(obj);
    if (index !== undefined) {
      this.w.u8(Amf0Marker.Reference);
      this.w.u16(index);
      return true;
    }
    const next = this.refCount++;
    if (next <= MAX_U16) this.refs.set(obj, next);
    return false;
  }

  private writeProperties(entries: Array<[string, unknown]>): void {
    for (const [key, value] of entries) {
      this.writeShortUtf8(key, 'property name');
      this.writeValue(value);
    }
    this.w.u16(0);
    this.w.u8(Amf0Marker.ObjectEnd);
  }
}

/**
 * AMF0 decoder (Adobe AMF0 specification). An Amf0Reader walks one message: its reference
 * table (0x07) and the AMF3 tables used by 0x11 values live for the whole reader, because an
 * RTMP command/data payload is one serialization pass over all its values.
 *
 * Hostile-input rules: lengths and counts are checked against the remaining bytes before
 * anything sized by them is allocated, containers are registered before their members are
 * read (so a reference back to an enclosing object resolves instead of recursing), nesting is
 * capped, and every failure surfaces as AmfError.
 */
import { ByteReader, DepthGuard, asAmfError } from './amf-io.ts';
import {
  AmfError,
  AmfXml,
  Amf0Marker,
  DEFAULT_MAX_DEPTH,
  ecmaArray,
  setProperty,
  typedObject,
} from './amf-values.ts';
import type { AmfDecodeOptions } from './amf-values.ts';
import { Amf3Reader } from './amf3-reader.ts';

export class Amf0Reader {
  private readonly r: ByteReader;
  private readonly guard: DepthGuard;
  /** Complex values (objects, typed objects, ECMA arrays, strict arrays) in order of appearance. */
  private readonly refs: object[] = [];
  private amf3: Amf3Reader | undefined;

  /** Reads `buf` from `offset` (default 0) to its end. */
  constructor(buf: Buffer, options: AmfDecodeOptions & { offset?: number } = {}) {
    this.r = new ByteReader(buf, options.offset ?? 0);
    this.guard = new DepthGuard(options.maxDepth ?? DEFAULT_MAX_DEPTH);
  }

  /** Offset of the next unread byte. */
  get position(): number {
    return this.r.pos;
  }

  get remaining(): number {
    return this.r.remaining;
  }

  /** True once every byte has been consumed. */
  get done(): boolean {
    return this.r.remaining === 0;
  }

  /** Decodes the next value; throws AmfError on malformed input (the reader is then unusable). */
  readValue(): unknown {
    return asAmfError('AMF0 decode', () => this.readAny());
  }

  private readAny(): unknown {
    const r = this.r;
    const marker = r.u8();
    switch (marker) {
      case Amf0Marker.Number:
        return r.f64();
      case Amf0Marker.Boolean:
        return r.u8() !== 0;
      case Amf0Marker.String:
        return r.utf8(r.u16());
      case Amf0Marker.LongString:
        return r.utf8(r.u32());
      case Amf0Marker.Null:
        return null;
      case Amf0Marker.Undefined:
      case Amf0Marker.Unsupported:
        return undefined;
      case Amf0Marker.Reference: {
        const index = r.u16();
        if (index >= this.refs.length) {
          throw new AmfError(`AMF0 reference ${index} out of range (${this.refs.length})`);
        }
        return this.refs[index];
      }
      case Amf0Marker.Date: {
        const ms = r.f64();
        r.i16(); // time zone: reserved, senders write 0 and readers ignore it
        return new Date(ms);
      }
      case Amf0Marker.XmlDocument:
        return new AmfXml(r.utf8(r.u32()), 'xmldoc');
      case Amf0Marker.Object:
        return this.readProperties({});
      case Amf0Marker.TypedObject: {
        const className = r.utf8(r.u16());
        const obj = {};
        if (className !== '') typedObject(className, obj);
        return this.readProperties(obj);
      }
      case Amf0Marker.EcmaArray:
        // The associative count is only a hint (encoders disagree on it); the end marker rules.
        r.u32();
        return this.readProperties(ecmaArray({}));
      case Amf0Marker.StrictArray:
        return this.readStrictArray();
      case Amf0Marker.AvmPlus:
        this.amf3 ??= new Amf3Reader(r, this.guard);
        return this.amf3.readValue();
      case Amf0Marker.ObjectEnd:
        throw new AmfError(`unexpected AMF0 object-end marker at offset ${r.pos - 1}`);
      case Amf0Marker.MovieClip:
      case Amf0Marker.RecordSet:
        throw new AmfError(`unsupported AMF0 marker 0x${marker.toString(16)} at offset ${r.pos - 1}`);
      default:
        throw new AmfError(`unknown AMF0 marker 0x${marker.toString(16)} at offset ${r.pos - 1}`);
    }
  }

  /** Name/value pairs up to the (empty name, 0x09) terminator. */
  private readProperties(obj: object): object {
    const r = this.r;
    this.guard.enter();
    this.refs.push(obj);
    for (;;) {
      const keyLength = r.u16();
      if (keyLength === 0) {
        r.need(1, 'object end');
        // An empty name followed by anything but 0x09 is a property literally named "".
        if (r.buf[r.pos] === Amf0Marker.ObjectEnd) {
          r.pos++;
          break;
        }
      }
      const key = keyLength === 0 ? '' : r.utf8(keyLength);
      setProperty(obj, key, this.readAny());
    }
    this.guard.leave();
    return obj;
  }

  private readStrictArray(): unknown[] {
    const r = this.r;
    const count = r.u32();
    // Every element takes at least its marker byte.
    r.need(count, 'strict array elements');
    this.guard.enter();
    const arr: unknown[] = [];
    this.refs.push(arr);
    for (let i = 0; i < count; i++) arr.push(this.readAny());
    this.guard.leave();
    return arr;
  }
}

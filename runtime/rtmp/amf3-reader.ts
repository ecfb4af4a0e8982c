/**
 * AMF3 decoder (Adobe AMF3 specification, January 2013 revision incl. Vector and Dictionary).
 *
 * One Amf3Reader holds the three reference tables (strings, objects, traits) for one message:
 * create a new reader per message, or share one across the 0x11 values of an AMF0 message.
 *
 * Hostile-input rules: every length/count is checked against the remaining bytes before
 * anything sized by it is allocated; containers are registered in the object table before
 * their members are read (so a cyclic reference resolves to the instance under construction
 * instead of recursing); nesting is capped by the shared DepthGuard.
 */
import {
  AmfError,
  AmfVector,
  AmfXml,
  ARRAY_COLLECTION_CLASS,
  Amf3Marker,
  OBJECT_PROXY_CLASS,
  isArrayIndex,
  setProperty,
  typedObject,
} from './amf-values.ts';
import type { AmfVectorKind } from './amf-values.ts';
import type { ByteReader, DepthGuard } from './amf-io.ts';

interface Traits {
  className: string;
  sealed: string[];
  dynamic: boolean;
  externalizable: boolean;
}

/** Object-table slot of an externalizable wrapper whose inner value is still being read. */
const PENDING = Symbol('amf3.pendingExternalizable');

export class Amf3Reader {
  private readonly strings: string[] = [];
  private readonly objects: unknown[] = [];
  private readonly traits: Traits[] = [];

  constructor(
    private readonly r: ByteReader,
    private readonly guard: DepthGuard,
  ) {}

  readValue(): unknown {
    const marker = this.r.u8();
    switch (marker) {
      case Amf3Marker.Undefined:
        return undefined;
      case Amf3Marker.Null:
        return null;
      case Amf3Marker.False:
        return false;
      case Amf3Marker.True:
        return true;
      case Amf3Marker.Integer: {
        const v = this.r.u29();
        // Sign-extend the 29-bit two's complement value.
        return v & 0x10000000 ? v - 0x20000000 : v;
      }
      case Amf3Marker.Double:
        return this.r.f64();
      case Amf3Marker.String:
        return this.readString();
      case Amf3Marker.XmlDocument:
        return this.readXml('xmldoc');
      case Amf3Marker.Xml:
        return this.readXml('xml');
      case Amf3Marker.Date:
        return this.readDate();
      case Amf3Marker.ByteArray:
        return this.readByteArray();
      case Amf3Marker.Array:
        return this.nested(() => this.readArray());
      case Amf3Marker.Object:
        return this.nested(() => this.readObject());
      case Amf3Marker.VectorInt:
        return this.readVector('int');
      case Amf3Marker.VectorUint:
        return this.readVector('uint');
      case Amf3Marker.VectorDouble:
        return this.readVector('double');
      case Amf3Marker.VectorObject:
        return this.nested(() => this.readVector('object'));
      case Amf3Marker.Dictionary:
        return this.nested(() => this.readDictionary());
      default:
        throw new AmfError(`unknown AMF3 marker 0x${marker.toString(16)} at offset ${this.r.pos - 1}`);
    }
  }

  private nested<T>(fn: () => T): T {
    this.guard.enter();
    const v = fn();
    this.guard.leave();
    return v;
  }

  /** UTF-8-vr: a string-table reference or an inline string. The empty string is never in the table. */
  readString(): string {
    const header = this.r.u29();
    if ((header & 1) === 0) {
      const index = header >>> 1;
      const s = this.strings[index];
      if (s === undefined) throw new AmfError(`AMF3 string reference ${index} out of range (${this.strings.length})`);
      return s;
    }
    const len = header >>> 1;
    if (len === 0) return '';
    const s = this.r.utf8(len);
    this.strings.push(s);
    return s;
  }

  private objectRef(index: number): unknown {
    if (index >= this.objects.length) {
      throw new AmfError(`AMF3 object reference ${index} out of range (${this.objects.length})`);
    }
    const v = this.objects[index];
    if (v === PENDING) throw new AmfError(`AMF3 reference ${index} to an externalizable object still being read`);
    return v;
  }

  private readXml(kind: 'xmldoc' | 'xml'): unknown {
    const header = this.r.u29();
    if ((header & 1) === 0) return this.objectRef(header >>> 1);
    const xml = new AmfXml(this.r.utf8(header >>> 1), kind);
    this.objects.push(xml);
    return xml;
  }

  private readDate(): unknown {
    const header = this.r.u29();
    if ((header & 1) === 0) return this.objectRef(header >>> 1);
    const d = new Date(this.r.f64());
    this.objects.push(d);
    return d;
  }

  private readByteArray(): unknown {
    const header = this.r.u29();
    if ((header & 1) === 0) return this.objectRef(header >>> 1);
    const bytes = this.r.bytes(header >>> 1);
    this.objects.push(bytes);
    return bytes;
  }

  private readArray(): unknown {
    const header = this.r.u29();
    if ((header & 1) === 0) return this.objectRef(header >>> 1);
    const denseCount = header >>> 1;
    // Each dense element takes at least one byte.
    this.r.need(denseCount, 'array elements');
    const arr: unknown[] = [];
    this.objects.push(arr);
    for (;;) {
      const key = this.readString();
      if (key === '') break;
      this.setArrayMember(arr, key, this.readValue());
    }
    for (let i = 0; i < denseCount; i++) arr[i] = this.readValue();
    return arr;
  }

  /**
   * Associative members of an array become named properties. Numeric keys (Flash sends sparse
   * arrays this way) are elements, so they extend `length`: cap them by the input size so a
   * 10-byte message cannot produce an array whose length makes a caller loop for hours.
   */
  private setArrayMember(arr: unknown[], key: string, value: unknown): void {
    if (key === 'length') throw new AmfError('AMF3 array with an associative member named "length"');
    if (isArrayIndex(key)) {
      const index = Number(key);
      if (index >= this.r.end) throw new AmfError(`AMF3 sparse array index ${index} larger than the message`);
      arr[index] = value;
      return;
    }
    setProperty(arr, key, value);
  }

  private readTraits(header: number): Traits {
    if ((header & 2) === 0) {
      const index = header >>> 2;
      const t = this.traits[index];
      if (t === undefined) throw new AmfError(`AMF3 traits reference ${index} out of range (${this.traits.length})`);
      return t;
    }
    if ((header & 4) !== 0) {
      // U29O-traits-ext: only the class name follows; the class defines its own format.
      const t: Traits = { className: this.readString(), sealed: [], dynamic: false, externalizable: true };
      this.traits.push(t);
      return t;
    }
    const dynamic = (header & 8) !== 0;
    const sealedCount = header >>> 4;
    // Each sealed member name takes at least one byte.
    this.r.need(sealedCount, 'sealed member names');
    const className = this.readString();
    const sealed: string[] = [];
    for (let i = 0; i < sealedCount; i++) sealed.push(this.readString());
    const t: Traits = { className, sealed, dynamic, externalizable: false };
    this.traits.push(t);
    return t;
  }

  private readObject(): unknown {
    const header = this.r.u29();
    if ((header & 1) === 0) return this.objectRef(header >>> 1);
    const traits = this.readTraits(header);
    if (traits.externalizable) return this.readExternalizable(traits.className);
    const obj: Record<string, unknown> = {};
    if (traits.className !== '') typedObject(traits.className, obj);
    this.objects.push(obj);
    for (const name of traits.sealed) setProperty(obj, name, this.readValue());
    if (traits.dynamic) {
      for (;;) {
        const key = this.readString();
        if (key === '') break;
        setProperty(obj, key, this.readValue());
      }
    }
    return obj;
  }

  /**
   * Externalizable classes write a private format; we only know the two Flex wrappers, which
   * write exactly one AMF3 value (the source array / the proxied object). The wrapper decodes
   * to that inner value, and later references to the wrapper resolve to it too.
   */
  private readExternalizable(className: string): unknown {
    if (className !== ARRAY_COLLECTION_CLASS && className !== OBJECT_PROXY_CLASS) {
      throw new AmfError(`cannot decode AMF3 externalizable class "${className}"`);
    }
    const index = this.objects.length;
    this.objects.push(PENDING);
    const inner = this.readValue();
    this.objects[index] = inner;
    return inner;
  }

  private readVector(kind: AmfVectorKind): unknown {
    const header = this.r.u29();
    if ((header & 1) === 0) return this.objectRef(header >>> 1);
    const count = header >>> 1;
    const fixed = this.r.u8() !== 0;
    const elementSize = kind === 'double' ? 8 : kind === 'object' ? 1 : 4;
    this.r.need(count * elementSize, 'vector elements');
    if (kind === 'object') {
      const typeName = this.readString();
      const vector = new AmfVector('object', [], fixed, typeName);
      this.objects.push(vector);
      for (let i = 0; i < count; i++) vector.items.push(this.readValue());
      return vector;
    }
    const items = new Array<number>(count);
    const vector = new AmfVector(kind, items, fixed);
    this.objects.push(vector);
    for (let i = 0; i < count; i++) {
      items[i] = kind === 'int' ? this.r.i32() : kind === 'uint' ? this.r.u32() : this.r.f64();
    }
    return vector;
  }

  private readDictionary(): unknown {
    const header = this.r.u29();
    if ((header & 1) === 0) return this.objectRef(header >>> 1);
    const count = header >>> 1;
    // Weak-keys flag, then at least one byte for each key and each value.
    this.r.need(1 + count * 2, 'dictionary entries');
    this.r.u8(); // weak keys: meaningless once serialized
    const map = new Map<unknown, unknown>();
    this.objects.push(map);
    for (let i = 0; i < count; i++) {
      const key = this.readValue();
      map.set(key, this.readValue());
    }
    return map;
  }
}

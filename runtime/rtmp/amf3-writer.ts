/**
 * AMF3 encoder. One Amf3Writer holds the reference tables for one message: repeated strings,
 * objects (arrays, objects, dates, XML, ByteArrays, vectors, dictionaries) and traits are sent
 * by reference, which keeps output compact and turns cycles into back-references.
 *
 * Choices (the spec leaves them to the encoder):
 * - anonymous objects are written dynamic with no sealed members (what Flash does for Object);
 * - typed objects are written with every property as a sealed member, not dynamic: a registered
 *   class on the receiving side may be sealed and would reject dynamic members;
 * - an ECMA-array-marked object is written as an AMF3 array with only associative members
 *   (how an AS3 Array with named properties is serialized);
 * - arrays write their holes as undefined in the dense part and their own non-index
 *   enumerable properties in the associative part;
 * - -0 is written as a double so its sign survives.
 */
import {
  AMF3_INT_MAX,
  AMF3_INT_MIN,
  ARRAY_COLLECTION_CLASS,
  AmfError,
  AmfVector,
  AmfXml,
  Amf3Marker,
  OBJECT_PROXY_CLASS,
  encodableEntries,
  getClassName,
  isEcmaArray,
  unbox,
} from './amf-values.ts';
import type { ByteWriter, DepthGuard } from './amf-io.ts';

/** Largest value of the 28 bits left beside the U29 inline/reference flag. */
const MAX_U28 = 0x0fffffff;
/** Traits references use two flag bits, leaving 27. */
const MAX_TRAITS_INDEX = 0x07ffffff;
/** Sealed-member count shares the U29 with four flag bits. */
const MAX_SEALED = 0x01ffffff;

export class Amf3Writer {
  private readonly strings = new Map<string, number>();
  private readonly objects = new Map<object, number>();
  private objectCount = 0;
  private readonly traits = new Map<string, number>();
  private traitsCount = 0;

  constructor(
    private readonly w: ByteWriter,
    private readonly guard: DepthGuard,
  ) {}

  writeValue(value: unknown): void {
    const w = this.w;
    switch (typeof value) {
      case 'undefined':
      case 'function':
      case 'symbol':
        w.u8(Amf3Marker.Undefined);
        return;
      case 'boolean':
        w.u8(value ? Amf3Marker.True : Amf3Marker.False);
        return;
      case 'number':
        this.writeNumber(value);
        return;
      case 'string':
        w.u8(Amf3Marker.String);
        this.writeString(value);
        return;
      case 'bigint':
        throw new AmfError('cannot encode a bigint in AMF3');
      case 'object':
        if (value === null) w.u8(Amf3Marker.Null);
        else this.writeObjectValue(value);
        return;
    }
  }

  private writeNumber(v: number): void {
    if (Number.isInteger(v) && v >= AMF3_INT_MIN && v <= AMF3_INT_MAX && !Object.is(v, -0)) {
      this.w.u8(Amf3Marker.Integer);
      this.w.u29(v & 0x1fffffff);
    } else {
      this.w.u8(Amf3Marker.Double);
      this.w.f64(v);
    }
  }

  /** UTF-8-vr (values, class names, member names all share the string table). */
  writeString(s: string): void {
    if (s === '') {
      this.w.u29(1);
      return;
    }
    const index = this.strings.get(s);
    if (index !== undefined) {
      this.w.u29(index << 1);
      return;
    }
    const len = this.inlineLength(Buffer.byteLength(s, 'utf8'), 'string');
    if (this.strings.size <= MAX_U28) this.strings.set(s, this.strings.size);
    this.w.u29((len << 1) | 1);
    this.w.utf8(s, len);
  }

  private inlineLength(len: number, what: string): number {
    if (len > MAX_U28) throw new AmfError(`AMF3 ${what} too long (${len}, max ${MAX_U28})`);
    return len;
  }

  /** Writes a reference if `obj` was written before; otherwise registers it and returns false. */
  private writeRef(obj: object): boolean {
    const index = this.objects.get(obj);
    if (index !== undefined) {
      this.w.u29(index << 1);
      return true;
    }
    this.reserve(obj);
    return false;
  }

  /** Takes the next object-table slot (the decoder numbers every inline object it reads). */
  private reserve(obj?: object): void {
    const index = this.objectCount++;
    if (obj !== undefined && index <= MAX_U28) this.objects.set(obj, index);
  }

  private writeObjectValue(value: object): void {
    const unboxed = unbox(value);
    if (unboxed !== value) {
      this.writeValue(unboxed);
      return;
    }
    const w = this.w;
    if (value instanceof Date) {
      w.u8(Amf3Marker.Date);
      if (this.writeRef(value)) return;
      w.u29(1);
      w.f64(value.getTime());
    } else if (value instanceof AmfXml) {
      w.u8(value.kind === 'xml' ? Amf3Marker.Xml : Amf3Marker.XmlDocument);
      if (this.writeRef(value)) return;
      // XML text is not part of the string table.
      const len = this.inlineLength(Buffer.byteLength(value.xml, 'utf8'), 'XML');
      w.u29((len << 1) | 1);
      w.utf8(value.xml, len);
    } else if (value instanceof Uint8Array) {
      w.u8(Amf3Marker.ByteArray);
      if (this.writeRef(value)) return;
      w.u29((this.inlineLength(value.length, 'ByteArray') << 1) | 1);
      w.bytes(value);
    } else {
      this.guard.enter();
      if (value instanceof AmfVector) this.writeVector(value);
      else if (value instanceof Map) this.writeDictionary(value);
      else if (Array.isArray(value)) this.writeArray(value);
      else if (isEcmaArray(value)) this.writeAssociative(value);
      else this.writeObject(value);
      this.guard.leave();
    }
  }

  private writeArray(arr: unknown[]): void {
    if (getClassName(arr) === ARRAY_COLLECTION_CLASS) {
      this.w.u8(Amf3Marker.Object);
      if (this.writeRef(arr)) return;
      this.writeExternalTraits(ARRAY_COLLECTION_CLASS);
      // The wrapped source array is a separate table entry, but references to `arr` keep
      // pointing at the collection (the decoder resolves both to the same array).
      this.w.u8(Amf3Marker.Array);
      this.reserve();
      this.writeArrayBody(arr);
      return;
    }
    this.w.u8(Amf3Marker.Array);
    if (this.writeRef(arr)) return;
    this.writeArrayBody(arr);
  }

  private writeArrayBody(arr: unknown[]): void {
    const len = this.inlineLength(arr.length, 'array length');
    this.w.u29((len << 1) | 1);
    for (const [key, value] of encodableEntries(arr, true)) {
      this.writeString(key);
      this.writeValue(value);
    }
    this.w.u29(1); // end of associative part
    for (let i = 0; i < len; i++) this.writeValue(arr[i]);
  }

  private writeAssociative(obj: object): void {
    this.w.u8(Amf3Marker.Array);
    if (this.writeRef(obj)) return;
    this.w.u29(1); // no dense part
    for (const [key, value] of encodableEntries(obj)) {
      this.writeString(key);
      this.writeValue(value);
    }
    this.w.u29(1);
  }

  private writeObject(obj: object): void {
    this.w.u8(Amf3Marker.Object);
    if (this.writeRef(obj)) return;
    const className = getClassName(obj);
    if (className === OBJECT_PROXY_CLASS) {
      this.writeExternalTraits(OBJECT_PROXY_CLASS);
      this.w.u8(Amf3Marker.Object);
      this.reserve();
      this.writeAnonymousBody(obj);
      return;
    }
    if (className === undefined) {
      this.writeAnonymousBody(obj);
      return;
    }
    const entries = encodableEntries(obj);
    this.writeTraits(
      className,
      entries.map(([key]) => key),
      false,
    );
    for (const [, value] of entries) this.writeValue(value);
  }

  private writeAnonymousBody(obj: object): void {
    this.writeTraits('', [], true);
    for (const [key, value] of encodableEntries(obj)) {
      this.writeString(key);
      this.writeValue(value);
    }
    this.w.u29(1); // end of dynamic members
  }

  /** Inline traits or a reference to identical traits written earlier in this message. */
  private writeTraits(className: string, sealed: string[], dynamic: boolean): void {
    const key = (dynamic ? 'd' : 's') + JSON.stringify([className, ...sealed]);
    if (this.lookupTraits(key)) return;
    if (sealed.length > MAX_SEALED) throw new AmfError(`too many sealed members (${sealed.length})`);
    this.w.u29((sealed.length << 4) | (dynamic ? 0x08 : 0) | 0x03);
    this.writeString(className);
    for (const name of sealed) this.writeString(name);
  }

  private writeExternalTraits(className: string): void {
    if (this.lookupTraits('x' + className)) return;
    this.w.u29(0x07);
    this.writeString(className);
  }

  private lookupTraits(key: string): boolean {
    const index = this.traits.get(key);
    if (index !== undefined) {
      this.w.u29((index << 2) | 1);
      return true;
    }
    const next = this.traitsCount++;
    if (next <= MAX_TRAITS_INDEX) this.traits.set(key, next);
    return false;
  }

  private writeVector(vector: AmfVector): void {
    const w = this.w;
    const kind = vector.kind;
    const marker =
      kind === 'int'
        ? Amf3Marker.VectorInt
        : kind === 'uint'
          ? Amf3Marker.VectorUint
          : kind === 'double'
            ? Amf3Marker.VectorDouble
            : kind === 'object'
              ? Amf3Marker.VectorObject
              : undefined;
    if (marker === undefined) throw new AmfError(`unknown AmfVector kind ${String(kind)}`);
    w.u8(marker);
    if (this.writeRef(vector)) return;
    const items = vector.items;
    const count = this.inlineLength(items.length, 'vector length');
    w.u29((count << 1) | 1);
    w.u8(vector.fixed ? 1 : 0);
    if (kind === 'object') {
      this.writeString(vector.typeName ?? '');
      for (let i = 0; i < count; i++) this.writeValue(items[i]);
    } else if (kind === 'int') {
      for (let i = 0; i < count; i++) w.i32(Number(items[i]) | 0);
    } else if (kind === 'uint') {
      for (let i = 0; i < count; i++) w.u32(Number(items[i]) >>> 0);
    } else {
      for (let i = 0; i < count; i++) w.f64(Number(items[i]));
    }
  }

  private writeDictionary(map: Map<unknown, unknown>): void {
    this.w.u8(Amf3Marker.Dictionary);
    if (this.writeRef(map)) return;
    this.w.u29((this.inlineLength(map.size, 'dictionary size') << 1) | 1);
    this.w.u8(0); // weak keys: false
    for (const [key, value] of map) {
      this.writeValue(key);
      this.writeValue(value);
    }
  }
}

/**
 * The value model shared by the AMF0 and AMF3 codecs (see docs in amf0.ts / amf3.ts).
 *
 * Plain JS values map to AMF directly. Where AMF distinguishes things JS does not
 * (ECMA array vs object, class aliases, XML flavours, typed vectors) we mark plain values
 * with non-enumerable, registry-wide symbols so that the markers survive a round trip through
 * script code without showing up in `Object.keys` / JSON, and so that two copies of this
 * module (tests, workers) agree on them.
 */
import { ProtocolError, ErrorCode } from '../errors.ts';

/** Every decode and encode failure: malformed or hostile bytes, or a value AMF cannot carry. */
export class AmfError extends ProtocolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.AmfInvalid, message, options);
  }
}

/** Set (true) on objects decoded from an AMF0 ECMA array; encoding such an object writes an ECMA array. */
export const AMF_ECMA_ARRAY = Symbol.for('fms.amf.ecmaArray');
/** Holds the class alias of a typed object (AMF0 0x10, AMF3 traits with a class name). */
export const AMF_CLASS_NAME = Symbol.for('fms.amf.className');

/** Well-known Flex externalizable classes we understand (both wrap exactly one AMF3 value). */
export const ARRAY_COLLECTION_CLASS = 'flex.messaging.io.ArrayCollection';
export const OBJECT_PROXY_CLASS = 'flex.messaging.io.ObjectProxy';

export const DEFAULT_MAX_DEPTH = 64;
/**
 * Encoding recurses over caller-owned values; cap it so a deep graph fails with a clear message
 * well before the JS stack runs out (around 1,500 levels). No real command nests this deep.
 */
export const DEFAULT_MAX_ENCODE_DEPTH = 256;

export interface AmfDecodeOptions {
  /** Maximum nesting of containers (objects, arrays, dictionaries, vectors). Default 64. */
  maxDepth?: number;
}

export interface AmfEncodeOptions {
  /**
   * AMF0 only: 3 writes every non-primitive value as 0x11 + AMF3 (what Flash does on an AMF3
   * NetConnection); primitives stay AMF0. Default 0.
   */
  objectEncoding?: 0 | 3;
  /** Maximum nesting while encoding. Default 256. */
  maxDepth?: number;
}

function defineHidden(obj: object, key: symbol, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: false, writable: true, configurable: true });
}

/** Marks `obj` so that AMF0 encodes it as an ECMA array (onMetaData, Connect.Success `data`). */
export function ecmaArray<T extends object>(obj: T): T {
  defineHidden(obj, AMF_ECMA_ARRAY, true);
  return obj;
}

export function isEcmaArray(value: object): boolean {
  return (value as { [AMF_ECMA_ARRAY]?: unknown })[AMF_ECMA_ARRAY] === true;
}

/** Marks `obj` with a class alias so that it encodes as a typed object. */
export function typedObject<T extends object>(alias: string, obj: T): T {
  defineHidden(obj, AMF_CLASS_NAME, alias);
  return obj;
}

/** The class alias of a typed object, or undefined for anonymous objects. */
export function getClassName(value: object): string | undefined {
  const name = (value as { [AMF_CLASS_NAME]?: unknown })[AMF_CLASS_NAME];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** XML text. AMF0 has one XML type (0x0F); AMF3 has the legacy XMLDocument (0x07) and E4X XML (0x0B). */
export class AmfXml {
  constructor(
    readonly xml: string,
    readonly kind: 'xmldoc' | 'xml' = 'xmldoc',
  ) {}
}

export type AmfVectorKind = 'int' | 'uint' | 'double' | 'object';

/**
 * AMF3 Vector.<int|uint|Number|T>. `items` of numeric kinds are coerced on encode (int: |0,
 * uint: >>>0, double: Number). `typeName` is the element class of an object vector ('' = *).
 */
export class AmfVector {
  constructor(
    readonly kind: AmfVectorKind,
    public items: unknown[] = [],
    public fixed = false,
    public typeName?: string,
  ) {}
}

/**
 * Assigns a decoded property without ever invoking the `__proto__` setter: a peer-sent key
 * "__proto__" must become an ordinary own property, not replace the prototype.
 */
export function setProperty(obj: object, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    (obj as Record<string, unknown>)[key] = value;
  }
}

/** The properties an encoder writes: own enumerable string keys, minus function (and symbol) values. */
export function encodableEntries(obj: object, skipArrayIndices = false): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const key of Object.keys(obj)) {
    if (skipArrayIndices && isArrayIndex(key)) continue;
    const value = (obj as Record<string, unknown>)[key];
    if (typeof value === 'function' || typeof value === 'symbol') continue;
    out.push([key, value]);
  }
  return out;
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;
/** True for the canonical decimal form of an array index (0 .. 2^32-2). */
export function isArrayIndex(key: string): boolean {
  return ARRAY_INDEX.test(key) && key.length <= 10 && Number(key) < 0xffffffff;
}

/** new Number(1) and friends encode as their primitive. */
export function unbox(value: object): unknown {
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return value.valueOf();
  return value;
}

/** AMF0 type markers (AMF0 specification section 2.1). */
export const Amf0Marker = {
  Number: 0x00,
  Boolean: 0x01,
  String: 0x02,
  Object: 0x03,
  MovieClip: 0x04,
  Null: 0x05,
  Undefined: 0x06,
  Reference: 0x07,
  EcmaArray: 0x08,
  ObjectEnd: 0x09,
  StrictArray: 0x0a,
  Date: 0x0b,
  LongString: 0x0c,
  Unsupported: 0x0d,
  RecordSet: 0x0e,
  XmlDocument: 0x0f,
  TypedObject: 0x10,
  AvmPlus: 0x11,
} as const;

/** AMF3 type markers (AMF3 specification section 3.1). */
export const Amf3Marker = {
  Undefined: 0x00,
  Null: 0x01,
  False: 0x02,
  True: 0x03,
  Integer: 0x04,
  Double: 0x05,
  String: 0x06,
  XmlDocument: 0x07,
  Date: 0x08,
  Array: 0x09,
  Object: 0x0a,
  Xml: 0x0b,
  ByteArray: 0x0c,
  VectorInt: 0x0d,
  VectorUint: 0x0e,
  VectorDouble: 0x0f,
  VectorObject: 0x10,
  Dictionary: 0x11,
} as const;

/** AMF3 integers are 29-bit two's complement; anything outside is written as a double. */
export const AMF3_INT_MIN = -0x10000000;
export const AMF3_INT_MAX = 0x0fffffff;

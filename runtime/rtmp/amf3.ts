/**
 * AMF3 entry points. The value model is in amf-values.ts; the codecs are Amf3Reader /
 * Amf3Writer (reference tables live in one reader/writer, i.e. one message).
 *
 *   undefined ↔ undefined, null ↔ null, boolean ↔ false/true,
 *   number ↔ integer (29-bit, not -0) or double, string ↔ string,
 *   Date ↔ date, AmfXml ↔ XMLDocument (0x07) / XML (0x0B), Buffer|Uint8Array → ByteArray (→ Buffer),
 *   array ↔ array (extra named properties ↔ associative part), Map ↔ Dictionary,
 *   AmfVector ↔ Vector.<int|uint|Number|Object>, object ↔ object (class alias via AMF_CLASS_NAME),
 *   ECMA-array-marked object → associative-only array,
 *   externalizable ArrayCollection / ObjectProxy → the wrapped value (any other class → AmfError).
 */
import { ByteReader, ByteWriter, DepthGuard, asAmfError } from './amf-io.ts';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_ENCODE_DEPTH, AmfError } from './amf-values.ts';
import type { AmfDecodeOptions, AmfEncodeOptions } from './amf-values.ts';
import { Amf3Reader } from './amf3-reader.ts';
import { Amf3Writer } from './amf3-writer.ts';

export { Amf3Reader } from './amf3-reader.ts';
export { Amf3Writer } from './amf3-writer.ts';
export {
  AmfError,
  AmfVector,
  AmfXml,
  AMF_CLASS_NAME,
  AMF_ECMA_ARRAY,
  ecmaArray,
  typedObject,
} from './amf-values.ts';
export type { AmfDecodeOptions, AmfEncodeOptions, AmfVectorKind } from './amf-values.ts';

/** Encodes one AMF3 value (marker included) with fresh reference tables. */
export function encodeAmf3Value(value: unknown, options: Pick<AmfEncodeOptions, 'maxDepth'> = {}): Buffer {
  return asAmfError('AMF3 encode', () => {
    const w = new ByteWriter();
    new Amf3Writer(w, new DepthGuard(options.maxDepth ?? DEFAULT_MAX_ENCODE_DEPTH)).writeValue(value);
    return w.toBuffer();
  });
}

/** Decodes exactly one AMF3 value occupying the whole buffer (trailing bytes are an error). */
export function decodeAmf3Value(buf: Buffer, options: AmfDecodeOptions = {}): unknown {
  return asAmfError('AMF3 decode', () => {
    const r = new ByteReader(buf);
    const value = new Amf3Reader(r, new DepthGuard(options.maxDepth ?? DEFAULT_MAX_DEPTH)).readValue();
    if (r.remaining !== 0) throw new AmfError(`${r.remaining} trailing bytes after AMF3 value`);
    return value;
  });
}

/** Decodes consecutive AMF3 values sharing one set of reference tables until the buffer ends. */
export function decodeAmf3Values(buf: Buffer, options: AmfDecodeOptions = {}): unknown[] {
  return asAmfError('AMF3 decode', () => {
    const r = new ByteReader(buf);
    const reader = new Amf3Reader(r, new DepthGuard(options.maxDepth ?? DEFAULT_MAX_DEPTH));
    const values: unknown[] = [];
    while (r.remaining > 0) values.push(reader.readValue());
    return values;
  });
}

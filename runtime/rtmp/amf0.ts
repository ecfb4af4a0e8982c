/**
 * AMF0 entry points, used for RTMP command (20/17) and data (18/15) payloads, which are a
 * sequence of AMF0 values (type 17/15 payloads start with one format byte the caller strips).
 * The value model is in amf-values.ts:
 *
 *   undefined ↔ undefined (0x06; 0x0D unsupported also decodes to undefined), null ↔ null,
 *   boolean, number ↔ number, string ↔ string / long string (> 65535 UTF-8 bytes),
 *   Date ↔ date (time zone written 0, ignored), AmfXml ↔ XML document,
 *   array ↔ strict array, object ↔ object, ECMA-array-marked object ↔ ECMA array,
 *   object with AMF_CLASS_NAME ↔ typed object, 0x07 reference → the same decoded instance,
 *   0x11 ↔ one AMF3 value (Buffer, Map, AmfVector always go this way; everything
 *   non-primitive does with objectEncoding 3).
 *
 * Reference tables (AMF0 and the AMF3 ones behind 0x11) span all values of one call.
 */
import { ByteWriter, DepthGuard, asAmfError } from './amf-io.ts';
import { DEFAULT_MAX_ENCODE_DEPTH } from './amf-values.ts';
import type { AmfDecodeOptions, AmfEncodeOptions } from './amf-values.ts';
import { Amf0Reader } from './amf0-reader.ts';
import { Amf0Writer } from './amf0-writer.ts';

export { Amf0Reader } from './amf0-reader.ts';
export { Amf0Writer } from './amf0-writer.ts';
export {
  AmfError,
  AmfVector,
  AmfXml,
  AMF_CLASS_NAME,
  AMF_ECMA_ARRAY,
  ecmaArray,
  typedObject,
} from './amf-values.ts';
export type { AmfDecodeOptions, AmfEncodeOptions } from './amf-values.ts';

/** Encodes `values` back to back as one message (shared reference tables). */
export function encodeAmf0(values: readonly unknown[], options: AmfEncodeOptions = {}): Buffer {
  return asAmfError('AMF0 encode', () => {
    const w = new ByteWriter();
    const writer = new Amf0Writer(
      w,
      new DepthGuard(options.maxDepth ?? DEFAULT_MAX_ENCODE_DEPTH),
      options.objectEncoding ?? 0,
    );
    for (const value of values) writer.writeValue(value);
    return w.toBuffer();
  });
}

export function encodeAmf0Value(value: unknown, options: AmfEncodeOptions = {}): Buffer {
  return encodeAmf0([value], options);
}

/** Decodes values until the buffer ends; any malformed byte throws AmfError. */
export function decodeAmf0(buf: Buffer, options: AmfDecodeOptions = {}): unknown[] {
  const reader = new Amf0Reader(buf, options);
  const values: unknown[] = [];
  while (!reader.done) values.push(reader.readValue());
  return values;
}

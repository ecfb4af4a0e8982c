/**
 * The server-side Stream class (fms-api §6). For now only what onPublish/onUnpublish hand to the
 * script: `{name, publishQueryString}` objects whose constructor is the global `Stream`. Stream.get,
 * play, record… belong to the multipoint work and extend this module.
 */
import { defineConstant, emptyMap, objectCreate } from './host.ts';
import type { StreamRecord } from './protocol.ts';

export interface StreamObject {
  readonly name: string;
  readonly publishQueryString: string;
}

/** Scripts never construct streams themselves (FMS hands them out); `new Stream()` is inert. */
export function Stream(): void {}

/** One object per published name, so onPublish and onUnpublish see the same Stream. */
const published = emptyMap<StreamObject>();
/** Every Stream host-api handed out (a look-alike `{name}` object is not one). */
const created = new WeakSet<object>();

/** A publish starts a new Stream object; an unpublish gets the one its publish created. */
export function streamFor(record: StreamRecord, publishing: boolean): StreamObject {
  const existing = published[record.name];
  if (existing !== undefined && !publishing) return existing;
  const stream = objectCreate(Stream.prototype) as StreamObject;
  defineConstant(stream, 'name', record.name);
  defineConstant(stream, 'publishQueryString', record.publishQueryString);
  created.add(stream);
  published[record.name] = stream;
  return stream;
}

/** The name behind a Stream object handed out by host-api, or a plain name; null for anything else. */
export function streamNameOf(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || !created.has(value)) return null;
  return (value as StreamObject).name;
}

export function forgetStream(stream: StreamObject): void {
  if (published[stream.name] === stream) delete published[stream.name];
}

/**
 * The server-side Stream class (fms-api §6): the objects onPublish/onUnpublish hand to the script
 * and those Stream.get(name) returns. A Stream is a name plus methods; play/record/send run natively
 * on the host (media never enters the isolate) and report through `onStatus`.
 */
import { defineConstant, defineMethod, defineProperty, emptyMap, host, NumberConstructor, objectCreate, StringConstructor, unsupported } from './host.ts';
import type { InfoRecord, StreamRecord } from './protocol.ts';
import { invoke, toPlain } from './values.ts';

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

/** Streams obtained with Stream.get: same name, same object, for the life of the instance. */
const owned = emptyMap<StreamObject>();

function getStream(name: unknown): StreamObject | null {
  const normalised = host('streamGet', StringConstructor(name));
  if (normalised === null) return null;
  const existing = published[normalised] ?? owned[normalised];
  if (existing !== undefined) return existing;
  const stream = objectCreate(Stream.prototype) as StreamObject;
  defineConstant(stream, 'name', normalised);
  defineConstant(stream, 'publishQueryString', '');
  created.add(stream);
  owned[normalised] = stream;
  return stream;
}

/** Filled in by net-connection.ts (which imports this module) to map a NetConnection to its id. */
let ncIdOf: (nc: unknown) => number | null = () => null;
export function setNcIdResolver(resolver: (nc: unknown) => number | null): void {
  ncIdOf = resolver;
}

const StreamStatic = Stream as unknown as Record<string, unknown>;
defineMethod(StreamStatic, 'get', getStream);
defineMethod(StreamStatic, 'destroy', function (stream: unknown): boolean {
  const name = streamNameOf(stream);
  if (name === null) return false;
  delete owned[name];
  return host('streamDestroy', name);
});
defineMethod(StreamStatic, 'length', function (name: unknown): number {
  return host('streamLength', StringConstructor(name));
});
defineMethod(StreamStatic, 'size', function (): number {
  unsupported('Stream.size');
  return 0;
});
defineMethod(StreamStatic, 'setVirtualPath', function (): void {
  unsupported('Stream.setVirtualPath');
});

const proto = Stream.prototype as Record<string, unknown>;

/** s.play(name | false, startTime = -2, length = -1, reset = true, remoteConnection). */
defineMethod(proto, 'play', function (this: StreamObject, source: unknown, start?: unknown, length?: unknown, reset?: unknown, remote?: unknown): boolean {
  const name = streamNameOf(this);
  if (name === null) return false;
  const startSec = typeof start === 'number' ? start : -2;
  const lengthSec = typeof length === 'number' ? length : -1;
  const resetValue = typeof reset === 'number' || typeof reset === 'boolean' ? reset : true;
  const ncId = remote === undefined || remote === null ? null : ncIdOf(remote);
  if (remote !== undefined && remote !== null && ncId === null) return false;
  const src = source === false || source === null ? false : StringConstructor(source);
  return host('streamPlay', name, src, NumberConstructor(startSec), NumberConstructor(lengthSec), resetValue, ncId);
});

/** s.record(mode[, maxDuration, maxSize]): seconds and kilobytes; the host applies Application.xml's caps. */
defineMethod(proto, 'record', function (this: StreamObject, mode?: unknown, maxDuration?: unknown, maxSize?: unknown): boolean {
  const name = streamNameOf(this);
  if (name === null) return false;
  const value = mode === false ? false : mode === 'append' ? 'append' : 'record';
  const limit = (given: unknown): number | null => {
    const n = given === undefined || given === null ? NaN : NumberConstructor(given);
    return n === n ? n : null; // omitted or not a number: the Application.xml default applies
  };
  return host('streamRecord', name, value, limit(maxDuration), limit(maxSize));
});

defineMethod(proto, 'send', function (this: StreamObject, handler: unknown, ...args: unknown[]): boolean {
  const name = streamNameOf(this);
  if (name === null) return false;
  const plain: unknown[] = [];
  for (let i = 0; i < args.length; i++) plain[i] = toPlain(args[i]);
  return host('streamSend', name, StringConstructor(handler), plain);
});

/** s.time: asked of the host on every read, as the stream moves on while the script runs. */
defineProperty(proto, 'time', {
  get(this: StreamObject): number {
    const name = streamNameOf(this);
    return name === null ? 0 : host('streamTime', name);
  },
  set: () => undefined, // read-only in FMS; a sloppy-mode write is ignored
  enumerable: false,
  configurable: true,
});

defineMethod(proto, 'setBufferTime', function (this: Record<string, unknown>, seconds: unknown): void {
  this.bufferTime = typeof seconds === 'number' ? seconds : 0;
});

/** s.clear(): deletes the recorded file; the outcome also comes to onStatus (Clear.Success/Failed). */
defineMethod(proto, 'clear', function (this: StreamObject): boolean {
  const name = streamNameOf(this);
  if (name === null) return false;
  return host('streamClear', name);
});

for (const member of ['flush', 'getOnMetaData', 'setVirtualPath']) {
  defineMethod(proto, member, function (): boolean {
    unsupported(`Stream.${member}`);
    return false;
  });
}

/** Host → isolate: a status for a stream; its onStatus handler runs (FMS passes the info object). */
export function onStreamStatusEvent(name: string, info: InfoRecord): void {
  const stream = (owned[name] ?? published[name]) as unknown as Record<string, unknown> | undefined;
  if (stream === undefined) return;
  const handler = stream.onStatus;
  if (typeof handler === 'function') invoke(handler, stream, [info]);
}

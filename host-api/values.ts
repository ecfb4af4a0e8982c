/**
 * Data leaving the isolate and errors thrown by script code.
 *
 * Everything handed to the host is first turned into plain data: structured cloning (what the
 * bridge uses) throws on functions, while AMF simply skips them, so scripts that send objects with
 * methods (common: `client.call("update", null, this)`) must keep working.
 */
import {
  ErrorConstructor,
  cutText,
  defineProperty,
  isArray,
  objectKeys,
  reflectApply,
  StringConstructor,
} from './host.ts';
import type { ThrownRecord } from './protocol.ts';
import { aliasOf, amfClassKey, classesRegistered } from './amf-classes.ts';

const MAX_DEPTH = 64;
// Captured now: a script may later replace these globals.
const MapConstructor = Map;
const DateConstructor = Date;
const NumberConstructor = Number;
const dateGetTime = Date.prototype.getTime;
const isView = ArrayBuffer.isView;
const bufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')?.get;

/**
 * Functions and symbols are dropped; Dates, arrays, binary data and cycles are kept. Instances of a
 * class registered with application.registerClass carry their alias under the reserved key (see
 * amf-classes.ts); the host turns that into an AMF typed object.
 */
export function toPlain(value: unknown): unknown {
  return convert(value, new MapConstructor<object, unknown>(), 0);
}

function convert(value: unknown, seen: Map<object, unknown>, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return NumberConstructor(value);
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  const object = value as Record<string, unknown>;
  const known = seen.get(object);
  if (known !== undefined) return known;
  if (depth > MAX_DEPTH) return null;
  const time = dateValue(object);
  if (time !== undefined) return new DateConstructor(time);
  if (isView(object) || isArrayBuffer(object)) return object;
  if (isArray(object)) {
    const out: unknown[] = [];
    seen.set(object, out);
    const length = object.length;
    for (let i = 0; i < length; i++) out[i] = convert(object[i], seen, depth + 1);
    return out;
  }
  const out: Record<string, unknown> = {};
  seen.set(object, out);
  const keys = objectKeys(object);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = object[key];
    if (typeof item === 'function') continue;
    // defineProperty, not assignment: a key named "__proto__" stays data, and setters a script put
    // on Object.prototype are not triggered.
    defineProperty(out, key, { value: convert(item, seen, depth + 1), writable: true, enumerable: true, configurable: true });
  }
  if (classesRegistered()) {
    const alias = aliasOf(object);
    // Enumerable: structured cloning copies only own enumerable properties.
    if (alias !== undefined) defineProperty(out, amfClassKey(), { value: alias, writable: true, enumerable: true, configurable: true });
  }
  return out;
}

function dateValue(object: object): number | undefined {
  try {
    return reflectApply(dateGetTime, object, []) as number;
  } catch {
    return undefined; // not a Date: getTime's brand check threw
  }
}

function isArrayBuffer(object: object): boolean {
  if (bufferByteLength === undefined) return false;
  try {
    reflectApply(bufferByteLength, object, []);
    return true;
  } catch {
    return false; // not an ArrayBuffer: the byteLength getter's brand check threw
  }
}

/** Extra facts about errors raised by host-api itself (load failures), invisible to scripts. */
const errorDetails = new WeakMap<object, Partial<ThrownRecord>>();

export function tagError(error: object, details: Partial<ThrownRecord>): void {
  errorDetails.set(error, details);
}

/** Flattens anything a script threw into data; never throws (getters on the thrown value may). */
export function describeThrown(thrown: unknown): ThrownRecord {
  try {
    if (typeof thrown === 'object' && thrown !== null && thrown instanceof ErrorConstructor) {
      const error = thrown as Error;
      const stack: unknown = error.stack;
      return {
        name: cutText(StringConstructor(error.name)),
        message: cutText(StringConstructor(error.message)),
        ...(typeof stack === 'string' ? { stack: cutText(stack) } : {}),
        ...errorDetails.get(error),
      };
    }
    return { name: '', message: cutText(StringConstructor(thrown)) };
  } catch {
    return { name: '', message: '(an exception whose description threw)' };
  }
}

let caught: ThrownRecord | undefined;

/**
 * Runs script code. A throw is recorded (the first one per dispatch is reported to the host) and
 * turned into `[false]`, so host-api can finish its own bookkeeping after a failing handler.
 */
export function invoke(fn: unknown, thisArg: unknown, args: unknown[]): [ok: true, value: unknown] | [ok: false] {
  try {
    return [true, reflectApply(fn as (...a: unknown[]) => unknown, thisArg, args)];
  } catch (thrown) {
    if (caught === undefined) caught = describeThrown(thrown);
    return [false];
  }
}

/** Returns and clears the error recorded during the current dispatch. */
export function takeCaught(): ThrownRecord | undefined {
  const error = caught;
  caught = undefined;
  return error;
}

export function recordCaught(thrown: unknown): void {
  if (caught === undefined) caught = describeThrown(thrown);
}

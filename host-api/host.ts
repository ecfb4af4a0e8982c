/**
 * The one handle on the host, plus the built-ins host-api relies on, captured before any script runs.
 *
 * Why capture: main.asc runs after this bundle and may replace globals and prototype methods
 * (ES3-era scripts do patch Array/String/Object prototypes). Host-api calls the originals.
 *
 * Why the host function is only ever called directly (`hostFn(op, args)`): a script can replace
 * Function.prototype.call/apply/bind; going through them would hand the host function to script
 * code as `this`. It lives in this module's closure only and is never stored on any object.
 */
import type { HostCalls, HostFunction, HostOp, HostReply, HostWaitOp, HostWaitReference, HostWaits, TraceFunction } from './protocol.ts';

let hostFn: HostFunction | undefined;
let traceFn: TraceFunction | undefined;
let waitRef: HostWaitReference | undefined;
let applySyncPromise: HostWaitReference['applySyncPromise'] | undefined;

/**
 * Options of every wait call, built once and frozen, without a prototype: isolated-vm reads options
 * it is not given (`result`, `reference`…) from the object, and an inherited one a script planted on
 * Object.prototype could otherwise change how the host's answer is handed over.
 */
const WAIT_OPTIONS = Object.freeze(Object.assign(Object.create(null) as object, {
  arguments: Object.freeze(Object.assign(Object.create(null) as object, { copy: true })),
}));

export function bindHost(fn: HostFunction, trace: TraceFunction, wait: HostWaitReference): void {
  hostFn = fn;
  traceFn = trace;
  waitRef = wait;
  // Captured now: the method is looked up once, before any script runs.
  applySyncPromise = wait.applySyncPromise;
}

/**
 * trace() records, and characters of trace text, sent without waiting since the last `traceWait`.
 * Isolated-vm hands queued callbacks to Node's thread in one go, until none is left (protocol.ts
 * TraceFunction); past either bound one trace goes as `traceWait`, which returns after the host has
 * taken every record before it and given its event loop a turn. So a script tracing in a loop costs
 * the server's other clients at most this much of Node's thread at a time (≈ 2 ms for 256 records,
 * test/sandbox/hazard-host-call-loop.test.ts), and cannot queue unbounded host memory.
 */
const TRACE_TURN_RECORDS = 256;
const TRACE_TURN_CHARS = 256 * 1024;
let tracesSinceTurn = 0;
let traceCharsSinceTurn = 0;

export function traceToHost(text: string): void {
  traceCharsSinceTurn += text.length;
  if (traceFn === undefined || ++tracesSinceTurn >= TRACE_TURN_RECORDS || traceCharsSinceTurn > TRACE_TURN_CHARS) {
    tracesSinceTurn = 0;
    traceCharsSinceTurn = 0;
    hostWait('traceWait', text);
    return;
  }
  traceFn(text);
}

export const reflectApply = Reflect.apply;
export const objectKeys = Object.keys;
export const objectCreate = Object.create;
export const defineProperty = Object.defineProperty;
export const getPrototypeOf = Object.getPrototypeOf;
export const isArray = Array.isArray;
export const ObjectPrototype = Object.prototype;
export const FunctionPrototype = Function.prototype;
export const ErrorConstructor = Error;
export const TypeErrorConstructor = TypeError;
export const SyntaxErrorConstructor = SyntaxError;
export const StringConstructor = String;
const stringSlice = String.prototype.slice;
const stringCharCodeAt = String.prototype.charCodeAt;
export const NumberConstructor = Number;
export const globalObject: Record<string, unknown> = globalThis as unknown as Record<string, unknown>;
const hasOwnProperty = Object.prototype.hasOwnProperty;

export function hasOwn(target: object, key: string): boolean {
  return reflectApply(hasOwnProperty, target, [key]) as boolean;
}

/** A map with no prototype: lookups never reach (script-patchable) Object.prototype. */
export function emptyMap<T>(): Record<string, T> {
  return objectCreate(null) as Record<string, T>;
}

/** Read-only data property; writes from (sloppy-mode) scripts are silently ignored, as in FMS. */
export function defineConstant(target: object, key: string, value: unknown, enumerable = true): void {
  defineProperty(target, key, { value, writable: false, enumerable, configurable: false });
}

/** A method slot like the native ones: writable (scripts wrap them), not enumerable. */
export function defineMethod(target: object, key: string, value: unknown): void {
  defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

/** Calls the host synchronously; a refused argument becomes a TypeError in the calling script. */
export function host<K extends HostOp>(op: K, ...args: Parameters<HostCalls[K]>): ReturnType<HostCalls[K]> {
  const fn = hostFn;
  if (fn === undefined) throw new TypeErrorConstructor('host-api is not installed');
  return answer(fn(op, args));
}

/**
 * Waits for an operation the host does off its event loop (protocol.ts HostWaits); the script sees
 * a synchronous call, as in FMS. A refused argument becomes a TypeError in the calling script.
 */
export function hostWait<K extends HostWaitOp>(op: K, ...args: Parameters<HostWaits[K]>): ReturnType<HostWaits[K]> {
  if (waitRef === undefined || applySyncPromise === undefined) throw new TypeErrorConstructor('host-api is not installed');
  return answer(reflectApply(applySyncPromise, waitRef, [undefined, [op, args], WAIT_OPTIONS]) as HostReply<ReturnType<HostWaits[K]>>);
}

/** The value of a host reply; a refusal throws a TypeError, the deadline reply unwinds the handler. */
function answer<T>(reply: HostReply<T>): T {
  if (reply[0] === true) return reply[1];
  if (reply[0] === 'deadline') {
    // The stack is captured here, where the script called in; the host ends the isolate next.
    const stack: unknown = new ErrorConstructor('Script execution timed out.').stack;
    (hostFn as HostFunction)('timedOut', [typeof stack === 'string' ? stack : '']);
    throw new ErrorConstructor('Script execution timed out.');
  }
  throw new TypeErrorConstructor(reply[1]);
}

let maxTextChars = 8192;

export function setMaxTextChars(max: number): void {
  maxTextChars = max;
}

/**
 * Text that leaves the isolate (trace, error reports) cut to the host's log length, with the marker
 * runtime/log/log-limits.ts appends (the host cuts again; this spares copying a 40 MB string out).
 */
export function cutText(text: string): string {
  if (text.length <= maxTextChars) return text;
  const last = reflectApply(stringCharCodeAt, text, [maxTextChars - 1]) as number;
  const end = last >= 0xd800 && last <= 0xdbff ? maxTextChars - 1 : maxTextChars;
  return `${reflectApply(stringSlice, text, [0, end]) as string}…[truncated ${text.length - end} chars]`;
}

const reportedUnsupported = emptyMap<true>();

/** P2 members: present with the right shape, logged once per instance when used. */
export function unsupported(member: string): void {
  if (reportedUnsupported[member] === true) return;
  reportedUnsupported[member] = true;
  host('unsupported', member);
}

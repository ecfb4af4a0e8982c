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
import type { HostCalls, HostFunction, HostOp } from './protocol.ts';

let hostFn: HostFunction | undefined;

export function bindHost(fn: HostFunction): void {
  hostFn = fn;
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
  const reply = fn(op, args);
  if (reply[0] === true) return reply[1];
  if (reply[0] === 'deadline') {
    // The stack is captured here, where the script called in; the host ends the isolate next.
    const stack: unknown = new ErrorConstructor('Script execution timed out.').stack;
    fn('timedOut', [typeof stack === 'string' ? stack : '']);
    throw new ErrorConstructor('Script execution timed out.');
  }
  throw new TypeErrorConstructor(reply[1]);
}

const reportedUnsupported = emptyMap<true>();

/** P2 members: present with the right shape, logged once per instance when used. */
export function unsupported(member: string): void {
  if (reportedUnsupported[member] === true) return;
  reportedUnsupported[member] = true;
  host('unsupported', member);
}

/**
 * What LoadVars and XML share (fms-api §9): request headers, byte counts, and the way an answer
 * comes back. The host makes the request (runtime/sandbox/script-http.ts) and later dispatches
 * `httpResult`; FMS's order is then kept: onHTTPStatus(code) when a response arrived, then
 * onData(body) — undefined on any failure — whose default implementation (on each prototype) parses
 * the body and calls onLoad(success).
 *
 * A request the host refuses outright (host not allowed, bad URL) makes load() return false, and
 * onLoad(false) still follows: scripts that ignore load()'s return (most do) must not wait forever.
 */
import { defineMethod, emptyMap, host, isArray, reflectApply, StringConstructor } from './host.ts';
import type { HttpResultRecord } from './protocol.ts';
import { invoke } from './values.ts';

interface LoaderState {
  headers: [string, string][];
  bytesLoaded?: number;
  bytesTotal?: number;
}

const states = new WeakMap<object, LoaderState>();
const targets = emptyMap<object>();
let nextRequestId = 1;

function stateOf(object: object): LoaderState {
  let state = states.get(object);
  if (state === undefined) {
    state = { headers: [] };
    states.set(object, state);
  }
  return state;
}

/**
 * Sends a request; `target` (or null for send()) gets the answer events. Returns false when the
 * host refused it; the target then still hears onData(undefined) → onLoad(false).
 */
export function startRequest(source: object, target: object | null, method: 'GET' | 'POST', url: unknown, body: string | null): boolean {
  if (url === undefined || url === null) return false;
  const requestId = target === null ? 0 : nextRequestId++;
  if (target !== null) {
    targets[requestId] = target;
    (target as Record<string, unknown>).loaded = false;
  }
  const contentType = (source as Record<string, unknown>).contentType;
  return host('httpRequest', requestId, {
    method,
    url: StringConstructor(url),
    headers: stateOf(source).headers,
    body,
    contentType: typeof contentType === 'string' ? contentType : 'application/x-www-form-urlencoded',
  });
}

/** Host → isolate: the answer to a request. */
export function onHttpResultEvent(requestId: number, result: HttpResultRecord): void {
  const target = targets[requestId];
  if (target === undefined) return;
  delete targets[requestId];
  const state = stateOf(target);
  state.bytesLoaded = result.bytesLoaded;
  state.bytesTotal = result.bytesTotal;
  const object = target as Record<string, unknown>;
  if (result.status > 0 && typeof object.onHTTPStatus === 'function') invoke(object.onHTTPStatus, target, [result.status]);
  if (typeof object.onData === 'function') invoke(object.onData, target, [result.body === null ? undefined : result.body]);
}

/**
 * addRequestHeader, getBytesLoaded, getBytesTotal and the default onData on a LoadVars / XML
 * prototype. The default onData reads the answer with `parse` (LoadVars decode, XML parseXML), then
 * calls onLoad(success); scripts may replace it.
 */
export function defineLoaderMethods(proto: object, parse: 'decode' | 'parseXML'): void {
  defineMethod(proto, 'onData', function (this: Record<string, unknown>, src: unknown): void {
    const onLoad = this.onLoad;
    if (src === undefined) {
      if (typeof onLoad === 'function') reflectApply(onLoad, this, [false]);
      return;
    }
    reflectApply(this[parse] as (text: unknown) => void, this, [src]);
    this.loaded = true;
    if (typeof onLoad === 'function') reflectApply(onLoad, this, [true]);
  });
  defineMethod(proto, 'addRequestHeader', function (this: object, name: unknown, value?: unknown): void {
    const headers = stateOf(this).headers;
    // Two forms: (name, value) or ([name1, value1, name2, value2, ...]).
    if (isArray(name)) {
      for (let i = 0; i + 1 < name.length; i += 2) headers.push([StringConstructor(name[i]), StringConstructor(name[i + 1])]);
    } else {
      headers.push([StringConstructor(name), StringConstructor(value)]);
    }
  });
  defineMethod(proto, 'getBytesLoaded', function (this: object): number | undefined {
    return stateOf(this).bytesLoaded;
  });
  defineMethod(proto, 'getBytesTotal', function (this: object): number | undefined {
    return stateOf(this).bytesTotal;
  });
  // Defaults scripts replace; present so the dispatch above finds a function.
  defineMethod(proto, 'onLoad', function (): void {});
  defineMethod(proto, 'onHTTPStatus', function (): void {});
}

/** GET sends the data as the query string; POST as the body. */
export function withQuery(url: unknown, query: string): string {
  const base = StringConstructor(url);
  if (query === '') return base;
  return base.indexOf('?') >= 0 ? `${base}&${query}` : `${base}?${query}`;
}

export function methodOf(value: unknown, fallback: 'GET' | 'POST'): 'GET' | 'POST' {
  if (typeof value !== 'string') return fallback;
  const upper = value.toUpperCase();
  return upper === 'GET' ? 'GET' : upper === 'POST' ? 'POST' : fallback;
}

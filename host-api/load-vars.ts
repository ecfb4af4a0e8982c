/**
 * LoadVars (fms-api §9): name/value pairs to and from a web server. load() GETs and decodes a
 * url-encoded answer into the object's own properties; send() POSTs (or GETs) the object's
 * enumerable data properties and ignores the answer; sendAndLoad() does both, the answer going to
 * `target`. `loaded` and `contentType` are non-enumerable so they are never sent, as in Flash.
 */
import { defineMethod, defineProperty, objectKeys, StringConstructor } from './host.ts';
import { defineLoaderMethods, methodOf, startRequest, withQuery } from './http-loader.ts';

const encode = encodeURIComponent;
const decodeComponent = decodeURIComponent;

function hidden(target: object, key: string, value: unknown): void {
  defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

export function LoadVars(this: object): void {
  hidden(this, 'contentType', 'application/x-www-form-urlencoded');
  hidden(this, 'loaded', undefined);
}

const proto = LoadVars.prototype as Record<string, unknown>;

function unescapeValue(text: string): string {
  const spaced = text.split('+').join(' ');
  try {
    return decodeComponent(spaced);
  } catch {
    return spaced; // a malformed %-sequence stays as it came
  }
}

defineMethod(proto, 'decode', function (this: Record<string, unknown>, query: unknown): void {
  const pairs = StringConstructor(query).split('&');
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as string;
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = unescapeValue(eq < 0 ? pair : pair.slice(0, eq));
    // defineProperty: a pair named "__proto__" from a web server stays data.
    defineProperty(this, name, { value: eq < 0 ? '' : unescapeValue(pair.slice(eq + 1)), writable: true, enumerable: true, configurable: true });
  }
});

defineMethod(proto, 'toString', function (this: Record<string, unknown>): string {
  const keys = objectKeys(this);
  const parts: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = this[key];
    if (typeof value === 'function') continue;
    parts.push(`${encode(key)}=${encode(StringConstructor(value))}`);
  }
  return parts.join('&');
});

defineMethod(proto, 'load', function (this: Record<string, unknown>, url: unknown): boolean {
  return startRequest(this, this, 'GET', url, null);
});

function sendTo(source: Record<string, unknown>, url: unknown, target: object | null, method: 'GET' | 'POST'): boolean {
  const data = StringConstructor(source);
  if (url === undefined || url === null) return false;
  return method === 'GET' ? startRequest(source, target, 'GET', withQuery(url, data), null) : startRequest(source, target, 'POST', url, data);
}

defineMethod(proto, 'send', function (this: Record<string, unknown>, url: unknown, _target?: unknown, method?: unknown): boolean {
  return sendTo(this, url, null, methodOf(method, 'POST'));
});

defineMethod(proto, 'sendAndLoad', function (this: Record<string, unknown>, url: unknown, target: unknown, method?: unknown): boolean {
  const receiver = typeof target === 'object' && target !== null ? target : null;
  if (receiver === null) return false;
  return sendTo(this, url, receiver, methodOf(method, 'POST'));
});

defineLoaderMethods(proto, 'decode');

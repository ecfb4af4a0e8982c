/**
 * Validation of host-call arguments: everything arriving from the isolate is script data. Each
 * operation's arguments are read by the kinds of host-api/protocol.ts HOST_ARGUMENTS; a failed check
 * becomes a TypeError in the calling script (see host-bridge.ts).
 */
import type { ArgumentKind, CallResultRecord, HttpRequestRecord, RejectRecord } from '../../host-api/protocol.ts';

/** Thrown by a host call whose arguments are wrong; the script sees a TypeError with this text. */
export class BridgeArgumentError extends Error {}

/** Longest stack trace of a load() call the host reads (it only needs the first frames). */
const MAX_STACK_CHARS = 4096;
const MAX_HEADERS = 64;

export function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new BridgeArgumentError(`${what} must be a string`);
  return value;
}

export function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new BridgeArgumentError(`${what} must be a number`);
  return value;
}

export function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new BridgeArgumentError(`${what} must be an array`);
  return value;
}

/** rejectConnection's errObj / redirectConnection's target: only the fields the host knows. */
function rejectRecord(value: unknown): RejectRecord {
  const source = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const record: RejectRecord = {};
  if ('application' in source) record.application = source.application;
  if (typeof source.redirect === 'string') record.redirect = source.redirect;
  if (typeof source.description === 'string') record.description = source.description;
  return record;
}

function httpRequestRecord(value: unknown): HttpRequestRecord {
  if (typeof value !== 'object' || value === null) throw new BridgeArgumentError('request must be an object');
  const source = value as Record<string, unknown>;
  const headers = list(source.headers, 'headers').slice(0, MAX_HEADERS).map((pair) => {
    const [name, headerValue] = list(pair, 'header');
    return [text(name, 'header name'), text(headerValue, 'header value')] as [string, string];
  });
  const method = source.method;
  if (method !== 'GET' && method !== 'POST') throw new BridgeArgumentError('method must be one of GET, POST');
  return { method, url: text(source.url, 'url'), headers, body: source.body === null ? null : text(source.body, 'body'), contentType: text(source.contentType, 'contentType') };
}

/** One argument of kind `kind`; `name` is for the message. */
function readKind(kind: ArgumentKind, value: unknown, name: string): unknown {
  switch (kind) {
    case 'text':
      return text(value, name);
    case 'number':
    case 'responder':
      return count(value, name);
    case 'list':
      return list(value, name);
    case 'any':
      return value;
    case 'flag':
      return value === true;
    case 'text|null':
      return value === null ? null : text(value, name);
    case 'text|false':
      return value === false ? false : text(value, name);
    case 'text|flag':
      return typeof value === 'boolean' ? value : text(value, name);
    case 'flag|number':
      return typeof value === 'boolean' ? value : count(value, name);
    case 'number|null':
      return value === null || value === undefined ? null : count(value, name);
    case 'text|number|null':
      return value === null || typeof value === 'number' ? value : text(value, name);
    case 'direction':
      return value === 1 ? 1 : 0;
    case 'stack':
      return typeof value === 'string' ? value.slice(0, MAX_STACK_CHARS) : undefined;
    case 'reject':
      return rejectRecord(value);
    case 'httpRequest':
      return httpRequestRecord(value);
  }
}

type Spec = string | readonly [string, readonly unknown[]];
/** A spec read once: its name, and its kind or its closed set of values. */
type ParsedSpec = { name: string; kind: ArgumentKind } | { name: string; values: readonly unknown[] };

const parsed = new WeakMap<readonly Spec[], ParsedSpec[]>();

function parse(specs: readonly Spec[]): ParsedSpec[] {
  let list = parsed.get(specs);
  if (list === undefined) {
    list = specs.map((spec) => {
      if (typeof spec !== 'string') return { name: spec[0], values: spec[1] };
      const colon = spec.lastIndexOf(':');
      return { name: spec.slice(0, colon), kind: spec.slice(colon + 1) as ArgumentKind };
    });
    parsed.set(specs, list);
  }
  return list;
}

/**
 * The arguments of one host call, checked against its specs (protocol.ts HOST_ARGUMENTS), one value
 * per spec. Responder ids become callbacks: `respond(id)` for an id > 0, undefined for 0.
 */
export function readArguments(specs: readonly Spec[], args: readonly unknown[], respond: (responderId: number) => (result: CallResultRecord) => void): unknown[] {
  const list = parse(specs);
  const values: unknown[] = [];
  for (let i = 0; i < list.length; i++) {
    const spec = list[i]!;
    const value = args[i];
    if ('values' in spec) {
      if (!spec.values.includes(value)) throw new BridgeArgumentError(`${spec.name} must be one of ${spec.values.join(', ')}`);
      values.push(value);
      continue;
    }
    const read = readKind(spec.kind, value, spec.name);
    values.push(spec.kind === 'responder' ? ((read as number) > 0 ? respond(read as number) : undefined) : read);
  }
  return values;
}

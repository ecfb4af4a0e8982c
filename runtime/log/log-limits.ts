import { stripCredentials } from './strip-credentials.ts';

/**
 * Every record the logger writes is bounded: the message at `maxMessageChars`, every string field
 * (nested ones too) at `maxFieldChars`, objects and arrays at a few levels and entries. What is cut
 * ends with TRUNCATION_MARKER and the number of characters dropped, so a reader knows it is not
 * the whole text. Credentials are stripped from what is kept; the work is linear in the kept length,
 * never in the length a client or script chose.
 */
export interface LogLimits {
  maxMessageChars: number;
  maxFieldChars: number;
}

export const TRUNCATION_MARKER = '…[truncated ';

/** Nested objects deeper than this are logged as "[Object]"; more entries than this are dropped. */
const MAX_DEPTH = 4;
const MAX_ENTRIES = 50;

/** Where to cut `text` at `max` characters: never between the halves of a surrogate pair. */
function cutIndex(text: string, max: number): number {
  const last = text.charCodeAt(max - 1);
  return last >= 0xd800 && last <= 0xdbff ? max - 1 : max;
}

function marker(dropped: number): string {
  return `${TRUNCATION_MARKER}${dropped} chars]`;
}

const MARKER_TAIL = /^…\[truncated \d{1,16} chars\]$/;

/** A prefix the host may put before text cut in the isolate ("Error: ", "uncaught exception: "). */
const MAX_PREFIX_CHARS = 64;

/**
 * Where the marker of an earlier cut at the same length starts, or -1. Text cut where it left the
 * isolate arrives here already cut (perhaps behind a short prefix): cutting it again would replace
 * the true count with a count of the marker's own characters.
 */
function earlierCut(text: string, max: number): number {
  if (text.length > max + MAX_PREFIX_CHARS + 40) return -1;
  const at = text.indexOf(TRUNCATION_MARKER, max - 1);
  return at >= 0 && at <= max + MAX_PREFIX_CHARS && MARKER_TAIL.test(text.slice(at)) ? at : -1;
}

/** `text` cut to `max` characters plus the marker. */
export function cutText(text: string, max: number): string {
  if (text.length <= max || earlierCut(text, max) >= 0) return text;
  const end = cutIndex(text, max);
  return text.slice(0, end) + marker(text.length - end);
}

/** Cut first (so stripping costs the kept length only), then strip credentials from what is kept. */
export function boundText(text: string, max: number): string {
  if (text.length <= max) return stripCredentials(text);
  const earlier = earlierCut(text, max);
  if (earlier >= 0) return stripCredentials(text.slice(0, earlier), true) + text.slice(earlier);
  const end = cutIndex(text, max);
  return stripCredentials(text.slice(0, end), true) + marker(text.length - end);
}

/** A copy of a log record's fields with every string bounded; plain values pass through untouched. */
export function boundFields(fields: Record<string, unknown>, maxFieldChars: number): Record<string, unknown> {
  let copy: Record<string, unknown> | null = null;
  for (const key in fields) {
    const value = fields[key];
    if (typeof value !== 'string' && (typeof value !== 'object' || value === null)) continue; // numbers, booleans: as they are
    const bounded = boundValue(value, maxFieldChars, MAX_DEPTH);
    if (bounded === value) continue;
    copy ??= { ...fields };
    copy[key] = bounded;
  }
  return copy ?? fields;
}

function boundValue(value: unknown, max: number, depth: number): unknown {
  if (typeof value === 'string') {
    const bounded = boundText(value, max);
    return bounded === value ? value : bounded;
  }
  if (typeof value !== 'object' || value === null) return value;
  if (depth === 0) return Array.isArray(value) ? '[Array]' : '[Object]';
  if (value instanceof Error) return boundError(value, max, depth);
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ENTRIES).map((item) => boundValue(item, max, depth - 1));
    if (value.length > MAX_ENTRIES) items.push(`${TRUNCATION_MARKER}${value.length - MAX_ENTRIES} items]`);
    return items;
  }
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (count++ === MAX_ENTRIES) {
      out['…'] = `${TRUNCATION_MARKER}more keys]`;
      break;
    }
    out[cutText(key, max)] = boundValue((value as Record<string, unknown>)[key], max, depth - 1);
  }
  return out;
}

/** pino's err serializer shape (type, message, stack, code), bounded; causes one level down. */
function boundError(error: Error, max: number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: error.name, message: boundText(String(error.message), max) };
  if (typeof error.stack === 'string') out['stack'] = boundText(error.stack, max);
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out['code'] = boundValue(code, max, 0);
  if (error.cause !== undefined && depth > 1) out['cause'] = boundValue(error.cause, max, depth - 1);
  return out;
}

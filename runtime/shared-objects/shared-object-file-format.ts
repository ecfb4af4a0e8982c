/**
 * The on-disk format of a persistent shared object, and nothing else.
 *
 * JSON, so an operator can read and fix a file, one slot per line:
 *   {"format":"fms-runtime.shared-object","formatVersion":1,"name":"chat","version":12,"slots":[
 *   ["topic","hello"],
 *   ["since",{"$t":"date","v":1700000000000}]
 *   ]}
 * Strings, booleans, null, finite numbers and arrays are themselves; everything JSON lacks is an
 * object tagged with "$t": undef, num (NaN, ±Infinity, -0), date, xml, bytes (base64), map,
 * vector, array (with named properties), object (class alias, ECMA array, or a "$t" key of its
 * own). Cycles and nesting beyond MAX_FILE_DEPTH are written as null.
 *
 * The file is written from pieces (shared-object-files.ts): the header, then each slot's
 * `["name",value]` text encoded once when the slot changed (encodeSlot), one per line, then the
 * footer — without ever re-encoding every slot (or building one string of the whole SO) to save a
 * change. It is read back a line at a time (decodeSoFileInSlices), keeping each line as that slot's
 * stored form, so loading a large SO neither re-encodes it nor parses it in one piece. Files written
 * on one line (before this layout) are still read, in one piece.
 */
import {
  AmfVector,
  AmfXml,
  ecmaArray,
  encodableEntries,
  getClassName,
  isEcmaArray,
  setProperty,
  typedObject,
  unbox,
  type AmfVectorKind,
} from '../rtmp/amf-values.ts';

const FILE_FORMAT = 'fms-runtime.shared-object';
const MAX_FILE_DEPTH = 256;
const VECTOR_KINDS: readonly AmfVectorKind[] = ['int', 'uint', 'double', 'object'];

/** Upper bound of header + footer: the name is at most 1,024 UTF-8 bytes (shared-object-names.ts), 6 bytes per char escaped. */
export const MAX_FILE_FRAME_BYTES = 8 * 1024;

const HEADER_END = '"slots":[';
const FOOTER = '\n]}';

/** Everything before the first slot; the slots follow, SO_FILE_SEPARATOR between them, then SO_FILE_FOOTER. */
export function soFileHeader(name: string, version: number): Buffer {
  return Buffer.from(`{"format":${JSON.stringify(FILE_FORMAT)},"formatVersion":1,"name":${JSON.stringify(name)},"version":${version},${HEADER_END}\n`, 'utf8');
}

export const SO_FILE_FOOTER = Buffer.from(FOOTER, 'utf8');
/** Between two slots: one slot per line. */
export const SO_FILE_SEPARATOR = Buffer.from(',\n', 'utf8');

export interface DecodedSoFile {
  version: number;
  /** Slot name, value, and its stored form when the file had one slot per line. */
  slots: Array<[slot: string, value: unknown, stored: Buffer | null]>;
}

/** Bytes parsed between two pauses while a file is read back (one slot is never split). */
const SLICE_CHARS = 256 * 1024;

/**
 * Reads a file back a line (one slot) at a time, awaiting `pause()` every SLICE_CHARS so that other
 * work runs in between; each line's bytes are kept (copied) as the slot's stored form. A file on
 * one line is parsed whole. Rejects (any error) when the bytes are not a complete file of this format.
 */
export async function decodeSoFileInSlices(bytes: Buffer, pause: () => Promise<void>): Promise<DecodedSoFile> {
  const firstBreak = bytes.indexOf(0x0a);
  const header = firstBreak < 0 ? '' : bytes.toString('utf8', 0, firstBreak);
  if (!header.endsWith(HEADER_END) || !bytes.subarray(bytes.length - FOOTER.length).equals(SO_FILE_FOOTER)) {
    const whole = decodeSoFile(bytes.toString('utf8'));
    return { version: whole.version, slots: whole.slots.map(([slot, value]) => [slot, value, null]) };
  }
  const { version } = decodeSoFile(`${header}]}`);
  const slots: DecodedSoFile['slots'] = [];
  const end = bytes.length - FOOTER.length;
  let sincePause = 0;
  for (let start = firstBreak + 1; start < end; ) {
    let next = bytes.indexOf(0x0a, start);
    if (next < 0 || next > end) next = end;
    const stop = bytes[next - 1] === 0x2c ? next - 1 : next; // the separator's comma
    const line = bytes.subarray(start, stop);
    start = next + 1;
    if (line.length === 0) continue;
    const entry = JSON.parse(line.toString('utf8')) as unknown;
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') throw new Error('bad slot entry');
    slots.push([entry[0], fromJson(entry[1], 0), Buffer.from(line)]);
    sincePause += line.length;
    if (sincePause >= SLICE_CHARS) {
      sincePause = 0;
      await pause();
    }
  }
  return { version, slots };
}

/** Thrown inside toJson once the value certainly encodes to more than the budget allows. */
const OVER_BUDGET = Symbol('over budget');

/**
 * The stored form of one slot, `["name",value]` as UTF-8, or null when it would take more than
 * `maxBytes`. The walk counts a lower bound of the output as it goes (every UTF-16 unit is at
 * least one byte) and gives up before stringifying anything that cannot fit, so a huge value costs
 * one bounded walk, never a string the size of its escaped form.
 */
export function encodeSlot(slot: string, value: unknown, maxBytes: number): Buffer | null {
  const walked = walkSlot(slot, value, maxBytes);
  if (walked === null) return null;
  const bytes = Buffer.from(JSON.stringify([slot, walked.json]), 'utf8');
  return bytes.length <= maxBytes ? bytes : null;
}

/**
 * A lower bound of the slot's stored size (about its size in memory: one byte per character,
 * escapes not counted), without stringifying; null when even that is over `maxBytes`.
 */
export function measureSlot(slot: string, value: unknown, maxBytes: number): number | null {
  return walkSlot(slot, value, maxBytes)?.bytes ?? null;
}

function walkSlot(slot: string, value: unknown, maxBytes: number): { json: unknown; bytes: number } | null {
  const budget = { left: maxBytes - slot.length - 6 };
  if (budget.left < 0) return null;
  try {
    const json = toJson(value, 0, new Set(), budget);
    return { json, bytes: maxBytes - budget.left };
  } catch (error) {
    if (error === OVER_BUDGET) return null;
    throw error;
  }
}

/** Throws (any error) when the text is not a complete file of this format. */
export function decodeSoFile(text: string): { version: number; slots: Array<[string, unknown]> } {
  const file = JSON.parse(text) as Record<string, unknown>;
  if (file === null || typeof file !== 'object' || file['format'] !== FILE_FORMAT || file['formatVersion'] !== 1) {
    throw new Error('not a shared object file');
  }
  const version = file['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) throw new Error('bad version');
  if (!Array.isArray(file['slots'])) throw new Error('bad slots');
  const slots = (file['slots'] as unknown[]).map((entry): [string, unknown] => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') throw new Error('bad slot entry');
    return [entry[0], fromJson(entry[1], 0)];
  });
  return { version, slots };
}

function tag(t: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { $t: t, ...fields };
}

/** Charges a lower bound of what is about to be written; throws OVER_BUDGET when it does not fit. */
function charge(budget: { left: number }, bytes: number): void {
  budget.left -= bytes;
  if (budget.left < 0) throw OVER_BUDGET;
}

function toJson(value: unknown, depth: number, ancestors: Set<object>, budget: { left: number }): unknown {
  if (typeof value !== 'object') charge(budget, typeof value === 'string' ? value.length + 2 : 1);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : tag('num', { v: Object.is(value, -0) ? '-0' : String(value) });
    case 'undefined':
      return tag('undef', {});
    case 'object':
      break;
    default:
      return null; // bigint, function, symbol: not AMF values
  }
  if (value === null || depth > MAX_FILE_DEPTH || ancestors.has(value)) return null;
  const plain = unbox(value);
  if (plain !== value) return toJson(plain, depth, ancestors, budget);
  charge(budget, 2);
  if (value instanceof Date) return tag('date', { v: Number.isNaN(value.getTime()) ? null : value.getTime() });
  if (value instanceof AmfXml) {
    charge(budget, value.xml.length);
    return tag('xml', { kind: value.kind, v: value.xml });
  }
  if (value instanceof Uint8Array) {
    charge(budget, Math.ceil(value.byteLength / 3) * 4);
    return tag('bytes', { v: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') });
  }
  ancestors.add(value);
  try {
    const child = (v: unknown) => toJson(v, depth + 1, ancestors, budget);
    if (value instanceof Map) return tag('map', { v: [...value].map(([k, v]) => [child(k), child(v)]) });
    if (value instanceof AmfVector) {
      return tag('vector', { kind: value.kind, fixed: value.fixed, typeName: value.typeName ?? null, v: value.items.map(child) });
    }
    if (Array.isArray(value)) {
      const items = Array.from(value, child);
      const named = encodableEntries(value, true);
      return named.length > 0 ? tag('array', { v: items, props: propsToJson(named, child, budget) }) : items;
    }
    const props = propsToJson(encodableEntries(value), child, budget);
    const className = getClassName(value);
    const ecma = isEcmaArray(value);
    if (className !== undefined || ecma || Object.hasOwn(value, '$t')) {
      return tag('object', { v: props, ...(className !== undefined ? { class: className } : {}), ...(ecma ? { ecma: true } : {}) });
    }
    return props;
  } finally {
    ancestors.delete(value);
  }
}

/** A prototype-less record, so a "__proto__" key stays an ordinary key in the JSON. */
function propsToJson(entries: Array<[string, unknown]>, child: (v: unknown) => unknown, budget: { left: number }): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, v] of entries) {
    charge(budget, key.length + 3);
    out[key] = child(v);
  }
  return out;
}

function fromJson(json: unknown, depth: number): unknown {
  if (json === null || typeof json === 'string' || typeof json === 'number' || typeof json === 'boolean') return json;
  if (depth > MAX_FILE_DEPTH) throw new Error('nesting too deep');
  const child = (v: unknown) => fromJson(v, depth + 1);
  if (Array.isArray(json)) return json.map(child);
  if (typeof json !== 'object') throw new Error('bad value');
  const obj = json as Record<string, unknown>;
  if (!Object.hasOwn(obj, '$t')) return propsFromJson(obj, child);
  const v = obj['v'];
  switch (obj['$t']) {
    case 'undef':
      return undefined;
    case 'num':
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity' || v === '-0') return Number(v);
      throw new Error('bad number tag');
    case 'date':
      if (v !== null && typeof v !== 'number') throw new Error('bad date tag');
      return new Date(v ?? Number.NaN);
    case 'xml':
      if (typeof v !== 'string' || (obj['kind'] !== 'xml' && obj['kind'] !== 'xmldoc')) throw new Error('bad xml tag');
      return new AmfXml(v, obj['kind']);
    case 'bytes':
      if (typeof v !== 'string') throw new Error('bad bytes tag');
      return Buffer.from(v, 'base64');
    case 'map':
      if (!Array.isArray(v)) throw new Error('bad map tag');
      return new Map(v.map((pair): [unknown, unknown] => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new Error('bad map entry');
        return [child(pair[0]), child(pair[1])];
      }));
    case 'vector': {
      const kind = obj['kind'] as AmfVectorKind;
      if (!VECTOR_KINDS.includes(kind) || !Array.isArray(v)) throw new Error('bad vector tag');
      const typeName = typeof obj['typeName'] === 'string' ? obj['typeName'] : undefined;
      return new AmfVector(kind, v.map(child), obj['fixed'] === true, typeName);
    }
    case 'array': {
      if (!Array.isArray(v) || !isRecord(obj['props'])) throw new Error('bad array tag');
      const arr = v.map(child);
      for (const [key, value] of Object.entries(obj['props'])) setProperty(arr, key, child(value));
      return arr;
    }
    case 'object': {
      if (!isRecord(v)) throw new Error('bad object tag');
      const out = propsFromJson(v, child);
      if (typeof obj['class'] === 'string') typedObject(obj['class'], out);
      if (obj['ecma'] === true) ecmaArray(out);
      return out;
    }
    default:
      throw new Error(`unknown tag ${String(obj['$t'])}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function propsFromJson(obj: Record<string, unknown>, child: (v: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) setProperty(out, key, child(value));
  return out;
}

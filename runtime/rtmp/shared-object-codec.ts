/**
 * Remote shared-object messages (RTMP types 19 = AMF0 and 16 = "AMF3"). Adobe never published the
 * layout; this follows the reverse-engineered descriptions (rtmpy wiki "SharedObjectMessages",
 * csimi/rtmp-client SharedObject.md) cross-checked with Red5's codec:
 *
 *   [type 16 only: one format byte, 0x00]
 *   name      u16 length + UTF-8 (an AMF0 string without its marker)
 *   version   u32
 *   flags     u32 (2 = persistent, 0 = temporary) + u32 reserved (0)
 *   events*   type u8, data length u32, data
 *
 *   Use 1, Release 2, Clear 8, UseSuccess 11 ........ no data
 *   RequestChange 3, Change 4 ........................ slot (u16 string) + one AMF value
 *   Success 5, Remove 9, RequestRemove 10 ............ slot (u16 string)
 *   SendMessage 6 .................................... handler as an AMF0 *string value* (0x02
 *                                                      marker included), then the arguments
 *   Status 7 ......................................... code (u16 string) + level (u16 string)
 *
 * Type 16 is the type-19 body behind a 0x00 byte, exactly like command type 17 is type 20 behind
 * one: values stay AMF0 and complex ones switch to AMF3 through the 0x11 (avmplus) marker. So we
 * encode with `objectEncoding: 3` for type 16; the AMF0 reader accepts 0x11 in either type.
 *
 * Decoding choices (documented so tests and the lead can rely on them):
 * - Each event's data is decoded on its own (AMF reference tables do not cross events); we also
 *   encode each event with fresh tables, so what we send never needs cross-event references.
 * - A Change/RequestChange event carrying several slot/value pairs becomes several events; a slot
 *   with no value after it decodes as `undefined`.
 * - Event types we do not know (FMS 3.5+ also sends 12, 13, 14) are kept raw as `unknown`.
 * - Trailing bytes inside a fixed-shape event (Use, Status, Remove, ...) are ignored; framing
 *   (lengths that run past the message, a truncated header) is always an error.
 * Every failure is a ProtocolError (AMF_INVALID); lengths are checked before anything is
 * allocated, and a message may hold at most MAX_SO_EVENTS_PER_MESSAGE events.
 */
import { ByteReader, ByteWriter, asAmfError } from './amf-io.ts';
import { Amf0Reader, encodeAmf0Value } from './amf0.ts';
import { AmfError } from './amf-values.ts';

export const SoEventType = {
  Use: 1,
  Release: 2,
  RequestChange: 3,
  Change: 4,
  Success: 5,
  SendMessage: 6,
  Status: 7,
  Clear: 8,
  Remove: 9,
  RequestRemove: 10,
  UseSuccess: 11,
} as const;

export type SoEvent =
  | { type: 'use' }
  | { type: 'release' }
  | { type: 'requestChange'; name: string; value: unknown }
  | { type: 'change'; name: string; value: unknown }
  | { type: 'success'; name: string }
  | { type: 'sendMessage'; handler: string; args: unknown[] }
  | { type: 'status'; code: string; level: string }
  | { type: 'clear' }
  | { type: 'remove'; name: string }
  | { type: 'requestRemove'; name: string }
  | { type: 'useSuccess' }
  | { type: 'unknown'; typeId: number; data: Buffer };

export interface SharedObjectMessageModel {
  name: string;
  version: number;
  persistent: boolean;
  events: SoEvent[];
}

/** Flags word value for a persistent SO (Red5 and Flash Player captures agree on 2). */
export const SO_PERSISTENT_FLAG = 2;
/** More events than this in one message is treated as hostile (each costs a JS object). */
export const MAX_SO_EVENTS_PER_MESSAGE = 65_536;

const HEADER_FIXED_BYTES = 12;
const EVENT_HEADER_BYTES = 5;

const simpleEvents: Record<number, SoEvent['type']> = {
  [SoEventType.Use]: 'use',
  [SoEventType.Release]: 'release',
  [SoEventType.Clear]: 'clear',
  [SoEventType.UseSuccess]: 'useSuccess',
};

/** Encodes one SO message body; `amf3` = RTMP type 16 (format byte, AMF3-capable values). */
export function encodeSharedObjectMessage(msg: SharedObjectMessageModel, amf3: boolean): Buffer {
  return asAmfError('shared object encode', () => encodeMessage(msg, amf3));
}

function encodeMessage(msg: SharedObjectMessageModel, amf3: boolean): Buffer {
  const w = new ByteWriter();
  if (amf3) w.u8(0);
  writeShortString(w, msg.name, 'shared object name');
  w.u32(msg.version >>> 0);
  w.u32(msg.persistent ? SO_PERSISTENT_FLAG : 0);
  w.u32(0);
  const objectEncoding = amf3 ? 3 : 0;
  for (const event of msg.events) {
    const data = new ByteWriter(64);
    const typeId = writeEventData(data, event, objectEncoding);
    w.u8(typeId);
    w.u32(data.length);
    w.bytes(data.toBuffer());
  }
  return Buffer.from(w.toBuffer());
}

function writeEventData(w: ByteWriter, event: SoEvent, objectEncoding: 0 | 3): number {
  switch (event.type) {
    case 'use':
      return SoEventType.Use;
    case 'release':
      return SoEventType.Release;
    case 'clear':
      return SoEventType.Clear;
    case 'useSuccess':
      return SoEventType.UseSuccess;
    case 'requestChange':
    case 'change':
      writeShortString(w, event.name, 'slot name');
      w.bytes(encodeAmf0Value(event.value, { objectEncoding }));
      return event.type === 'change' ? SoEventType.Change : SoEventType.RequestChange;
    case 'success':
    case 'remove':
    case 'requestRemove':
      writeShortString(w, event.name, 'slot name');
      return event.type === 'success' ? SoEventType.Success : event.type === 'remove' ? SoEventType.Remove : SoEventType.RequestRemove;
    case 'sendMessage':
      w.bytes(encodeAmf0Value(event.handler));
      for (const arg of event.args) w.bytes(encodeAmf0Value(arg, { objectEncoding }));
      return SoEventType.SendMessage;
    case 'status':
      writeShortString(w, event.code, 'status code');
      writeShortString(w, event.level, 'status level');
      return SoEventType.Status;
    case 'unknown':
      if (!Number.isInteger(event.typeId) || event.typeId < 0 || event.typeId > 0xff) {
        throw new AmfError(`shared object event type ${event.typeId} out of range`);
      }
      w.bytes(event.data);
      return event.typeId;
  }
}

function writeShortString(w: ByteWriter, s: string, what: string): void {
  const len = Buffer.byteLength(s, 'utf8');
  if (len > 0xffff) throw new AmfError(`${what} longer than 65535 bytes`);
  w.u16(len);
  w.utf8(s, len);
}

/** Decodes one SO message body (type 16 when `amf3`); throws ProtocolError on malformed input. */
export function decodeSharedObjectMessage(payload: Buffer, amf3: boolean): SharedObjectMessageModel {
  return asAmfError('shared object decode', () => decodeMessage(payload, amf3));
}

function decodeMessage(payload: Buffer, amf3: boolean): SharedObjectMessageModel {
  const r = new ByteReader(payload);
  if (amf3) {
    const format = r.u8();
    if (format !== 0) throw new AmfError(`shared object (type 16) format byte ${format}, expected 0`);
  }
  const name = r.utf8(r.u16());
  r.need(HEADER_FIXED_BYTES, 'shared object header');
  const version = r.u32();
  const flags = r.u32();
  r.u32(); // reserved
  const events: SoEvent[] = [];
  while (r.remaining > 0) {
    r.need(EVENT_HEADER_BYTES, 'shared object event header');
    const typeId = r.u8();
    const length = r.u32();
    r.need(length, `shared object event ${typeId} data`);
    const start = r.pos;
    r.pos += length;
    decodeEvent(typeId, payload.subarray(start, start + length), events);
    if (events.length > MAX_SO_EVENTS_PER_MESSAGE) {
      throw new AmfError(`more than ${MAX_SO_EVENTS_PER_MESSAGE} events in one shared object message`);
    }
  }
  return { name, version, persistent: (flags & SO_PERSISTENT_FLAG) !== 0, events };
}

function decodeEvent(typeId: number, data: Buffer, out: SoEvent[]): void {
  const simple = simpleEvents[typeId];
  if (simple) {
    out.push({ type: simple } as SoEvent);
    return;
  }
  switch (typeId) {
    case SoEventType.RequestChange:
    case SoEventType.Change:
      return decodeSlotValues(typeId === SoEventType.Change ? 'change' : 'requestChange', data, out);
    case SoEventType.Success:
    case SoEventType.Remove:
    case SoEventType.RequestRemove: {
      const name = readShortString(new ByteReader(data), 'slot name');
      const type = typeId === SoEventType.Success ? 'success' : typeId === SoEventType.Remove ? 'remove' : 'requestRemove';
      out.push({ type, name });
      return;
    }
    case SoEventType.SendMessage:
      out.push(decodeSendMessage(data));
      return;
    case SoEventType.Status: {
      const r = new ByteReader(data);
      const code = readShortString(r, 'status code');
      const level = readShortString(r, 'status level');
      out.push({ type: 'status', code, level });
      return;
    }
    default:
      // Copy: the event must not pin the whole message buffer.
      out.push({ type: 'unknown', typeId, data: Buffer.from(data) });
  }
}

function readShortString(r: ByteReader, what: string): string {
  r.need(2, what);
  return r.utf8(r.u16());
}

/** slot name + AMF value, possibly repeated (Red5 and some servers pack several per event). */
function decodeSlotValues(type: 'change' | 'requestChange', data: Buffer, out: SoEvent[]): void {
  let offset = 0;
  do {
    const r = new ByteReader(data, offset);
    const name = readShortString(r, 'slot name');
    if (r.remaining === 0) {
      out.push({ type, name, value: undefined });
      return;
    }
    const reader = new Amf0Reader(data, { offset: r.pos });
    const value = reader.readValue();
    out.push({ type, name, value });
    offset = reader.position;
    if (out.length > MAX_SO_EVENTS_PER_MESSAGE) {
      throw new AmfError(`more than ${MAX_SO_EVENTS_PER_MESSAGE} events in one shared object message`);
    }
  } while (offset < data.length);
}

function decodeSendMessage(data: Buffer): SoEvent {
  const reader = new Amf0Reader(data);
  if (reader.done) throw new AmfError('shared object send event without a handler name');
  const handler = reader.readValue();
  if (typeof handler !== 'string') throw new AmfError('shared object send event: handler name is not a string');
  const args: unknown[] = [];
  while (!reader.done) {
    args.push(reader.readValue());
    if (args.length > MAX_SO_EVENTS_PER_MESSAGE) throw new AmfError('too many arguments in a shared object send event');
  }
  return { type: 'sendMessage', handler, args };
}

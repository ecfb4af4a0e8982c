/**
 * The AMF remoting packet (Adobe AMF0 specification §4, "NetConnection and AMF 0"): what Flash
 * Remoting sends by HTTP POST (`Content-Type: application/x-amf`) and what a gateway answers.
 *
 *   packet  = version(u16) header-count(u16) header* message-count(u16) message*
 *   header  = name(u16 + UTF-8) must-understand(u8) length(u32) value
 *   message = target-uri(u16 + UTF-8) response-uri(u16 + UTF-8) length(u32) value
 *
 * Values are AMF0; an AMF3 value travels behind the 0x11 switch (version 3 only says the client
 * can read AMF3). Each header and message value is its own serialization context: its reference
 * tables start empty. The u32 lengths are hints — gateways write 0 or 0xFFFFFFFF when they do not
 * know it — so a decoder reads each value to its end instead of trusting them.
 *
 * A request message carries the call's arguments as a strict array, target-uri = the service
 * method ("service.method"), response-uri = "/1", "/2", …; the answer for "/n" comes back with
 * target-uri "/n/onResult" (the value is the result) or "/n/onStatus" (the value is the error).
 */
import { AmfError } from './amf-values.ts';
import { ByteReader, ByteWriter } from './amf-io.ts';
import { Amf0Reader, encodeAmf0Value, type AmfDecodeOptions } from './amf0.ts';

export interface AmfPacketHeader {
  name: string;
  mustUnderstand: boolean;
  value: unknown;
}

export interface AmfPacketMessage {
  targetUri: string;
  responseUri: string;
  value: unknown;
}

export interface AmfPacket {
  /** 0 (AMF0 client) or 3 (AVM+ client, AMF3 values behind 0x11). */
  version: number;
  headers: AmfPacketHeader[];
  messages: AmfPacketMessage[];
}

/** Versions in the wild: 0 (Flash 6–8), 3 (Flash 9+); 1 was written by some FlashCom-era gateways. */
const KNOWN_VERSIONS = new Set([0, 1, 3]);
const MAX_U16 = 0xffff;

function writeShortString(w: ByteWriter, text: string, what: string): void {
  const length = Buffer.byteLength(text, 'utf8');
  if (length > MAX_U16) throw new AmfError(`AMF packet ${what} longer than 65535 bytes`);
  w.u16(length);
  w.utf8(text, length);
}

/** Version 3 packets carry their non-primitive values as AMF3 (behind 0x11), as Flash Player 9+ writes them. */
export function encodeAmfPacket(packet: AmfPacket): Buffer {
  const objectEncoding = packet.version === 3 ? 3 : 0;
  if (packet.headers.length > MAX_U16 || packet.messages.length > MAX_U16) throw new AmfError('AMF packet with more than 65535 headers or messages');
  const w = new ByteWriter(512);
  w.u16(packet.version);
  w.u16(packet.headers.length);
  for (const header of packet.headers) {
    writeShortString(w, header.name, 'header name');
    w.u8(header.mustUnderstand ? 1 : 0);
    const value = encodeAmf0Value(header.value, { objectEncoding }); // one context per header
    w.u32(value.length);
    w.bytes(value);
  }
  w.u16(packet.messages.length);
  for (const message of packet.messages) {
    writeShortString(w, message.targetUri, 'target URI');
    writeShortString(w, message.responseUri, 'response URI');
    const value = encodeAmf0Value(message.value, { objectEncoding }); // one context per message
    w.u32(value.length);
    w.bytes(value);
  }
  return Buffer.from(w.toBuffer());
}

/** Decodes a whole packet; anything malformed (or trailing bytes) throws AmfError. */
export function decodeAmfPacket(buf: Buffer, options: AmfDecodeOptions = {}): AmfPacket {
  const r = new ByteReader(buf);
  const version = r.u16();
  if (!KNOWN_VERSIONS.has(version)) throw new AmfError(`not an AMF packet (version ${version})`);
  const readValue = (): unknown => {
    r.u32(); // length hint (see above)
    const reader = new Amf0Reader(buf, { ...options, offset: r.pos });
    const value = reader.readValue();
    r.pos = reader.position;
    return value;
  };
  const headers: AmfPacketHeader[] = [];
  for (let count = r.u16(); count > 0; count--) {
    const name = r.utf8(r.u16());
    const mustUnderstand = r.u8() !== 0;
    headers.push({ name, mustUnderstand, value: readValue() });
  }
  const messages: AmfPacketMessage[] = [];
  for (let count = r.u16(); count > 0; count--) {
    const targetUri = r.utf8(r.u16());
    const responseUri = r.utf8(r.u16());
    messages.push({ targetUri, responseUri, value: readValue() });
  }
  if (r.remaining !== 0) throw new AmfError(`${r.remaining} trailing bytes after the AMF packet`);
  return { version, headers, messages };
}

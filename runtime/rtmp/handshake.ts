import { createHmac, randomFillSync } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../errors.ts';

/**
 * RTMP handshake (C0 C1 C2 / S0 S1 S2), both roles, as incremental state machines: the socket may
 * hand us any split of the bytes, so each side buffers only the fixed-size packet it is waiting for.
 *
 * Two flavours exist. The "simple" handshake of the public spec echoes the peer's random packet.
 * The "complex" (digest) handshake, which Flash Player, FMLE and ffmpeg use, hides an HMAC-SHA256
 * digest at a data-dependent offset inside C1/S1; Flash Player refuses to play H.264/AAC from a
 * server that does not answer it, so a server must speak it. It is not security: the keys below are
 * public constants from the Flash Player and FMS binaries.
 */

export const RTMP_VERSION = 3;
/** RTMPE (encrypted RTMP) announces itself with version 6; we do not implement it. */
const RTMPE_VERSION = 6;
export const HANDSHAKE_PACKET_BYTES = 1536;
const DIGEST_BYTES = 32;
/** Each half of the packet (bytes 8..771 and 772..1535) holds a 4-byte offset seed + 728 candidate bytes. */
const DIGEST_SPAN = 728;

/** The 32 bytes that follow the text in both Genuine keys. */
const KEY_TAIL = Buffer.from(
  'f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae',
  'hex',
);
/** "Genuine Adobe Flash Player 001" (30 bytes) + KEY_TAIL = 62 bytes. */
export const GENUINE_FP_KEY: Buffer = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001', 'latin1'), KEY_TAIL]);
/** "Genuine Adobe Flash Media Server 001" (36 bytes) + KEY_TAIL = 68 bytes. */
export const GENUINE_FMS_KEY: Buffer = Buffer.concat([
  Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'),
  KEY_TAIL,
]);
/** Digests inside C1 are keyed with the text part only; the full key signs the S2/C2 answer. */
export const GENUINE_FP_KEY_TEXT: Buffer = GENUINE_FP_KEY.subarray(0, 30);
export const GENUINE_FMS_KEY_TEXT: Buffer = GENUINE_FMS_KEY.subarray(0, 36);

/** Version we announce in S1 bytes 4-7 (an FMS 3.x-style value; ffmpeg validates S1 when byte 4 >= 3). */
export const SERVER_VERSION = 0x0d0e0a0d;
/** Flash Player 9.0.124.2, the version ffmpeg and rtmpdump announce in C1 bytes 4-7. */
export const CLIENT_VERSION = 0x09007c02;

/**
 * Digest layout scheme. 0: the digest lives in the block at bytes 8..771 (its offset seed at 8..11);
 * 1: it lives in the block at 772..1535 (seed at 772..775). Clients pick one; the server mirrors it.
 */
export type DigestScheme = 0 | 1;

/** Byte offset of the 32-byte digest inside a 1536-byte packet for the given scheme. */
export function digestOffset(packet: Buffer, scheme: DigestScheme): number {
  const seedAt = scheme === 0 ? 8 : 772;
  const sum = packet[seedAt]! + packet[seedAt + 1]! + packet[seedAt + 2]! + packet[seedAt + 3]!;
  return (sum % DIGEST_SPAN) + seedAt + 4;
}

/** HMAC-SHA256 over the whole packet except the 32 digest bytes themselves. */
export function computePacketDigest(packet: Buffer, offset: number, key: Buffer): Buffer {
  return createHmac('sha256', key)
    .update(packet.subarray(0, offset))
    .update(packet.subarray(offset + DIGEST_BYTES, HANDSHAKE_PACKET_BYTES))
    .digest();
}

/** Finds a valid digest in a C1/S1 packet, trying both schemes; null when neither validates. */
export function findDigest(packet: Buffer, key: Buffer): { scheme: DigestScheme; digest: Buffer } | null {
  for (const scheme of [0, 1] as const) {
    const offset = digestOffset(packet, scheme);
    const expected = computePacketDigest(packet, offset, key);
    const digest = packet.subarray(offset, offset + DIGEST_BYTES);
    if (expected.equals(digest)) return { scheme, digest: Buffer.from(digest) };
  }
  return null;
}

/** Writes the digest into the packet (in place) for the scheme; returns a copy of the digest. */
export function imprintDigest(packet: Buffer, key: Buffer, scheme: DigestScheme): Buffer {
  const offset = digestOffset(packet, scheme);
  const digest = computePacketDigest(packet, offset, key);
  digest.copy(packet, offset);
  return digest;
}

/**
 * Builds the answer packet (S2 or C2) to a peer digest: random bytes whose last 32 bytes are
 * HMAC(key = HMAC(fullKey, peerDigest), data = packet[0..1504]).
 */
export function signedAnswer(peerDigest: Buffer, fullKey: Buffer): Buffer {
  const packet = randomFillSync(Buffer.allocUnsafe(HANDSHAKE_PACKET_BYTES));
  answerSignature(packet, peerDigest, fullKey).copy(packet, HANDSHAKE_PACKET_BYTES - DIGEST_BYTES);
  return packet;
}

/** The signature an answer packet must end with (exported so tests and callers can verify one). */
export function answerSignature(packet: Buffer, peerDigest: Buffer, fullKey: Buffer): Buffer {
  const answerKey = createHmac('sha256', fullKey).update(peerDigest).digest();
  return createHmac('sha256', answerKey)
    .update(packet.subarray(0, HANDSHAKE_PACKET_BYTES - DIGEST_BYTES))
    .digest();
}

export interface HandshakeStep {
  /** Bytes to write to the peer now. */
  send?: Buffer;
  /** The handshake is over; the next bytes are chunk-stream data. */
  done: boolean;
  /** Bytes that arrived after the handshake in the same push (e.g. a pipelined connect command). */
  rest?: Buffer;
}

export type HandshakeMode = 'simple' | 'complex';

function checkVersion(version: number, who: string): void {
  if (version === RTMP_VERSION) return;
  const what = version === RTMPE_VERSION ? 'RTMPE (encrypted RTMP) is not supported' : `unsupported RTMP version ${version}`;
  throw new ProtocolError(ErrorCode.HandshakeFailed, `${who}: ${what}`);
}

/** A fresh random 1536-byte packet with time 0 and the given version in bytes 4-7. */
function randomPacket(version: number): Buffer {
  const packet = randomFillSync(Buffer.allocUnsafe(HANDSHAKE_PACKET_BYTES));
  packet.writeUInt32BE(0, 0);
  packet.writeUInt32BE(version, 4);
  return packet;
}

/**
 * Copies bytes from data[from..] into target[filled..] up to target's end.
 * Returns how many bytes were taken.
 */
function fill(target: Buffer, filled: number, data: Buffer, from: number): number {
  const n = Math.min(target.length - filled, data.length - from);
  if (n > 0) data.copy(target, filled, from, from + n);
  return n;
}

/**
 * Server side: C0+C1 in, S0+S1+S2 out, C2 in (consumed, not checked: many clients send garbage).
 * Holds at most C0+C1 (1537 bytes); C2 is only counted.
 */
export class ServerHandshake {
  #c0c1 = Buffer.allocUnsafe(1 + HANDSHAKE_PACKET_BYTES);
  #c0c1Filled = 0;
  #c2Seen = 0;
  #done = false;
  #mode: HandshakeMode | null = null;
  #scheme: DigestScheme | null = null;

  /** 'simple' or 'complex' once C1 is in (for logs and tests). */
  get mode(): HandshakeMode | null {
    return this.#mode;
  }

  /** Digest scheme the client used, when complex. */
  get scheme(): DigestScheme | null {
    return this.#scheme;
  }

  push(data: Buffer): HandshakeStep {
    if (this.#done) return { done: true, rest: data };
    let pos = 0;
    let send: Buffer | undefined;
    if (this.#c0c1Filled < this.#c0c1.length) {
      const taken = fill(this.#c0c1, this.#c0c1Filled, data, pos);
      // Reject a bad version on the first byte, before waiting for 1536 more.
      if (this.#c0c1Filled === 0 && taken > 0) checkVersion(this.#c0c1[0]!, 'C0');
      this.#c0c1Filled += taken;
      pos += taken;
      if (this.#c0c1Filled < this.#c0c1.length) return { done: false };
      send = this.#reply(this.#c0c1.subarray(1));
    }
    const c2Taken = Math.min(HANDSHAKE_PACKET_BYTES - this.#c2Seen, data.length - pos);
    this.#c2Seen += c2Taken;
    pos += c2Taken;
    if (this.#c2Seen < HANDSHAKE_PACKET_BYTES) return send ? { send, done: false } : { done: false };
    this.#done = true;
    const step: HandshakeStep = { done: true };
    if (send) step.send = send;
    if (pos < data.length) step.rest = data.subarray(pos);
    return step;
  }

  /** S0+S1+S2 as one buffer (one write, one TCP segment train). */
  #reply(c1: Buffer): Buffer {
    const out = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_PACKET_BYTES);
    out[0] = RTMP_VERSION;
    // A zero version in C1 means the client speaks the simple handshake; anything else may carry a
    // digest. If the digest does not validate in either scheme we still answer simply: a strict
    // refusal would lock out odd but harmless clients.
    const clientDigest = c1.readUInt32BE(4) === 0 ? null : findDigest(c1, GENUINE_FP_KEY_TEXT);
    if (!clientDigest) {
      this.#mode = 'simple';
      const s1 = randomPacket(0);
      s1.copy(out, 1);
      c1.copy(out, 1 + HANDSHAKE_PACKET_BYTES); // S2 echoes C1
      return out;
    }
    this.#mode = 'complex';
    this.#scheme = clientDigest.scheme;
    const s1 = randomPacket(SERVER_VERSION);
    imprintDigest(s1, GENUINE_FMS_KEY_TEXT, clientDigest.scheme);
    s1.copy(out, 1);
    signedAnswer(clientDigest.digest, GENUINE_FMS_KEY).copy(out, 1 + HANDSHAKE_PACKET_BYTES);
    return out;
  }
}

export interface ClientHandshakeOptions {
  /** Send a digest C1 (Flash Player style). Default true: some servers refuse the simple form. */
  complex?: boolean;
}

/**
 * Client side: start() gives C0+C1; S0+S1 in → C2 out; S2 in (consumed, not checked) → done.
 * Holds at most S0+S1 (1537 bytes); S2 is only counted.
 */
export class ClientHandshake {
  readonly complex: boolean;
  #started = false;
  #s0s1 = Buffer.allocUnsafe(1 + HANDSHAKE_PACKET_BYTES);
  #s0s1Filled = 0;
  #s2Seen = 0;
  #done = false;
  #mode: HandshakeMode | null = null;

  constructor(options: ClientHandshakeOptions = {}) {
    this.complex = options.complex ?? true;
  }

  /** 'complex' when S1 carried a valid server digest and we answered it, else 'simple'. */
  get mode(): HandshakeMode | null {
    return this.#mode;
  }

  /** C0+C1. Call once, before push. */
  start(): Buffer {
    if (this.#started) throw new Error('ClientHandshake.start() called twice');
    this.#started = true;
    const out = Buffer.allocUnsafe(1 + HANDSHAKE_PACKET_BYTES);
    out[0] = RTMP_VERSION;
    const c1 = randomPacket(this.complex ? CLIENT_VERSION : 0);
    // Scheme 0 is what ffmpeg and rtmpdump send and every digest-aware server checks.
    if (this.complex) imprintDigest(c1, GENUINE_FP_KEY_TEXT, 0);
    c1.copy(out, 1);
    return out;
  }

  push(data: Buffer): HandshakeStep {
    if (this.#done) return { done: true, rest: data };
    let pos = 0;
    let send: Buffer | undefined;
    if (this.#s0s1Filled < this.#s0s1.length) {
      const taken = fill(this.#s0s1, this.#s0s1Filled, data, pos);
      if (this.#s0s1Filled === 0 && taken > 0) checkVersion(this.#s0s1[0]!, 'S0');
      this.#s0s1Filled += taken;
      pos += taken;
      if (this.#s0s1Filled < this.#s0s1.length) return { done: false };
      send = this.#answer(this.#s0s1.subarray(1));
    }
    const s2Taken = Math.min(HANDSHAKE_PACKET_BYTES - this.#s2Seen, data.length - pos);
    this.#s2Seen += s2Taken;
    pos += s2Taken;
    if (this.#s2Seen < HANDSHAKE_PACKET_BYTES) return send ? { send, done: false } : { done: false };
    this.#done = true;
    const step: HandshakeStep = { done: true };
    if (send) step.send = send;
    if (pos < data.length) step.rest = data.subarray(pos);
    return step;
  }

  /** C2: signed answer to the server digest when there is one, else an echo of S1. */
  #answer(s1: Buffer): Buffer {
    const serverDigest = this.complex && s1.readUInt32BE(4) !== 0 ? findDigest(s1, GENUINE_FMS_KEY_TEXT) : null;
    if (!serverDigest) {
      this.#mode = 'simple';
      return Buffer.from(s1);
    }
    this.#mode = 'complex';
    return signedAnswer(serverDigest.digest, GENUINE_FP_KEY);
  }
}

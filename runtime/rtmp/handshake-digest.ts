import { createHmac, randomFillSync } from 'node:crypto';
import { encipherSignature, type RtmpeType } from './rtmpe-signature.ts';

/**
 * The digest ("complex") handshake's building blocks, shared by the plain and the RTMPE handshake
 * (handshake.ts). Flash Player, FMLE and ffmpeg hide an HMAC-SHA256 digest at a data-dependent
 * offset inside C1/S1; Flash Player refuses to play H.264/AAC from a server that does not answer
 * it, so a server must speak it. It is not security: the keys below are public constants from the
 * Flash Player and FMS binaries.
 */

export const RTMP_VERSION = 3;
export const HANDSHAKE_PACKET_BYTES = 1536;
export const DIGEST_BYTES = 32;
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
/** 128.0.3.2: what rtmpdump and ffmpeg announce in an RTMPE C1 ("at least 9.0.115", as servers want). */
export const RTMPE_CLIENT_VERSION = 0x80000302;

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
 * HMAC(key = HMAC(fullKey, peerDigest), data = packet[0..1504]), enciphered for RTMPE types 8/9.
 */
export function signedAnswer(peerDigest: Buffer, fullKey: Buffer, type: RtmpeType = 6): Buffer {
  const packet = randomFillSync(Buffer.allocUnsafe(HANDSHAKE_PACKET_BYTES));
  answerSignature(packet, peerDigest, fullKey, type).copy(packet, HANDSHAKE_PACKET_BYTES - DIGEST_BYTES);
  return packet;
}

/** The signature an answer packet must end with (exported so tests and callers can verify one). */
export function answerSignature(packet: Buffer, peerDigest: Buffer, fullKey: Buffer, type: RtmpeType = 6): Buffer {
  const answerKey = createHmac('sha256', fullKey).update(peerDigest).digest();
  const signature = createHmac('sha256', answerKey)
    .update(packet.subarray(0, HANDSHAKE_PACKET_BYTES - DIGEST_BYTES))
    .digest();
  encipherSignature(signature, answerKey, type);
  return signature;
}

/** A fresh random 1536-byte packet with time 0 and the given version in bytes 4-7. */
export function randomPacket(version: number): Buffer {
  const packet = randomFillSync(Buffer.allocUnsafe(HANDSHAKE_PACKET_BYTES));
  packet.writeUInt32BE(0, 0);
  packet.writeUInt32BE(version, 4);
  return packet;
}

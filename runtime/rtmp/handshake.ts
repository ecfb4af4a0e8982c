import { ErrorCode, ProtocolError } from '../errors.ts';
import {
  CLIENT_VERSION,
  DIGEST_BYTES,
  GENUINE_FMS_KEY,
  GENUINE_FMS_KEY_TEXT,
  GENUINE_FP_KEY,
  GENUINE_FP_KEY_TEXT,
  HANDSHAKE_PACKET_BYTES,
  RTMP_VERSION,
  RTMPE_CLIENT_VERSION,
  SERVER_VERSION,
  answerSignature,
  findDigest,
  imprintDigest,
  randomPacket,
  signedAnswer,
  type DigestScheme,
} from './handshake-digest.ts';
import { dhKeyOffset, DH_KEY_BYTES, RtmpeKeyExchange, type RtmpeCipher, type RtmpeGate } from './rtmpe.ts';
import type { RtmpeType } from './rtmpe-signature.ts';

export type { RtmpeGate } from './rtmpe.ts';

/**
 * RTMP handshake (C0 C1 C2 / S0 S1 S2), both roles, as incremental state machines: the transport
 * may hand us any split of the bytes, so each side buffers only the fixed-size packet it is waiting
 * for. Three flavours: the "simple" handshake of the public spec (the peer's random packet echoed),
 * the digest ("complex") handshake (handshake-digest.ts), and RTMPE (C0 = 6, 8 or 9), the digest
 * handshake carrying Diffie-Hellman keys (rtmpe.ts) after which both directions are RC4.
 */

export interface HandshakeStep {
  /** Bytes to write to the peer now. */
  send?: Buffer;
  /** The handshake is over; the next bytes are chunk-stream data. */
  done: boolean;
  /** Bytes that arrived after the handshake in the same push (e.g. a pipelined connect command). */
  rest?: Buffer;
  /** RTMPE: the cipher for everything after the handshake (`rest` included). */
  cipher?: RtmpeCipher;
}

export type HandshakeMode = 'simple' | 'complex' | 'rtmpe';

function isRtmpeType(version: number): version is RtmpeType {
  return version === 6 || version === 8 || version === 9;
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

function finished(send: Buffer | undefined, data: Buffer, pos: number, cipher: RtmpeCipher | null): HandshakeStep {
  const step: HandshakeStep = { done: true };
  if (send) step.send = send;
  if (pos < data.length) step.rest = data.subarray(pos);
  if (cipher) step.cipher = cipher;
  return step;
}

/** What an RTMPE server still needs when C2 arrives. */
interface RtmpeServerState {
  type: RtmpeType;
  cipher: RtmpeCipher;
  /** Our S1 digest: C2 must end with the signature made from it. */
  serverDigest: Buffer;
  c2: Buffer;
}

/**
 * Server side: C0+C1 in, S0+S1+S2 out, C2 in → done. Plain and digest handshakes hold at most
 * C0+C1 (1537 bytes) and only count C2 (many clients send garbage there). RTMPE (admitted by the
 * gate, absent = refused) holds C2 too and checks its signature: a client that derived other keys
 * would only send noise, so a wrong C2 closes the connection now, with a clear reason.
 */
export class ServerHandshake {
  readonly #rtmpe: RtmpeGate | null;
  #c0c1 = Buffer.allocUnsafe(1 + HANDSHAKE_PACKET_BYTES);
  #c0c1Filled = 0;
  #c2Seen = 0;
  #done = false;
  #mode: HandshakeMode | null = null;
  #scheme: DigestScheme | null = null;
  #encrypted: RtmpeServerState | null = null;

  constructor(rtmpe: RtmpeGate | null = null) {
    this.#rtmpe = rtmpe;
  }

  /** 'simple', 'complex' or 'rtmpe' once C1 is in (for logs and tests). */
  get mode(): HandshakeMode | null {
    return this.#mode;
  }

  /** Digest scheme the client used, when complex or RTMPE. */
  get scheme(): DigestScheme | null {
    return this.#scheme;
  }

  push(data: Buffer): HandshakeStep {
    if (this.#done) return { done: true, rest: data };
    let pos = 0;
    let send: Buffer | undefined;
    if (this.#c0c1Filled < this.#c0c1.length) {
      const taken = fill(this.#c0c1, this.#c0c1Filled, data, pos);
      // Judge the version on the first byte, before waiting for 1536 more.
      if (this.#c0c1Filled === 0 && taken > 0) this.#checkC0(this.#c0c1[0]!);
      this.#c0c1Filled += taken;
      pos += taken;
      if (this.#c0c1Filled < this.#c0c1.length) return { done: false };
      const version = this.#c0c1[0]!;
      const c1 = this.#c0c1.subarray(1);
      send = isRtmpeType(version) ? this.#replyRtmpe(version, c1) : this.#reply(c1);
    }
    const c2Taken = Math.min(HANDSHAKE_PACKET_BYTES - this.#c2Seen, data.length - pos);
    if (this.#encrypted) fill(this.#encrypted.c2, this.#c2Seen, data, pos);
    this.#c2Seen += c2Taken;
    pos += c2Taken;
    if (this.#c2Seen < HANDSHAKE_PACKET_BYTES) return send ? { send, done: false } : { done: false };
    if (this.#encrypted) this.#checkC2(this.#encrypted);
    this.#done = true;
    return finished(send, data, pos, this.#encrypted?.cipher ?? null);
  }

  #checkC0(version: number): void {
    if (version === RTMP_VERSION) return;
    if (!isRtmpeType(version)) throw new ProtocolError(ErrorCode.HandshakeFailed, `C0: unsupported RTMP version ${version}`);
    if (!this.#rtmpe) throw new ProtocolError(ErrorCode.RtmpeRefused, 'C0: RTMPE (encrypted RTMP) is not enabled (rtmpe.enabled)');
    if (!this.#rtmpe.admit()) throw new ProtocolError(ErrorCode.RtmpeRefused, 'C0: RTMPE handshake refused: over rtmpe.maxHandshakesPerSec');
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

  /**
   * RTMPE: the client's DH key sits in the half C1's digest does not use; ours goes into S1 the
   * same way, under our digest. S0 mirrors the client's type (6, 8 or 9), which decides whether the
   * S2/C2 signatures are enciphered (rtmpe-signature.ts).
   */
  #replyRtmpe(type: RtmpeType, c1: Buffer): Buffer {
    const clientDigest = findDigest(c1, GENUINE_FP_KEY_TEXT);
    if (!clientDigest) throw new ProtocolError(ErrorCode.RtmpeInvalid, 'RTMPE: C1 carries no valid digest');
    this.#mode = 'rtmpe';
    const scheme = clientDigest.scheme;
    this.#scheme = scheme;
    const clientKeyAt = dhKeyOffset(c1, scheme);
    const exchange = new RtmpeKeyExchange();
    const cipher = exchange.cipherFor(c1.subarray(clientKeyAt, clientKeyAt + DH_KEY_BYTES));
    const s1 = randomPacket(SERVER_VERSION);
    exchange.publicKey.copy(s1, dhKeyOffset(s1, scheme));
    const serverDigest = imprintDigest(s1, GENUINE_FMS_KEY_TEXT, scheme);
    this.#encrypted = { type, cipher, serverDigest, c2: Buffer.allocUnsafe(HANDSHAKE_PACKET_BYTES) };
    return Buffer.concat([Buffer.from([type]), s1, signedAnswer(clientDigest.digest, GENUINE_FMS_KEY, type)]);
  }

  #checkC2(state: RtmpeServerState): void {
    const expected = answerSignature(state.c2, state.serverDigest, GENUINE_FP_KEY, state.type);
    if (!expected.equals(state.c2.subarray(HANDSHAKE_PACKET_BYTES - DIGEST_BYTES))) {
      throw new ProtocolError(ErrorCode.RtmpeInvalid, 'RTMPE: C2 signature does not match');
    }
  }
}

export interface ClientHandshakeOptions {
  /** Send a digest C1 (Flash Player style). Default true: some servers refuse the simple form. */
  complex?: boolean;
  /** RTMPE: C0 = this type (6 is what rtmpdump and ffmpeg send), DH keys, RC4 afterwards. */
  rtmpe?: RtmpeType;
}

/**
 * Client side: start() gives C0+C1; S0+S1 in → C2 out; S2 in (consumed, not checked) → done.
 * Holds at most S0+S1 (1537 bytes); S2 is only counted.
 */
export class ClientHandshake {
  readonly complex: boolean;
  readonly #rtmpeType: RtmpeType | null;
  #exchange: RtmpeKeyExchange | null = null;
  #cipher: RtmpeCipher | null = null;
  #started = false;
  #s0s1 = Buffer.allocUnsafe(1 + HANDSHAKE_PACKET_BYTES);
  #s0s1Filled = 0;
  #s2Seen = 0;
  #done = false;
  #mode: HandshakeMode | null = null;

  constructor(options: ClientHandshakeOptions = {}) {
    this.#rtmpeType = options.rtmpe ?? null;
    this.complex = this.#rtmpeType !== null || (options.complex ?? true);
  }

  /** 'complex' when S1 carried a valid server digest and we answered it, 'rtmpe', else 'simple'. */
  get mode(): HandshakeMode | null {
    return this.#mode;
  }

  /** C0+C1. Call once, before push. */
  start(): Buffer {
    if (this.#started) throw new Error('ClientHandshake.start() called twice');
    this.#started = true;
    const out = Buffer.allocUnsafe(1 + HANDSHAKE_PACKET_BYTES);
    if (this.#rtmpeType !== null) {
      out[0] = this.#rtmpeType;
      const c1 = randomPacket(RTMPE_CLIENT_VERSION);
      // Scheme 1 with the key in the first half, as rtmpdump and ffmpeg send RTMPE.
      this.#exchange = new RtmpeKeyExchange();
      this.#exchange.publicKey.copy(c1, dhKeyOffset(c1, 1));
      imprintDigest(c1, GENUINE_FP_KEY_TEXT, 1);
      c1.copy(out, 1);
      return out;
    }
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
      if (this.#s0s1Filled === 0 && taken > 0) this.#checkS0(this.#s0s1[0]!);
      this.#s0s1Filled += taken;
      pos += taken;
      if (this.#s0s1Filled < this.#s0s1.length) return { done: false };
      const s1 = this.#s0s1.subarray(1);
      send = this.#exchange ? this.#answerRtmpe(this.#s0s1[0] as RtmpeType, s1, this.#exchange) : this.#answer(s1);
    }
    const s2Taken = Math.min(HANDSHAKE_PACKET_BYTES - this.#s2Seen, data.length - pos);
    this.#s2Seen += s2Taken;
    pos += s2Taken;
    if (this.#s2Seen < HANDSHAKE_PACKET_BYTES) return send ? { send, done: false } : { done: false };
    this.#done = true;
    return finished(send, data, pos, this.#cipher);
  }

  #checkS0(version: number): void {
    if (this.#rtmpeType === null) {
      if (version !== RTMP_VERSION) throw new ProtocolError(ErrorCode.HandshakeFailed, `S0: unsupported RTMP version ${version}`);
    } else if (!isRtmpeType(version)) {
      // A server may answer another RTMPE type than we asked for (FMS answers 8 or 9 to 6); any RTMPE type will do.
      throw new ProtocolError(ErrorCode.RtmpeRefused, `S0: the server does not speak RTMPE (answered version ${version})`);
    }
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

  #answerRtmpe(type: RtmpeType, s1: Buffer, exchange: RtmpeKeyExchange): Buffer {
    const serverDigest = findDigest(s1, GENUINE_FMS_KEY_TEXT);
    if (!serverDigest) throw new ProtocolError(ErrorCode.RtmpeInvalid, 'RTMPE: S1 carries no valid digest');
    this.#mode = 'rtmpe';
    const keyAt = dhKeyOffset(s1, serverDigest.scheme);
    this.#cipher = exchange.cipherFor(s1.subarray(keyAt, keyAt + DH_KEY_BYTES));
    return signedAnswer(serverDigest.digest, GENUINE_FP_KEY, type);
  }
}

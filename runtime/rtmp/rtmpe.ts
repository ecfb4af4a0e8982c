import { createDiffieHellman, createHmac, getDiffieHellman, randomFillSync, type DiffieHellman } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../errors.ts';
import { Rc4 } from './rc4.ts';

/**
 * RTMPE ("encrypted RTMP", Flash Player 9.0.115+): the digest handshake carries a Diffie-Hellman
 * public key (1024-bit MODP group 2 of RFC 2409, generator 2) in C1 and S1; both sides derive two
 * RC4 keys from the shared secret and encrypt everything after the handshake. Learned from the
 * rtmpdump (librtmp) and ffmpeg client/server sources; written here.
 *
 * RTMPE is obfuscation, not security: nothing authenticates the server, so anyone in the middle
 * can run the exchange with both sides, and RC4 is broken. Use RTMPS for confidentiality.
 */

export const DH_KEY_BYTES = 128;
/** The keystreams are advanced past the length of one handshake packet before first use. */
const KEYSTREAM_SKIP_BYTES = 1536;
const RC4_KEY_BYTES = 16;

/**
 * Byte offset of the 128-byte DH public key in a C1/S1 packet whose digest uses `scheme`
 * (handshake.ts): the key lives in the other half. Scheme 0 (digest in bytes 8..771): key in
 * 772..1531, seeded by bytes 1532..1535. Scheme 1 (digest in 772..1535): key in 8..767, seeded by
 * bytes 768..771.
 */
export function dhKeyOffset(packet: Buffer, scheme: 0 | 1): number {
  const seedAt = scheme === 0 ? 1532 : 768;
  const sum = packet[seedAt]! + packet[seedAt + 1]! + packet[seedAt + 2]! + packet[seedAt + 3]!;
  return (sum % 632) + (scheme === 0 ? 772 : 8);
}

/** The two directions of an RTMPE stream, keystreams already advanced past the handshake. */
export interface RtmpeCipher {
  /** Decrypts what the peer sends. */
  incoming: Rc4;
  /** Encrypts what we send. */
  outgoing: Rc4;
}

let group: DiffieHellman | null = null;
const GENERATOR_TWO = Buffer.alloc(DH_KEY_BYTES);
GENERATOR_TWO[DH_KEY_BYTES - 1] = 2;

/**
 * One DH object for the process, a fresh private key per handshake. Creating a DiffieHellman (or
 * generating keys on a group) costs ~40 ms because OpenSSL 3 validates the prime each time; with
 * the prime validated once, a handshake costs two modular exponentiations (~0.5 ms): the public
 * key is 2^x mod p, which computeSecret(2) gives. JavaScript is single-threaded and both calls are
 * synchronous, so sharing the object between handshakes is safe.
 */
function dhGroup(): DiffieHellman {
  group ??= createDiffieHellman(getDiffieHellman('modp2').getPrime(), 2);
  return group;
}

/** One side of the key exchange. */
export class RtmpeKeyExchange {
  readonly #privateKey = randomFillSync(Buffer.alloc(DH_KEY_BYTES));
  /** Our public key, 128 bytes big-endian (left-padded, as the packets carry it). */
  readonly publicKey: Buffer;

  constructor() {
    const dh = dhGroup();
    dh.setPrivateKey(this.#privateKey);
    this.publicKey = dh.computeSecret(GENERATOR_TWO);
  }

  /**
   * The RC4 pair for a peer public key. A key outside [2, p-2] (0, 1, p-1 or beyond the prime make
   * the secret guessable) is a ProtocolError that closes the connection. The outgoing key is
   * HMAC-SHA256(secret, peer's public key), the incoming one HMAC-SHA256(secret, ours), first 16
   * bytes each, so both ends agree.
   */
  cipherFor(peerPublicKey: Buffer): RtmpeCipher {
    const dh = dhGroup();
    dh.setPrivateKey(this.#privateKey);
    let secret: Buffer;
    try {
      secret = dh.computeSecret(peerPublicKey);
    } catch (error) {
      throw new ProtocolError(ErrorCode.RtmpeInvalid, `RTMPE: invalid DH public key (${(error as Error).message})`, { cause: error });
    }
    const key = (publicKey: Buffer) => createHmac('sha256', secret).update(publicKey).digest().subarray(0, RC4_KEY_BYTES);
    const incoming = new Rc4(key(this.publicKey));
    const outgoing = new Rc4(key(peerPublicKey));
    incoming.skip(KEYSTREAM_SKIP_BYTES);
    outgoing.skip(KEYSTREAM_SKIP_BYTES);
    return { incoming, outgoing };
  }
}

/**
 * The rate budget of RTMPE handshakes (rtmpe.maxHandshakesPerSec): each costs two 1024-bit
 * exponentiations, so a flood of them must not starve everyone else. A token bucket that refills
 * continuously; a refused handshake closes that connection only.
 */
export class RtmpeGate {
  readonly #perSecond: number;
  #tokens: number;
  #at = performance.now();

  constructor(maxHandshakesPerSec: number) {
    this.#perSecond = maxHandshakesPerSec;
    this.#tokens = maxHandshakesPerSec;
  }

  admit(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#perSecond, this.#tokens + ((now - this.#at) * this.#perSecond) / 1000);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

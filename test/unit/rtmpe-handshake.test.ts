import { strict as assert } from 'node:assert';
import { createDiffieHellman, createHmac, getDiffieHellman, randomBytes } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../../runtime/errors.ts';
import { ClientHandshake, ServerHandshake, type HandshakeStep } from '../../runtime/rtmp/handshake.ts';
import { GENUINE_FMS_KEY_TEXT, GENUINE_FP_KEY, GENUINE_FP_KEY_TEXT, HANDSHAKE_PACKET_BYTES } from '../../runtime/rtmp/handshake-digest.ts';
import { Rc4 } from '../../runtime/rtmp/rc4.ts';
import { RtmpeGate } from '../../runtime/rtmp/rtmpe.ts';

const N = HANDSHAKE_PACKET_BYTES;

// The layout as rtmpdump's handshake.h describes it, written out independently of the module:
// digest scheme 1 = GetDigestOffset2 (seed 772..775, % 728 + 776), its DH key = GetDHOffset2 (seed 768..771, % 632 + 8).
const refDigestAt = (p: Buffer) => ((p[772]! + p[773]! + p[774]! + p[775]!) % 728) + 776;
const refKeyAt = (p: Buffer) => ((p[768]! + p[769]! + p[770]! + p[771]!) % 632) + 8;
function refDigest(p: Buffer, at: number, key: Buffer): Buffer {
  return createHmac('sha256', key).update(p.subarray(0, at)).update(p.subarray(at + 32)).digest();
}

/** A C0+C1 built the way rtmpdump builds an RTMPE one, with a DH key of our choosing. */
function referenceC0C1(publicKey: Buffer, type = 6): Buffer {
  const c1 = randomBytes(N);
  c1.writeUInt32BE(0x80000302, 4);
  publicKey.copy(c1, refKeyAt(c1));
  const at = refDigestAt(c1);
  refDigest(c1, at, GENUINE_FP_KEY_TEXT).copy(c1, at);
  return Buffer.concat([Buffer.from([type]), c1]);
}

const prime = getDiffieHellman('modp2').getPrime();
const gate = () => new RtmpeGate(1000);
const isCode = (code: string) => (e: unknown) => e instanceof ProtocolError && e.code === code;

function roundTrip(client: ClientHandshake, server: ServerHandshake): { c: HandshakeStep; s: HandshakeStep } {
  const fromServer = server.push(client.start());
  const c = client.push(fromServer.send!);
  assert.equal(c.done, true);
  const s = server.push(c.send!);
  assert.equal(s.done, true);
  return { c, s };
}

/** Both directions decrypt what the other side encrypted. */
function assertCiphersAgree(c: HandshakeStep, s: HandshakeStep): void {
  assert.ok(c.cipher && s.cipher);
  for (const [from, to] of [[c.cipher, s.cipher], [s.cipher, c.cipher]] as const) {
    const plain = randomBytes(3000);
    const wire = Buffer.alloc(plain.length);
    from.outgoing.update(plain, wire);
    const back = Buffer.alloc(plain.length);
    to.incoming.update(wire, back);
    assert.deepEqual(back, plain);
  }
}

describe('RTMPE handshake', () => {
  for (const type of [6, 8, 9] as const) {
    it(`type ${type}: our client and server agree on both RC4 streams, server mirrors the type`, () => {
      const client = new ClientHandshake({ rtmpe: type });
      const server = new ServerHandshake(gate());
      const c0c1 = client.start();
      assert.equal(c0c1[0], type);
      const reply = server.push(c0c1);
      assert.equal(reply.send![0], type);
      assert.equal(server.mode, 'rtmpe');
      const c = client.push(reply.send!);
      const s = server.push(c.send!);
      assert.equal(client.mode, 'rtmpe');
      assertCiphersAgree(c, s);
    });
  }

  it('a C1 laid out as rtmpdump does: the server finds its key and derives the keys rtmpdump would', () => {
    const peer = createDiffieHellman(prime, 2);
    peer.generateKeys();
    const peerKey = peer.getPublicKey();
    const padded = Buffer.concat([Buffer.alloc(128 - peerKey.length), peerKey]);
    const server = new ServerHandshake(gate());
    const reply = server.push(referenceC0C1(padded));
    assert.equal(server.scheme, 1);
    const s1 = reply.send!.subarray(1, 1 + N);
    // Our S1 answers in scheme 1 too: digest and key where rtmpdump looks for them.
    const at = refDigestAt(s1);
    assert.deepEqual(s1.subarray(at, at + 32), refDigest(s1, at, GENUINE_FMS_KEY_TEXT));
    const serverKey = s1.subarray(refKeyAt(s1), refKeyAt(s1) + 128);
    const secret = peer.computeSecret(serverKey);
    // rtmpdump's InitRC4Encryption on the client: out = HMAC(secret, server key), in = HMAC(secret, own key); 1536 bytes skipped.
    const clientOut = new Rc4(createHmac('sha256', secret).update(serverKey).digest().subarray(0, 16));
    clientOut.skip(1536);
    // C2 signed as rtmpdump signs it (HMAC keyed with HMAC(full FP key, server digest)), then the first encrypted bytes.
    const c2 = randomBytes(N);
    const answerKey = createHmac('sha256', GENUINE_FP_KEY).update(s1.subarray(at, at + 32)).digest();
    createHmac('sha256', answerKey).update(c2.subarray(0, N - 32)).digest().copy(c2, N - 32);
    const plain = Buffer.from('connect, encrypted by the client');
    const wire = Buffer.alloc(plain.length);
    clientOut.update(plain, wire);
    const done = server.push(Buffer.concat([c2, wire]));
    assert.equal(done.done, true);
    const decrypted = Buffer.alloc(done.rest!.length);
    done.cipher!.incoming.update(done.rest!, decrypted);
    assert.equal(decrypted.toString(), plain.toString());
  });

  it('byte-by-byte delivery gives the same result', () => {
    const client = new ClientHandshake({ rtmpe: 6 });
    const server = new ServerHandshake(gate());
    const feed = (hs: { push(d: Buffer): HandshakeStep }, bytes: Buffer) => {
      let last: HandshakeStep = { done: false };
      const sends: Buffer[] = [];
      for (let i = 0; i < bytes.length; i++) {
        last = hs.push(bytes.subarray(i, i + 1));
        if (last.send) sends.push(last.send);
      }
      return { last, sent: Buffer.concat(sends) };
    };
    const s1 = feed(server, client.start());
    const c2 = feed(client, s1.sent);
    const done = feed(server, c2.sent);
    assertCiphersAgree(c2.last, done.last);
  });

  for (const [name, key] of [
    ['zero', Buffer.alloc(128)],
    ['one', Buffer.concat([Buffer.alloc(127), Buffer.from([1])])],
    ['p - 1', Buffer.from((BigInt(`0x${prime.toString('hex')}`) - 1n).toString(16), 'hex')],
    ['all ones (above p)', Buffer.alloc(128, 0xff)],
  ] as const) {
    it(`an invalid DH public key (${name}) is RTMPE_INVALID`, () => {
      const server = new ServerHandshake(gate());
      assert.throws(() => server.push(referenceC0C1(key)), isCode(ErrorCode.RtmpeInvalid));
    });
  }

  it('a C1 without a valid digest is RTMPE_INVALID', () => {
    const server = new ServerHandshake(gate());
    assert.throws(() => server.push(Buffer.concat([Buffer.from([6]), randomBytes(N)])), isCode(ErrorCode.RtmpeInvalid));
  });

  it('a C2 whose signature does not match is RTMPE_INVALID', () => {
    const client = new ClientHandshake({ rtmpe: 6 });
    const server = new ServerHandshake(gate());
    server.push(client.start());
    assert.throws(() => server.push(randomBytes(N)), isCode(ErrorCode.RtmpeInvalid));
  });

  it('a C2 signed for another type (6 vs 8) is RTMPE_INVALID', () => {
    const client = new ClientHandshake({ rtmpe: 6 });
    const server = new ServerHandshake(gate());
    const c0c1 = client.start();
    c0c1[0] = 8; // the server signs and expects type-8 (XTEA) signatures; the client signs type 6
    const reply = server.push(c0c1);
    reply.send![0] = 6;
    const c = client.push(reply.send!);
    assert.throws(() => server.push(c.send!), isCode(ErrorCode.RtmpeInvalid));
  });

  it('a truncated handshake just waits (the connection handshake timeout ends it)', () => {
    const client = new ClientHandshake({ rtmpe: 6 });
    const server = new ServerHandshake(gate());
    const c0c1 = client.start();
    assert.deepEqual(server.push(c0c1.subarray(0, 700)), { done: false });
    const reply = server.push(c0c1.subarray(700));
    const c = client.push(reply.send!);
    assert.equal(server.push(c.send!.subarray(0, 1000)).done, false);
  });

  it('the gate refuses handshakes over its rate, then admits again as time passes', async () => {
    const limited = new RtmpeGate(2);
    assert.doesNotThrow(() => new ServerHandshake(limited).push(Buffer.from([6])));
    assert.doesNotThrow(() => new ServerHandshake(limited).push(Buffer.from([6])));
    assert.throws(() => new ServerHandshake(limited).push(Buffer.from([6])), isCode(ErrorCode.RtmpeRefused));
    await new Promise((r) => setTimeout(r, 600));
    assert.doesNotThrow(() => new ServerHandshake(limited).push(Buffer.from([6])));
  });

  it('a client that asked for RTMPE refuses a plain S0', () => {
    const client = new ClientHandshake({ rtmpe: 6 });
    client.start();
    assert.throws(() => client.push(Buffer.from([3])), isCode(ErrorCode.RtmpeRefused));
  });
});

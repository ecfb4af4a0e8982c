import { strict as assert } from 'node:assert';
import { createHmac, randomBytes } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../../runtime/errors.ts';
import { ClientHandshake, ServerHandshake, type HandshakeStep } from '../../runtime/rtmp/handshake.ts';
import {
  GENUINE_FMS_KEY,
  GENUINE_FMS_KEY_TEXT,
  GENUINE_FP_KEY,
  GENUINE_FP_KEY_TEXT,
  HANDSHAKE_PACKET_BYTES,
  answerSignature,
  findDigest,
  imprintDigest,
} from '../../runtime/rtmp/handshake-digest.ts';

const N = HANDSHAKE_PACKET_BYTES;

// An independent implementation of the digest rules (as ffmpeg's rtmp_validate_digest describes
// them), so the module is not only checked against itself.
function refOffset(packet: Buffer, seedAt: 8 | 772): number {
  return ((packet[seedAt]! + packet[seedAt + 1]! + packet[seedAt + 2]! + packet[seedAt + 3]!) % 728) + seedAt + 4;
}
function refDigest(packet: Buffer, offset: number, key: Buffer): Buffer {
  const h = createHmac('sha256', key);
  h.update(packet.subarray(0, offset));
  h.update(packet.subarray(offset + 32));
  return h.digest();
}
function refValid(packet: Buffer, seedAt: 8 | 772, key: Buffer): boolean {
  const off = refOffset(packet, seedAt);
  return refDigest(packet, off, key).equals(packet.subarray(off, off + 32));
}
function refAnswerValid(answer: Buffer, peerDigest: Buffer, fullKey: Buffer): boolean {
  const k = createHmac('sha256', fullKey).update(peerDigest).digest();
  const sig = createHmac('sha256', k).update(answer.subarray(0, N - 32)).digest();
  return sig.equals(answer.subarray(N - 32));
}
function refDigestAt(packet: Buffer, seedAt: 8 | 772): Buffer {
  const off = refOffset(packet, seedAt);
  return packet.subarray(off, off + 32);
}
/** A C1 like Flash Player's, built with the reference code, digest in the given block. */
function refC1(seedAt: 8 | 772): Buffer {
  const c1 = randomBytes(N);
  c1.writeUInt32BE(0, 0);
  c1.writeUInt32BE(0x0a002d02, 4); // FP 10.0.45.2
  const off = refOffset(c1, seedAt);
  refDigest(c1, off, GENUINE_FP_KEY_TEXT).copy(c1, off);
  return c1;
}

/** Feeds `data` to a handshake in pieces, collecting what it sends; stops at done. */
function feed(
  hs: { push(data: Buffer): HandshakeStep },
  data: Buffer,
  pieceSize: number,
): { sent: Buffer; done: boolean; rest: Buffer } {
  const sent: Buffer[] = [];
  let done = false;
  let rest = Buffer.alloc(0);
  for (let i = 0; i < data.length && !done; i += pieceSize) {
    const step = hs.push(data.subarray(i, i + pieceSize));
    if (step.send) sent.push(step.send);
    done = step.done;
    if (done) rest = Buffer.concat([step.rest ?? Buffer.alloc(0), data.subarray(i + pieceSize)]);
  }
  return { sent: Buffer.concat(sent), done, rest };
}

/** Runs client against server with the given piece size; returns every packet exchanged. */
function runPair(client: ClientHandshake, server: ServerHandshake, pieceSize: number) {
  const c0c1 = client.start();
  assert.equal(c0c1.length, 1 + N);
  const s = feed(server, c0c1, pieceSize);
  assert.equal(s.done, false);
  assert.equal(s.sent.length, 1 + 2 * N, 'S0+S1+S2 sent at once after C1');
  const c = feed(client, s.sent, pieceSize);
  assert.equal(c.done, true);
  assert.equal(c.sent.length, N, 'C2');
  const s2 = feed(server, c.sent, pieceSize);
  assert.equal(s2.done, true);
  assert.equal(s2.sent.length, 0);
  return { c1: c0c1.subarray(1), s1: s.sent.subarray(1, 1 + N), s2: s.sent.subarray(1 + N), c2: c.sent };
}

describe('rtmp handshake', () => {
  it('has the published Genuine keys', () => {
    assert.equal(GENUINE_FP_KEY.length, 62);
    assert.equal(GENUINE_FMS_KEY.length, 68);
    assert.equal(GENUINE_FP_KEY_TEXT.toString('latin1'), 'Genuine Adobe Flash Player 001');
    assert.equal(GENUINE_FMS_KEY_TEXT.toString('latin1'), 'Genuine Adobe Flash Media Server 001');
    assert.deepEqual(GENUINE_FP_KEY.subarray(30), GENUINE_FMS_KEY.subarray(36));
    assert.equal(GENUINE_FP_KEY.subarray(30, 34).toString('hex'), 'f0eec24a');
    assert.equal(GENUINE_FP_KEY.subarray(58).toString('hex'), 'cfeb31ae');
  });

  for (const pieceSize of [1, 7, 1000, 100_000]) {
    it(`simple handshake, pieces of ${pieceSize}`, () => {
      const server = new ServerHandshake();
      const { c1, s1, s2, c2 } = runPair(new ClientHandshake({ complex: false }), server, pieceSize);
      assert.equal(server.mode, 'simple');
      assert.equal(c1.readUInt32BE(4), 0);
      assert.equal(s1.readUInt32BE(4), 0);
      assert.deepEqual(s2, c1, 'S2 echoes C1');
      assert.deepEqual(c2, s1, 'C2 echoes S1');
    });

    it(`complex handshake, pieces of ${pieceSize}`, () => {
      const server = new ServerHandshake();
      const client = new ClientHandshake();
      const { c1, s1, s2, c2 } = runPair(client, server, pieceSize);
      assert.equal(server.mode, 'complex');
      assert.equal(client.mode, 'complex');
      assert.equal(c1.readUInt32BE(4), 0x09007c02);
      assert.ok(refValid(c1, 8, GENUINE_FP_KEY_TEXT), 'client digest valid (reference check)');
      assert.ok(refValid(s1, 8, GENUINE_FMS_KEY_TEXT), 'server digest valid in the same scheme');
      assert.ok(s1[4]! >= 3, 'ffmpeg validates S1 only when its version byte is >= 3');
      assert.ok(refAnswerValid(s2, refDigestAt(c1, 8), GENUINE_FMS_KEY), 'S2 signs the client digest');
      assert.ok(refAnswerValid(c2, refDigestAt(s1, 8), GENUINE_FP_KEY), 'C2 signs the server digest');
    });
  }

  for (const [scheme, seedAt] of [[0, 8], [1, 772]] as const) {
    it(`server validates a reference C1 digest in scheme ${scheme} and answers in the same scheme`, () => {
      const c1 = refC1(seedAt);
      const server = new ServerHandshake();
      const step = server.push(Buffer.concat([Buffer.from([3]), c1]));
      assert.equal(server.mode, 'complex');
      assert.equal(server.scheme, scheme);
      const s1 = step.send!.subarray(1, 1 + N);
      const s2 = step.send!.subarray(1 + N);
      assert.equal(s1.readUInt32BE(4), 0x0d0e0a0d);
      assert.ok(refValid(s1, seedAt, GENUINE_FMS_KEY_TEXT));
      assert.ok(refAnswerValid(s2, refDigestAt(c1, seedAt), GENUINE_FMS_KEY));
      // and the module's own client-side check agrees with the reference
      const found = findDigest(s1, GENUINE_FMS_KEY_TEXT);
      assert.equal(found?.scheme, scheme);
      assert.deepEqual(found?.digest, refDigestAt(s1, seedAt));
    });

    it(`module digests validate with the reference check and vice versa (scheme ${scheme})`, () => {
      const packet = randomBytes(N);
      const digest = imprintDigest(packet, GENUINE_FMS_KEY_TEXT, scheme);
      assert.ok(refValid(packet, seedAt, GENUINE_FMS_KEY_TEXT));
      assert.deepEqual(refDigestAt(packet, seedAt), digest);
      assert.equal(findDigest(packet, GENUINE_FP_KEY_TEXT), null, 'wrong key does not validate');
      const fromRef = refC1(seedAt);
      assert.equal(findDigest(fromRef, GENUINE_FP_KEY_TEXT)?.scheme, scheme);
      const answer = randomBytes(N);
      answerSignature(answer, digest, GENUINE_FMS_KEY).copy(answer, N - 32);
      assert.ok(refAnswerValid(answer, digest, GENUINE_FMS_KEY));
    });
  }

  it('client answers a reference complex server (scheme 1) with a valid C2', () => {
    const client = new ClientHandshake();
    client.start();
    const s1 = randomBytes(N);
    s1.writeUInt32BE(0x03050101, 4);
    const off = refOffset(s1, 772);
    refDigest(s1, off, GENUINE_FMS_KEY_TEXT).copy(s1, off);
    const step = client.push(Buffer.concat([Buffer.from([3]), s1]));
    assert.equal(step.done, false);
    assert.equal(client.mode, 'complex');
    assert.ok(refAnswerValid(step.send!, s1.subarray(off, off + 32), GENUINE_FP_KEY));
  });

  it('falls back to the simple echo when C1 has a version but no valid digest', () => {
    const c1 = randomBytes(N);
    c1.writeUInt32BE(0x09007c02, 4);
    const server = new ServerHandshake();
    const step = server.push(Buffer.concat([Buffer.from([3]), c1]));
    assert.equal(server.mode, 'simple');
    assert.equal(step.send!.readUInt32BE(1 + 4), 0, 'S1 version 0 so clients do not try to validate it');
    assert.deepEqual(step.send!.subarray(1 + N), c1);
  });

  it('client echoes S1 when the server answers simply', () => {
    const client = new ClientHandshake();
    client.start();
    const s1 = randomBytes(N);
    s1.writeUInt32BE(0, 4);
    const step = client.push(Buffer.concat([Buffer.from([3]), s1, randomBytes(N)]));
    assert.equal(step.done, true);
    assert.equal(client.mode, 'simple');
    assert.deepEqual(step.send, s1);
  });

  for (const version of [0, 4, 7, 0xff]) {
    it(`rejects C0 version ${version} on the first byte`, () => {
      const server = new ServerHandshake();
      assert.throws(
        () => server.push(Buffer.from([version])),
        (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.HandshakeFailed,
      );
    });
  }

  for (const version of [6, 8, 9]) {
    it(`refuses RTMPE (C0 version ${version}) on the first byte when it is not enabled`, () => {
      const server = new ServerHandshake();
      assert.throws(
        () => server.push(Buffer.from([version])),
        (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.RtmpeRefused,
      );
    });
  }

  it('rejects S0 version other than 3', () => {
    const client = new ClientHandshake();
    client.start();
    assert.throws(
      () => client.push(Buffer.from([6, 1, 2])),
      (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.HandshakeFailed,
    );
  });

  it('returns pipelined bytes after C2 as rest, in one push', () => {
    const client = new ClientHandshake();
    const server = new ServerHandshake();
    const c0c1 = client.start();
    const extra = Buffer.from('connect command bytes');
    // A client that does not wait for S1 before C2 (C2 content is not checked).
    const step = server.push(Buffer.concat([c0c1, randomBytes(N), extra]));
    assert.equal(step.done, true);
    assert.equal(step.send!.length, 1 + 2 * N);
    assert.deepEqual(step.rest, extra);
    const after = server.push(Buffer.from([1, 2]));
    assert.deepEqual(after, { done: true, rest: Buffer.from([1, 2]) });
  });

  it('returns pipelined bytes when C2 and the command arrive byte by byte', () => {
    const server = new ServerHandshake();
    server.push(new ClientHandshake().start());
    const c2AndMore = Buffer.concat([randomBytes(N), Buffer.from([0x03, 0x00])]);
    const r = feed(server, c2AndMore, 1);
    assert.equal(r.done, true);
    assert.deepEqual(r.rest, Buffer.from([0x03, 0x00]));
  });

  it('client returns bytes after S2 as rest', () => {
    const client = new ClientHandshake();
    const server = new ServerHandshake();
    const s = server.push(client.start());
    const step = client.push(Buffer.concat([s.send!, Buffer.from([9, 9, 9])]));
    assert.equal(step.done, true);
    assert.equal(step.send!.length, N);
    assert.deepEqual(step.rest, Buffer.from([9, 9, 9]));
  });

  it('a truncated handshake just waits', () => {
    const server = new ServerHandshake();
    const c0c1 = new ClientHandshake().start();
    assert.deepEqual(server.push(c0c1.subarray(0, 1000)), { done: false });
    const step = server.push(c0c1.subarray(1000));
    assert.equal(step.done, false);
    assert.equal(step.send!.length, 1 + 2 * N);
    assert.deepEqual(server.push(randomBytes(N - 1)), { done: false });
    assert.deepEqual(server.push(Buffer.alloc(0)), { done: false });
    assert.equal(server.push(Buffer.alloc(1)).done, true);
  });
});

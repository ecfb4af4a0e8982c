import { strict as assert } from 'node:assert';
import { ErrorCode, ProtocolError } from '../../runtime/errors.ts';
import { ChunkDecoder } from '../../runtime/rtmp/chunk-decoder.ts';
import { ChunkEncoder, encodeShared } from '../../runtime/rtmp/chunk-encoder.ts';
import { MessageType, type RtmpMessage } from '../../runtime/rtmp/message.ts';

const LIMITS = { maxMessageBytes: 1 << 20, maxChunkStreams: 64 };

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function decode(bytes: Buffer, pieces: number[] | 'whole' = 'whole', limits = LIMITS): RtmpMessage[] {
  const decoder = new ChunkDecoder(limits);
  const out: RtmpMessage[] = [];
  const onMessage = (m: RtmpMessage) => out.push({ ...m, payload: Buffer.from(m.payload) });
  if (pieces === 'whole') decoder.push(bytes, onMessage);
  else {
    let pos = 0;
    for (const size of pieces) {
      decoder.push(bytes.subarray(pos, pos + size), onMessage);
      pos += size;
    }
    decoder.push(bytes.subarray(pos), onMessage);
  }
  return out;
}

function randomSplits(length: number, rnd: () => number, maxPiece: number): number[] {
  const sizes: number[] = [];
  for (let left = length; left > 0; ) {
    const size = Math.min(left, 1 + Math.floor(rnd() * maxPiece));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

function isProtocolError(code: string) {
  return (e: unknown) => e instanceof ProtocolError && e.code === code;
}

function msg(type: number, streamId: number, timestamp: number, payload: Buffer | string): RtmpMessage {
  return { type, streamId, timestamp, payload: typeof payload === 'string' ? Buffer.from(payload) : payload };
}

function setChunkSizeMessage(size: number): RtmpMessage {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(size >>> 0);
  return msg(MessageType.SetChunkSize, 0, 0, payload);
}

function assertMessages(actual: RtmpMessage[], expected: RtmpMessage[]): void {
  assert.equal(actual.length, expected.length, 'message count');
  expected.forEach((e, i) => {
    const a = actual[i]!;
    assert.deepEqual(
      { type: a.type, streamId: a.streamId, timestamp: a.timestamp, len: a.payload.length },
      { type: e.type, streamId: e.streamId, timestamp: e.timestamp >>> 0, len: e.payload.length },
      `message ${i}`,
    );
    assert.ok(a.payload.equals(e.payload), `payload of message ${i}`);
  });
}

describe('chunk encoder → decoder round trips', () => {
  const CSIDS = [2, 3, 4, 63, 64, 65, 319, 320, 1000, 65599];
  for (let seed = 1; seed <= 60; seed++) {
    it(`random sequence #${seed} with random splits`, () => {
      const rnd = prng(seed);
      const encoder = new ChunkEncoder();
      const messages: RtmpMessage[] = [];
      const bytes: Buffer[] = [];
      const clocks = new Map<number, number>();
      const count = 20 + Math.floor(rnd() * 60);
      for (let i = 0; i < count; i++) {
        if (rnd() < 0.08) {
          const size = [1, 7, 128, 4096, 60000, 0x7fffffff][Math.floor(rnd() * 6)]!;
          const m = setChunkSizeMessage(size);
          bytes.push(...encoder.encode(m, 2));
          encoder.setChunkSize(size);
          messages.push(m);
          continue;
        }
        const csid = CSIDS[Math.floor(rnd() * CSIDS.length)]!;
        let ts = clocks.get(csid) ?? Math.floor(rnd() * 3) * 0x7fffff80;
        const r = rnd();
        if (r < 0.3) ts += 0; // same timestamp
        else if (r < 0.6) ts += 23; // constant delta → fmt 3
        else if (r < 0.7) ts -= 100; // backwards → fmt 0
        else if (r < 0.8) ts += 0x1000000 + Math.floor(rnd() * 5); // extended delta
        else ts += Math.floor(rnd() * 1000);
        ts >>>= 0;
        clocks.set(csid, ts);
        const lengths = [0, 1, 5, 127, 128, 129, 300, 4096, 9000];
        const len = rnd() < 0.5 ? 5 : lengths[Math.floor(rnd() * lengths.length)]!;
        const payload = Buffer.alloc(len);
        for (let j = 0; j < len; j++) payload[j] = Math.floor(rnd() * 256);
        const type = rnd() < 0.5 ? MessageType.Video : MessageType.Audio;
        const streamId = rnd() < 0.9 ? 1 : Math.floor(rnd() * 3);
        const m = msg(type, streamId, ts, payload);
        bytes.push(...encoder.encode(m, csid));
        messages.push(m);
      }
      const stream = Buffer.concat(bytes);
      assertMessages(decode(stream), messages);
      assertMessages(decode(stream, randomSplits(stream.length, rnd, 50)), messages);
      assertMessages(decode(stream, randomSplits(stream.length, rnd, 5000)), messages);
    });
  }

  it('decodes byte by byte', () => {
    const encoder = new ChunkEncoder();
    const messages = [
      msg(20, 0, 0, Buffer.alloc(300, 1)),
      msg(9, 1, 0x1000000, Buffer.alloc(300, 2)),
      msg(9, 1, 0x1000000 + 40, Buffer.alloc(300, 3)),
      msg(9, 1, 0x1000000 + 80, Buffer.alloc(300, 4)),
    ];
    const stream = Buffer.concat(messages.flatMap((m) => encoder.encode(m, 6)));
    assertMessages(decode(stream, new Array<number>(stream.length).fill(1)), messages);
  });

  it('reassembles chunk streams interleaved chunk by chunk', () => {
    const encoder = new ChunkEncoder();
    const audio = msg(8, 1, 10, Buffer.alloc(500, 0xaa));
    const video = msg(9, 1, 20, Buffer.alloc(700, 0xbb));
    const a = encoder.encode(audio, 4);
    const v = encoder.encode(video, 6);
    const pieces: Buffer[] = [];
    for (let i = 0; i < Math.max(a.length, v.length); i += 2) pieces.push(...a.slice(i, i + 2), ...v.slice(i, i + 2));
    const out = decode(Buffer.concat(pieces));
    assertMessages(out, [audio, video]);
  });

  it('passes a single-chunk message through without copying', () => {
    const encoder = new ChunkEncoder();
    const bytes = Buffer.concat(encoder.encode(msg(9, 1, 0, Buffer.alloc(100, 7)), 4));
    const decoder = new ChunkDecoder(LIMITS);
    let seen: Buffer | null = null;
    decoder.push(bytes, (m) => (seen = m.payload));
    assert.equal(seen!.buffer, bytes.buffer);
  });
});

describe('chunk encoder', () => {
  const fmtOf = (pieces: Buffer[]) => pieces[0]![0]! >> 6;

  it('compresses headers fmt 0 → 1 → 2 → 3 and falls back to fmt 0', () => {
    const e = new ChunkEncoder();
    const p = Buffer.alloc(10);
    assert.equal(fmtOf(e.encode(msg(9, 1, 1000, p), 4)), 0);
    assert.equal(fmtOf(e.encode(msg(9, 1, 1040, p), 4)), 2, 'after fmt 0 a fmt 3 is never used');
    assert.equal(fmtOf(e.encode(msg(9, 1, 1080, p), 4)), 3);
    assert.equal(fmtOf(e.encode(msg(9, 1, 1120, p), 4)), 3);
    assert.equal(fmtOf(e.encode(msg(9, 1, 1130, p), 4)), 2);
    assert.equal(fmtOf(e.encode(msg(9, 1, 1140, Buffer.alloc(11)), 4)), 1);
    assert.equal(fmtOf(e.encode(msg(8, 1, 1150, Buffer.alloc(11)), 4)), 1);
    assert.equal(fmtOf(e.encode(msg(8, 2, 1160, Buffer.alloc(11)), 4)), 0, 'stream id changed');
    assert.equal(fmtOf(e.encode(msg(8, 2, 1000, Buffer.alloc(11)), 4)), 0, 'backwards');
    assert.equal(fmtOf(e.encode(msg(8, 2, 1000, Buffer.alloc(11)), 5)), 0, 'first use of a csid');
  });

  it('writes the exact bytes for fmt 0/1/2/3 and continuation chunks', () => {
    const e = new ChunkEncoder();
    assert.deepEqual(Buffer.concat(e.encode(msg(20, 0, 100, 'abcde'), 3)), hex('03 000064 000005 14 00000000 6162636465'));
    assert.deepEqual(Buffer.concat(e.encode(msg(8, 0, 110, 'xyz'), 3)), hex('43 00000a 000003 08 78797a'));
    assert.deepEqual(Buffer.concat(e.encode(msg(8, 0, 130, 'xyz'), 3)), hex('83 000014 78797a'));
    assert.deepEqual(Buffer.concat(e.encode(msg(8, 0, 150, 'xyz'), 3)), hex('c3 78797a'));
    const big = Buffer.alloc(200, 0x11);
    const pieces = e.encode(msg(9, 1, 0, big), 3);
    assert.deepEqual(pieces.map((x) => x.length), [12, 128, 1, 72]);
    assert.deepEqual(pieces[2], hex('c3'));
    assert.equal(pieces[1]!.buffer, big.buffer, 'payload is a view, not a copy');
  });

  it('writes 1-, 2- and 3-byte basic headers', () => {
    const e = new ChunkEncoder();
    const first = (csid: number) => e.encode(msg(8, 1, 0, 'a'), csid)[0]!.subarray(0, 3);
    assert.deepEqual(first(63).subarray(0, 1), hex('3f'));
    assert.deepEqual(first(64).subarray(0, 2), hex('00 00'));
    assert.deepEqual(first(319).subarray(0, 2), hex('00 ff'));
    assert.deepEqual(first(320), hex('01 00 01'));
    assert.deepEqual(first(65599), hex('01 ff ff'));
    assert.throws(() => e.encode(msg(8, 1, 0, 'a'), 1), RangeError);
    assert.throws(() => e.encode(msg(8, 1, 0, 'a'), 65600), RangeError);
  });

  it('writes extended timestamps and repeats them on every continuation chunk', () => {
    const e = new ChunkEncoder();
    const pieces = e.encode(msg(9, 1, 0x01000000, Buffer.alloc(256, 0x22)), 6);
    assert.deepEqual(pieces[0], hex('06 ffffff 000100 09 01000000 01000000'));
    assert.deepEqual(pieces[2], hex('c6 01000000'));
    // a 0xffffff timestamp itself must also go in the extended field
    const q = e.encode(msg(9, 1, 0xffffff + 0x1000000, Buffer.alloc(1)), 7);
    assert.deepEqual(q[0], hex('07 ffffff 000001 09 01000000 01ffffff'));
  });

  it('treats a forward 32-bit wrap as a positive delta', () => {
    const e = new ChunkEncoder();
    const p = Buffer.alloc(4);
    e.encode(msg(9, 1, 0xffffff00, p), 4);
    const pieces = e.encode(msg(9, 1, 0x100, p), 4);
    assert.deepEqual(pieces[0], hex('84 000200'));
    assert.deepEqual(Buffer.concat(e.encode(msg(9, 1, 0x300, p), 4)).subarray(0, 1), hex('c4'));
  });

  it('encodeShared writes the bytes a fresh encoder would, for every header and chunking edge', () => {
    for (const chunkSize of [1, 128, 4096, 60000]) {
      for (const csid of [2, 63, 64, 319, 320, 65599]) {
        for (const length of [0, 1, 127, 128, 129, 4096, 9000]) {
          for (const timestamp of [0, 40, 0xfffffe, 0xffffff, 0x1000000, 0xffffffff]) {
            const m = msg(9, 3, timestamp, Buffer.alloc(length, length & 0xff));
            const fresh = new ChunkEncoder();
            fresh.setChunkSize(chunkSize);
            assert.deepEqual(Buffer.concat(encodeShared(m, csid, chunkSize)), Buffer.concat(fresh.encode(m, csid)), `chunk ${chunkSize} csid ${csid} length ${length} ts ${timestamp}`);
          }
        }
      }
    }
    assert.throws(() => encodeShared(msg(9, 1, 0, 'a'), 1, 128), RangeError);
    assert.throws(() => encodeShared(msg(9, 1, 0, 'a'), 4, 0), RangeError);
  });

  it('rejects invalid chunk sizes', () => {
    const e = new ChunkEncoder();
    for (const bad of [0, -1, 0x80000000, 1.5]) assert.throws(() => e.setChunkSize(bad), RangeError);
    e.setChunkSize(0x7fffffff);
    assert.equal(e.chunkSize, 0x7fffffff);
  });
});

describe('chunk decoder byte vectors', () => {
  it('decodes fmt 0, 1, 2 and 3 headers', () => {
    const bytes = hex(`
      03 000064 000005 14 01000000 6162636465
      43 00000a 000003 08 78797a
      83 000014 78797a
      c3 78797a
      c3 78797a`);
    for (const split of ['whole', [1, 1, 1, 5, 3, 2, 9]] as const) {
      const out = decode(bytes, split === 'whole' ? split : [...split]);
      assert.deepEqual(out.map((m) => [m.type, m.streamId, m.timestamp, m.payload.toString()]), [
        [20, 1, 100, 'abcde'], [8, 1, 110, 'xyz'], [8, 1, 130, 'xyz'], [8, 1, 150, 'xyz'], [8, 1, 170, 'xyz'],
      ]);
    }
  });

  it('uses the fmt 0 timestamp as the delta of a fmt 3 that follows it (spec 5.3.1.2.4)', () => {
    const out = decode(hex('04 000028 000001 09 01000000 aa c4 bb c4 cc'));
    assert.deepEqual(out.map((m) => m.timestamp), [40, 80, 120]);
  });

  it('reassembles fmt 3 continuation chunks with the message timestamp', () => {
    const body = Buffer.alloc(200, 0x5a);
    const bytes = Buffer.concat([hex('03 000010 0000c8 09 01000000'), body.subarray(0, 128), hex('c3'), body.subarray(128)]);
    const [m] = decode(bytes);
    assert.equal(m!.timestamp, 16);
    assert.ok(m!.payload.equals(body));
  });

  it('decodes 2-byte and 3-byte basic headers, up to csid 65599', () => {
    const bytes = hex(`
      00 00 000001 000001 08 01000000 a0
      00 ff 000002 000001 08 01000000 a1
      01 00 01 000003 000001 08 01000000 a2
      01 ff ff 000004 000001 08 01000000 a3
      c1 ff ff a4
      c1 00 00 a5`); // 3-byte form of csid 64 continues the same stream as the 2-byte form
    const out = decode(bytes, [1, 1, 2, 1, 1, 1, 9, 1, 2]);
    assert.deepEqual(out.map((m) => [m.timestamp, m.payload[0]]), [
      [1, 0xa0], [2, 0xa1], [3, 0xa2], [4, 0xa3], [8, 0xa4], [2, 0xa5],
    ]);
  });

  it('reads fmt 3 continuation chunks with and without a repeated extended timestamp', () => {
    const header = hex('06 ffffff 000100 09 01000000 01000000');
    const body = Buffer.alloc(256, 0x33);
    const repeated = Buffer.concat([header, body.subarray(0, 128), hex('c6 01000000'), body.subarray(128)]);
    const bare = Buffer.concat([header, body.subarray(0, 128), hex('c6'), body.subarray(128)]);
    for (const bytes of [repeated, bare]) {
      for (const split of ['whole', [144, 1, 1, 1, 1], [145, 2]] as const) {
        const out = decode(bytes, split === 'whole' ? split : [...split]);
        assert.equal(out.length, 1);
        assert.equal(out[0]!.timestamp, 0x01000000);
        assert.ok(out[0]!.payload.equals(body));
      }
    }
  });

  it('does not wait forever on a short last chunk without the repeated field', () => {
    // 130 bytes, chunk size 128: the last chunk has 2 payload bytes and nothing follows.
    const bytes = Buffer.concat([hex('06 ffffff 000082 09 01000000 01000000'), Buffer.alloc(128), hex('c6 7777')]);
    const out = decode(bytes);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.payload.subarray(128), hex('7777'));
  });

  it('reads the extended field of a fmt 3 that starts a new message', () => {
    const bytes = hex(`
      04 000010 000001 09 01000000 aa
      44 ffffff 000001 09 01000000 bb
      c4 01000000 cc`);
    assert.deepEqual(decode(bytes).map((m) => [m.timestamp, m.payload[0]]), [
      [0x10, 0xaa], [0x01000010, 0xbb], [0x02000010, 0xcc],
    ]);
  });

  it('wraps timestamps modulo 2^32 (0xFFFFFF00 → 0x00000100 via deltas)', () => {
    const bytes = hex(`
      04 ffffff 000001 09 01000000 ffffff00 aa
      84 000200 bb
      c4 cc`);
    assert.deepEqual(decode(bytes).map((m) => m.timestamp), [0xffffff00, 0x100, 0x300]);
  });

  it('applies Set Chunk Size to the following bytes of the same push', () => {
    const body = Buffer.alloc(200, 0x44);
    const bytes = Buffer.concat([hex('02 000000 000004 01 00000000 00000100'), hex('03 000000 0000c8 14 00000000'), body]);
    const decoder = new ChunkDecoder(LIMITS);
    const out: RtmpMessage[] = [];
    decoder.push(bytes, (m) => out.push(m));
    assert.equal(decoder.chunkSize, 256);
    assert.deepEqual(out.map((m) => m.type), [1, 20]);
    assert.ok(out[1]!.payload.equals(body));
  });

  it('handles chunk size 1 and 0x7FFFFFFF', () => {
    const one = Buffer.concat([hex('02 000000 000004 01 00000000 00000001'), hex('03 000000 000003 14 00000000 61 c3 62 c3 63')]);
    assert.equal(decode(one)[1]!.payload.toString(), 'abc');
    const body = Buffer.alloc(5000, 1);
    const max = Buffer.concat([hex('02 000000 000004 01 00000000 7fffffff'), hex('03 000000 001388 14 00000000'), body]);
    assert.ok(decode(max)[1]!.payload.equals(body));
  });

  for (const bad of ['00000000', '80000000', 'ffffffff']) {
    it(`rejects chunk size 0x${bad}, and stays dead`, () => {
      const decoder = new ChunkDecoder(LIMITS);
      const bytes = hex(`02 000000 000004 01 00000000 ${bad}`);
      assert.throws(() => decoder.push(bytes, () => {}), isProtocolError(ErrorCode.ChunkSizeInvalid));
      assert.throws(() => decoder.push(hex('03'), () => {}), ProtocolError);
    });
  }

  it('drops the partial message of a chunk stream on Abort', () => {
    const bytes = Buffer.concat([
      hex('04 000000 00012c 09 01000000'),
      Buffer.alloc(128, 0xee), // first chunk of a 300-byte message
      hex('02 000000 000004 02 00000000 00000004'), // Abort csid 4
      hex('04 000005 000002 08 01000000 0102'),
    ]);
    const out = decode(bytes);
    assert.deepEqual(out.map((m) => [m.type, m.timestamp, m.payload.length]), [[2, 0, 4], [8, 5, 2]]);
  });

  it('rejects a new header on a chunk stream with a message in progress', () => {
    const bytes = Buffer.concat([hex('04 000000 00012c 09 01000000'), Buffer.alloc(128), hex('04 000005 000002 08 01000000 0102')]);
    assert.throws(() => decode(bytes), isProtocolError(ErrorCode.ChunkInvalid));
  });

  it('rejects fmt 1/2/3 on a chunk stream never opened with fmt 0', () => {
    for (const bytes of [hex('45 000000 000001 08 aa'), hex('85 000000 aa'), hex('c5 aa')]) {
      assert.throws(() => decode(bytes), isProtocolError(ErrorCode.ChunkInvalid));
    }
  });

  it('rejects a 16 MB message length over the limit without allocating it', () => {
    const original = Buffer.allocUnsafe;
    let largest = 0;
    Buffer.allocUnsafe = ((size: number) => {
      largest = Math.max(largest, size);
      return original(size);
    }) as typeof Buffer.allocUnsafe;
    try {
      const decoder = new ChunkDecoder(LIMITS);
      assert.throws(() => decoder.push(hex('04 000000 ffffff 09 01000000'), () => {}), isProtocolError(ErrorCode.MessageTooLarge));
    } finally {
      Buffer.allocUnsafe = original;
    }
    assert.ok(largest < 1024, `allocated ${largest} bytes`);
  });

  it('rejects the chunk stream past the limit (10,000 ids)', () => {
    const limit = 10_000;
    const decoder = new ChunkDecoder({ maxMessageBytes: 1024, maxChunkStreams: limit });
    let delivered = 0;
    const header = (csid: number) => {
      const h = Buffer.alloc(3 + 11);
      h[0] = 1;
      h[1] = (csid - 64) & 0xff;
      h[2] = (csid - 64) >> 8; // zero-length message, fmt 0, 3-byte basic header
      return h;
    };
    const batch = Buffer.concat(Array.from({ length: limit }, (_, i) => header(64 + i)));
    decoder.push(batch, () => delivered++);
    assert.equal(delivered, limit);
    decoder.push(header(64), () => delivered++); // an id already open is fine
    assert.throws(() => decoder.push(header(64 + limit), () => {}), isProtocolError(ErrorCode.TooManyChunkStreams));
  });

  it('survives garbage: only ProtocolErrors, never a hang or another error', function () {
    this.timeout(60_000);
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = prng(seed);
      const bytes = Buffer.alloc(2000 + Math.floor(rnd() * 4000));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 256);
      if (seed % 2 === 0) bytes[0] = 0x03; // start with a plausible fmt 0 header
      const decoder = new ChunkDecoder({ maxMessageBytes: 1 << 20, maxChunkStreams: 16 });
      try {
        let pos = 0;
        for (const size of randomSplits(bytes.length, rnd, 300)) {
          decoder.push(bytes.subarray(pos, pos + size), (m) => assert.ok(m.payload.length <= 1 << 20));
          pos += size;
        }
      } catch (e) {
        assert.ok(e instanceof ProtocolError, `seed ${seed}: ${String(e)}`);
      }
    }
  });
});

describe('ChunkDecoder regression (found by npm run fuzz)', () => {
  it('a fmt-3 continuation whose peeked bytes are not an extended timestamp, split across pushes, is payload', () => {
    const d = new ChunkDecoder({ maxMessageBytes: 1 << 20, maxChunkStreams: 64 });
    const got: Buffer[] = [];
    d.push(Buffer.concat([Buffer.from([0x03, 0xff, 0xff, 0xff, 0, 0, 0xc8, 0x09, 1, 0, 0, 0, 1, 2, 3, 4]), Buffer.alloc(128, 0x42), Buffer.from([0xc3, 0x01, 0x02])]), (m) => got.push(m.payload));
    d.push(Buffer.concat([Buffer.from([0x03]), Buffer.alloc(69, 0x42)]), (m) => got.push(m.payload));
    assert.equal(got.length, 1);
    assert.equal(got[0]!.length, 200);
    assert.deepEqual([...got[0]!.subarray(128, 131)], [0x01, 0x02, 0x03]);
  });
});

describe('shared (fan-out) encoding', () => {
  it('encodeShared never copies the payload: its pieces are views of it', async () => {
    const { encodeShared } = await import('../../runtime/rtmp/chunk-encoder.ts');
    const payload = Buffer.alloc(9000, 7);
    const pieces = encodeShared({ type: 9, streamId: 1, timestamp: 40, payload }, 6, 4096);
    const views = pieces.filter((piece) => piece.length >= 4096 || piece.length === 9000 - 2 * 4096);
    assert.equal(views.length, 3);
    for (const [i, view] of views.entries()) {
      assert.equal(view.buffer, payload.buffer);
      assert.equal(view.byteOffset, payload.byteOffset + i * 4096);
    }
  });

  it('encodeShared bytes interleaved with stateful encodes decode to the same messages', async () => {
    const { encodeShared } = await import('../../runtime/rtmp/chunk-encoder.ts');
    const encoder = new ChunkEncoder();
    encoder.setChunkSize(100);
    const decoder = new ChunkDecoder({ maxMessageBytes: 1 << 20, maxChunkStreams: 64 });
    decoder.push(Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 100]), () => {}); // Set Chunk Size 100
    const sent = [
      { type: 9, streamId: 1, timestamp: 0, payload: Buffer.alloc(250, 1) },
      { type: 9, streamId: 1, timestamp: 40, payload: Buffer.alloc(30, 2) },
      { type: 9, streamId: 1, timestamp: 0x1000000, payload: Buffer.alloc(220, 3) },
      { type: 9, streamId: 1, timestamp: 0x1000028, payload: Buffer.alloc(30, 4) },
    ];
    const got: { timestamp: number; payload: Buffer }[] = [];
    sent.forEach((msg, i) => {
      const bytes = Buffer.concat(i % 2 === 0 ? encodeShared(msg, 6, 100) : encoder.encode(msg, 6));
      if (i % 2 === 0) encoder.noteShared(msg, msg.streamId, 6);
      decoder.push(bytes, (m) => got.push(m));
    });
    assert.deepEqual(got.map((m) => m.timestamp), sent.map((m) => m.timestamp));
    assert.deepEqual(got.map((m) => m.payload), sent.map((m) => m.payload));
  });
});

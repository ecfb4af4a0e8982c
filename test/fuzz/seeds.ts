/**
 * Valid starting points for the fuzzer, built with the project's own encoders so they track the
 * codecs: AMF0/AMF3 payloads covering every marker, real C0C1 handshakes (simple and both digest
 * schemes), and chunk streams of whole client sessions (publish with media, play, calls, control).
 * Mutating valid input gets past the first checks and into the deep paths.
 */
import { encodeAmf0, AmfVector, AmfXml, ecmaArray, typedObject } from '../../runtime/rtmp/amf0.ts';
import { encodeAmf3Value } from '../../runtime/rtmp/amf3.ts';
import { ChunkEncoder } from '../../runtime/rtmp/chunk-encoder.ts';
import { ClientHandshake } from '../../runtime/rtmp/handshake.ts';
import { GENUINE_FP_KEY_TEXT, imprintDigest, HANDSHAKE_PACKET_BYTES } from '../../runtime/rtmp/handshake-digest.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { INTERESTING_32, mutateBytes, type Rng } from './mutators.ts';

/** Values that between them make the encoders emit every marker they know (refs, traits, vectors…). */
function sampleValues(): unknown[] {
  const shared = { id: 7, name: 'shared' };
  const withNamed = Object.assign([1, 2, 3], { label: 'assoc' });
  return [
    0, 1.5, -0, Number.NaN, -Infinity, 0x0fffffff, -0x10000000, 0x10000000, 2 ** 53,
    true, false, null, undefined, '', 'hello', 'ünï©ødé ✓', 'x'.repeat(300),
    new Date(0), new Date(1_700_000_000_000),
    { a: 1, b: 'two', c: null, d: [1, 'x'], e: { nested: { deeper: true } } },
    [shared, shared, [shared]],
    ['abc', 'abc', 'abc'],
    withNamed,
    ecmaArray({ duration: 0, width: 640, height: 360, encoder: 'Lavf' }),
    typedObject('com.example.Point', { x: 1, y: 2 }),
    [typedObject('com.example.Point', { x: 1, y: 2 }), typedObject('com.example.Point', { x: 3, y: 4 })],
    new AmfXml('<root a="1"><child/></root>'),
    new AmfXml('<e4x/>', 'xml'),
    Buffer.from([0, 1, 2, 0xff]),
    new Map<unknown, unknown>([['k', 1], [2, 'two']]),
    new AmfVector('int', [1, -1, 0x7fffffff]),
    new AmfVector('uint', [0, 0xffffffff], true),
    new AmfVector('double', [0.5, Number.NaN]),
    new AmfVector('object', [{ a: 1 }, null], false, 'com.example.Item'),
  ];
}

/** AMF0 markers our writer never emits, as raw bytes (the reader must refuse or accept them safely). */
const AMF0_RAW: readonly Buffer[] = [
  Buffer.from([0x04]), // MovieClip
  Buffer.from([0x0d]), // Unsupported
  Buffer.from([0x0e]), // RecordSet
  Buffer.from([0x09]), // stray object end
  Buffer.from([0x07, 0x00, 0x00]), // reference to nothing
  Buffer.from([0x03, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x09]), // property "" = reference to itself
  Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff]), // strict array claiming 2^32-1 elements
  Buffer.from([0x0c, 0xff, 0xff, 0xff, 0xff, 0x41]), // long string claiming 4 GB
];

/** Flex ArrayCollection (externalizable) wrapping [1]: decode-only in our model. */
const AMF3_RAW: readonly Buffer[] = [
  Buffer.concat([Buffer.from([0x0a, 0x07, 0x43]), Buffer.from('flex.messaging.io.ArrayCollection'), Buffer.from([0x09, 0x03, 0x01, 0x04, 0x01])]),
  Buffer.from([0x0a, 0x00]), // object reference 0 with an empty table
  Buffer.from([0x09, 0x01, 0x03, 0x61, 0x0a, 0x00, 0x01]), // array whose member refers back to it
  Buffer.from([0x04, 0xff, 0xff, 0xff, 0xff]), // max U29
  Buffer.from([0x06, 0xff, 0xff, 0xff, 0xfd]), // string with a ~256 MB length
];

export function amf0Seeds(): Buffer[] {
  const values = sampleValues();
  const out = values.map((v) => encodeAmf0([v]));
  out.push(encodeAmf0(['connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live', objectEncoding: 3 }]));
  out.push(encodeAmf0(values.slice(17, 30)));
  // objectEncoding 3: every object goes through the 0x11 (AVM+) switch into AMF3.
  out.push(...values.filter((v) => typeof v === 'object' && v !== null).map((v) => encodeAmf0([v], { objectEncoding: 3 })));
  out.push(encodeAmf0(['x'.repeat(70_000)])); // long string (0x0C)
  out.push(...AMF0_RAW);
  return out;
}

export function amf3Seeds(): Buffer[] {
  const out = sampleValues().map((v) => encodeAmf3Value(v));
  out.push(encodeAmf3Value(sampleValues())); // one value holding all the others: shared reference tables
  out.push(...AMF3_RAW);
  return out;
}

/** C0C1 + C2 + the first chunk bytes, as a client sends them (complex scheme 0/1, simple). */
export function handshakeSeeds(chunkTail: Buffer): Buffer[] {
  const c2 = Buffer.alloc(HANDSHAKE_PACKET_BYTES, 0x5a);
  const complex0 = new ClientHandshake({ complex: true }).start();
  const simple = new ClientHandshake({ complex: false }).start();
  const complex1 = Buffer.from(complex0);
  imprintDigest(complex1.subarray(1), GENUINE_FP_KEY_TEXT, 1);
  return [complex0, simple, complex1].flatMap((c0c1) => [c0c1, Buffer.concat([c0c1, c2]), Buffer.concat([c0c1, c2, chunkTail])]);
}

/** RTMPE C0C1 of each type (6, 8, 9), alone, with a C2, and with a C2 and chunk bytes after it. */
export function rtmpeSeeds(chunkTail: Buffer): Buffer[] {
  const c2 = Buffer.alloc(HANDSHAKE_PACKET_BYTES, 0x5a);
  return ([6, 8, 9] as const).flatMap((type) => {
    const c0c1 = new ClientHandshake({ rtmpe: type }).start();
    return [c0c1, Buffer.concat([c0c1, c2]), Buffer.concat([c0c1, c2, chunkTail])];
  });
}

/** RTMPT request lines ("<path> <body>"), a session's worth each, for the routing + session target. */
export function rtmptSeeds(): Buffer[] {
  const lines = (...l: string[]) => Buffer.from(l.join('\n'), 'latin1');
  return [
    lines('/fcs/ident2', '/open/1 x', '/send/S/0 C0C1', '/idle/S/1', '/send/S/2 C2', '/close/S/3'),
    lines('/send/S/5 a', '/send/S/7 c', '/send/S/6 b', '/idle/S/8', '/idle/S/8', '/send/S/4 z'),
    lines('/idle/S/0', '/idle/S/1', '/send/S/3 x', '/send/S/9 y', '/send/S/2 w', '/close/S/10'),
    lines('/send/other/1 q', '/send/S/999999999999999 x', '/open/2', '/send/S/-1', '/send//1', '/idle/S/1x'),
  ];
}

/** Re-signs a (mutated) C1 so that the digest path, not just the simple fallback, sees the mutation. */
export function resignC1(input: Buffer, rng: Rng): Buffer {
  if (input.length < 1 + HANDSHAKE_PACKET_BYTES) return input;
  const out = Buffer.from(input);
  imprintDigest(out.subarray(1, 1 + HANDSHAKE_PACKET_BYTES), GENUINE_FP_KEY_TEXT, rng.chance(0.5) ? 0 : 1);
  return out;
}

// ---- chunk streams --------------------------------------------------------------------------

export interface SeedMessage {
  csid: number;
  type: number;
  streamId: number;
  timestamp: number;
  payload: Buffer;
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const cmd = (streamId: number, ...values: unknown[]): SeedMessage => ({
  csid: streamId === 0 ? 3 : 8, type: MessageType.CommandAmf0, streamId, timestamp: 0, payload: encodeAmf0(values),
});
const media = (type: number, timestamp: number, payload: Buffer, csid = type === MessageType.Audio ? 4 : 6): SeedMessage => ({
  csid, type, streamId: 1, timestamp, payload,
});
const control = (type: number, payload: Buffer): SeedMessage => ({ csid: 2, type, streamId: 0, timestamp: 0, payload });

export const FUZZ_APP = 'live';
/** Stream a well-behaved publisher feeds during the live phase, so fuzzed players get real fan-out. */
export const BASE_STREAM = 'base';

export function connectMessage(objectEncoding: 0 | 3 = 0): SeedMessage {
  return cmd(0, 'connect', 1, {
    app: FUZZ_APP, flashVer: 'LNX 9,0,124,2', tcUrl: `rtmp://127.0.0.1/${FUZZ_APP}`, fpad: false,
    capabilities: 239, audioCodecs: 3575, videoCodecs: 252, videoFunction: 1, objectEncoding,
  });
}

/** Synthetic H.264/AAC tags: enough for the server's keyframe / codec-config logic. */
export const AVC_CONFIG = Buffer.from([0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1e, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1e, 0x01, 0x00, 0x04, 0x68, 0xee, 0x3c, 0x80]);
export const AAC_CONFIG = Buffer.from([0xaf, 0x00, 0x12, 0x10]);
export function videoFrame(keyframe: boolean, bytes: number): Buffer {
  const out = Buffer.alloc(bytes, 0x42);
  out.set([keyframe ? 0x17 : 0x27, 0x01, 0, 0, 0x21, 0, 0, 0, bytes - 9]);
  return out;
}
const audioFrame = () => Buffer.concat([Buffer.from([0xaf, 0x01]), Buffer.alloc(180, 0x21)]);

function aggregate(): Buffer {
  const sub = (type: number, ts: number, body: Buffer) => {
    const h = Buffer.alloc(11);
    h[0] = type;
    h.writeUIntBE(body.length, 1, 3);
    h.writeUIntBE(ts & 0xffffff, 4, 3);
    h[7] = ts >>> 24;
    return Buffer.concat([h, body, u32(11 + body.length)]);
  };
  return Buffer.concat([sub(9, 100, videoFrame(false, 40)), sub(8, 110, audioFrame())]);
}

export function sessionSeeds(): SeedMessage[][] {
  const publish = [
    connectMessage(),
    cmd(0, 'releaseStream', 2, null, 'fuzz'), cmd(0, 'FCPublish', 3, null, 'fuzz'), cmd(0, 'createStream', 4, null),
    cmd(1, 'publish', 0, null, 'fuzz', 'live'),
    { csid: 5, type: MessageType.DataAmf0, streamId: 1, timestamp: 0, payload: encodeAmf0(['@setDataFrame', 'onMetaData', ecmaArray({ width: 640, height: 360, videocodecid: 7 })]) },
    media(MessageType.Video, 0, AVC_CONFIG), media(MessageType.Audio, 0, AAC_CONFIG),
    media(MessageType.Video, 0, videoFrame(true, 6000)), media(MessageType.Audio, 23, audioFrame()),
    media(MessageType.Video, 40, videoFrame(false, 900)), media(MessageType.Audio, 46, audioFrame()),
    media(MessageType.Video, 80, videoFrame(false, 300)),
    { csid: 6, type: MessageType.Aggregate, streamId: 1, timestamp: 120, payload: aggregate() },
    { csid: 5, type: MessageType.DataAmf0, streamId: 1, timestamp: 130, payload: encodeAmf0(['onCuePoint', { name: 'c', time: 1 }]) },
    media(MessageType.Video, 0x1000000, videoFrame(false, 500)), // extended timestamp
    cmd(1, 'FCUnpublish', 5, null, 'fuzz'), cmd(0, 'deleteStream', 6, null, 1),
  ];
  const play = [
    connectMessage(), cmd(0, 'createStream', 2, null), control(MessageType.UserControl, Buffer.from([0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8])),
    cmd(1, 'play', 0, null, BASE_STREAM, -2, -1, true),
    cmd(1, 'pause', 0, null, true, 0), cmd(1, 'pause', 0, null, false, 0),
    cmd(1, 'receiveAudio', 0, null, false), cmd(1, 'receiveVideo', 0, null, true), cmd(1, 'seek', 0, null, 1000),
    cmd(1, 'play', 0, null, 'missing', 0), cmd(1, 'closeStream', 0, null), cmd(0, 'deleteStream', 3, null, 1),
  ];
  const control_ = [
    control(MessageType.SetChunkSize, u32(4096)), control(MessageType.WindowAckSize, u32(2_500_000)),
    control(MessageType.SetPeerBandwidth, Buffer.from([0, 0x26, 0x25, 0xa0, 2])), connectMessage(),
    control(MessageType.UserControl, Buffer.from([0, 6, 0, 0, 0, 42])), control(MessageType.Acknowledgement, u32(5000)),
    control(MessageType.Abort, u32(3)), cmd(0, 'createStream', 2, null), control(MessageType.SetChunkSize, u32(1)),
    cmd(0, 'someMethod', 3, null, 'arg', 1),
  ];
  // objectEncoding 3 client: AMF3 command messages (type 17 with a leading format byte).
  const amf3 = [
    connectMessage(3),
    { csid: 3, type: MessageType.CommandAmf3, streamId: 0, timestamp: 0, payload: Buffer.concat([Buffer.from([0]), encodeAmf0(['createStream', 2, null], { objectEncoding: 3 })]) },
    { csid: 3, type: MessageType.CommandAmf3, streamId: 0, timestamp: 0, payload: Buffer.concat([Buffer.from([0]), encodeAmf0(['call', 3, null, { deep: [1, { x: new Map([[1, 2]]) }] }], { objectEncoding: 3 })]) },
    { csid: 5, type: MessageType.DataAmf3, streamId: 0, timestamp: 0, payload: Buffer.concat([Buffer.from([0]), encodeAmf0(['onData', 1])]) },
    { csid: 5, type: MessageType.SharedObjectAmf0, streamId: 0, timestamp: 0, payload: Buffer.from([0, 2, 0x73, 0x6f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]) },
  ];
  // Calls carrying every kind of AMF value, to reach the server's argument handling.
  const calls = [connectMessage(), ...sampleValues().map((v, i) => cmd(0, 'anyMethod', i + 2, null, v))];
  return [publish, play, control_, amf3, calls];
}

const MAX_CSID = 65599;
const INTERESTING_CSIDS = [2, 3, 63, 64, 65, 319, 320, 321, MAX_CSID] as const;

/**
 * Encodes a session with our ChunkEncoder. A valid Set Chunk Size switches the encoder too, as a
 * real peer would, so the framing after it stays consistent and the decoder's deep paths are reached.
 */
export function encodeSession(messages: readonly SeedMessage[]): Buffer {
  const encoder = new ChunkEncoder();
  const pieces: Buffer[] = [];
  for (const m of messages) {
    const csid = Math.min(MAX_CSID, Math.max(2, m.csid));
    const payload = m.payload.length > 0xffffff ? m.payload.subarray(0, 0xffffff) : m.payload;
    // No spread: after Set Chunk Size 1, one message is tens of thousands of pieces (stack limit).
    for (const piece of encoder.encode({ type: m.type, streamId: m.streamId, timestamp: m.timestamp, payload }, csid)) pieces.push(piece);
    if (m.type === MessageType.SetChunkSize && payload.length >= 4) {
      const size = payload.readUInt32BE(0);
      if (size >= 1 && size <= 0x7fffffff) encoder.setChunkSize(size);
    }
  }
  return Buffer.concat(pieces);
}

/**
 * Structure-aware mutation: change messages (payload bytes, type, ids, timestamps, chunk size,
 * order), re-chunk, then sometimes damage the framing too. `keepConnect` leaves message 0 alone so
 * most live connections get past connect into the application code.
 */
export function mutateSession(session: readonly SeedMessage[], rng: Rng, amfDonors: readonly Buffer[], keepConnect: boolean): Buffer {
  const messages = session.map((m) => ({ ...m }));
  const first = keepConnect ? 1 : 0;
  const ops = 1 + rng.int(4);
  for (let i = 0; i < ops && messages.length > first; i++) {
    const index = first + rng.int(messages.length - first);
    const m = messages[index]!;
    switch (rng.int(9)) {
      case 0:
      case 1:
        m.payload = mutateBytes(m.payload, rng, amfDonors);
        break;
      case 2: // command with a random AMF argument appended
        m.payload = Buffer.concat([m.payload, rng.pick(amfDonors)]);
        break;
      case 3:
        m.type = rng.chance(0.7) ? rng.int(24) : rng.int(256);
        break;
      case 4:
        m.streamId = rng.chance(0.5) ? rng.int(4) : rng.pick(INTERESTING_32);
        break;
      case 5:
        m.timestamp = rng.chance(0.5) ? rng.pick(INTERESTING_32) : rng.u32();
        break;
      case 6:
        m.csid = rng.pick(INTERESTING_CSIDS);
        break;
      case 7: // Set Chunk Size or Abort inserted
        messages.splice(index, 0, control(rng.chance(0.7) ? MessageType.SetChunkSize : MessageType.Abort, u32(rng.chance(0.5) ? rng.pick(INTERESTING_32) : 1 + rng.int(9000))));
        break;
      default: // duplicate, drop or move
        if (rng.chance(0.4)) messages.splice(index, 0, { ...m });
        else if (rng.chance(0.5)) messages.splice(index, 1);
        else messages.splice(first + rng.int(messages.length - first), 0, ...messages.splice(index, 1));
    }
  }
  const bytes = encodeSession(messages);
  return rng.chance(0.3) ? mutateBytes(bytes, rng, [], 3) : bytes;
}

/**
 * The in-process fuzz targets: each makes a mutated input from its seeds and feeds it to one parser
 * the server exposes to the network. A ProtocolError (AmfError included) is the parser doing its
 * job; anything else escaping is a crash.
 */
import { DEFAULT_CONFIG } from '../../runtime/config.ts';
import { ProtocolError } from '../../runtime/errors.ts';
import { splitAggregate } from '../../runtime/rtmp/aggregate.ts';
import { AmfError, decodeAmf0 } from '../../runtime/rtmp/amf0.ts';
import { decodeAmf3Value } from '../../runtime/rtmp/amf3.ts';
import { ChunkDecoder } from '../../runtime/rtmp/chunk-decoder.ts';
import { ServerHandshake } from '../../runtime/rtmp/handshake.ts';
import { RtmpeGate } from '../../runtime/rtmp/rtmpe.ts';
import { parseRtmptTarget } from '../../runtime/rtmp/rtmpt-request.ts';
import { RtmptSession } from '../../runtime/rtmp/rtmpt-session.ts';
import { MessageType, type RtmpMessage } from '../../runtime/rtmp/message.ts';
import { parseDeliveryDirectives, parseHlsPath } from '../../runtime/media/hls/hls-request.ts';
import { parseRange } from '../../runtime/media/hls/http-answers.ts';
import { mutateBytes, slices, splitLengths, type Rng } from './mutators.ts';
import { amf0Seeds, amf3Seeds, encodeSession, handshakeSeeds, mutateSession, resignC1, rtmpeSeeds, rtmptSeeds, sessionSeeds } from './seeds.ts';

export interface FuzzTarget {
  readonly name: string;
  /** Builds the next input (mutation happens outside the timed region). */
  next(rng: Rng): Buffer;
  /** Lengths of the successive push() calls the input is fed in ([length]: all at once). */
  split(input: Buffer, rng: Rng): number[];
  /** Feeds one input; throws whatever the code under test throws. */
  run(input: Buffer, split: readonly number[]): void;
}

export type Outcome = 'accepted' | 'rejected' | 'masked' | 'crash';

/**
 * rejected: a ProtocolError, as designed. masked: an AmfError whose cause is not a ProtocolError,
 * i.e. the AMF safety net (asAmfError) turned an internal TypeError/RangeError into a clean
 * rejection; not a crash by the rules, but worth a look, so it is reported apart.
 */
export function classify(error: unknown): Outcome {
  if (!(error instanceof ProtocolError)) return 'crash';
  if (error instanceof AmfError && error.cause !== undefined && !(error.cause instanceof ProtocolError)) return 'masked';
  return 'rejected';
}

/** Same dispatch as RtmpConnection: AMF bodies (minus the AMF3 format byte) and aggregates are parsed. */
function parseLikeConnection(message: RtmpMessage): void {
  switch (message.type) {
    case MessageType.CommandAmf3:
    case MessageType.DataAmf3:
      decodeAmf0(message.payload.length > 0 && message.payload[0] === 0 ? message.payload.subarray(1) : message.payload);
      return;
    case MessageType.CommandAmf0:
    case MessageType.DataAmf0:
      decodeAmf0(message.payload);
      return;
    case MessageType.Aggregate:
      splitAggregate(message);
      return;
    default:
  }
}

/**
 * Feeds RTMPT request lines ("<path> <body>") through the router and, for session "S", into one
 * RtmptSession whose RTMP side is a sink: sequence numbers in any order, replays, gaps, closes.
 * Held polls and waiting requests are answered when the session is destroyed at the end.
 */
function runRtmptLines(input: Buffer): void {
  const session = new RtmptSession('S', { kind: 'http', remoteAddress: '127.0.0.1', idleTimeoutMs: 1e9, pollHoldMs: 1e9, onGone: () => undefined });
  session.bind({ data: () => session.write([Buffer.from('answer')]), drain: () => undefined, closed: () => undefined });
  const ignore = () => undefined;
  try {
    for (const line of input.toString('latin1').split('\n')) {
      const space = line.indexOf(' ');
      const route = parseRtmptTarget(space < 0 ? line : line.slice(0, space));
      if (!route || route.kind === 'invalid' || route.kind === 'ident' || route.kind === 'open' || route.id !== 'S') continue;
      session.request(route.kind, route.seq, Buffer.from(space < 0 ? '' : line.slice(space + 1), 'latin1'), ignore);
    }
  } finally {
    session.destroy();
  }
}

function pickSeed(seeds: readonly Buffer[], rng: Rng): Buffer {
  const seed = rng.pick(seeds);
  return rng.chance(0.03) ? seed : mutateBytes(seed, rng, seeds);
}

/** HLS request targets and Range headers ("<target>\n<range>"), as the HLS routes read them. */
const HLS_SEEDS = [
  '/live/cam/index.m3u8?_HLS_msn=12&_HLS_part=3\nbytes=0-99',
  '/live/_definst_/cam/14r8s2fq68-p17.m4s\nbytes=-500',
  '/app/inst/sub/stream/14r8s2fq68-init-0.mp4\nbytes=100-',
  '/live/f4f%3Alivestream/14r8s2fq68-12.m4s?x=1\nbytes=0-0,5-9',
  '/live/rec/vod-tw2omxbp29hu-init-0.mp4\n',
  '/live/rec/vod.m3u8?_HLS_msn=1&_HLS_msn=2\nitems=1-2',
].map((s) => Buffer.from(s, 'latin1'));

function parseHlsRequest(input: Buffer): void {
  const [target = '', range = ''] = input.toString('latin1').split('\n');
  let url: URL;
  try {
    url = new URL(target, 'http://host');
  } catch {
    return; // the server answers 400 before any route sees such a target
  }
  parseHlsPath(url.pathname);
  parseDeliveryDirectives(url.searchParams);
  parseRange(range, 1000);
}

export function createTargets(): FuzzTarget[] {
  const sessions = sessionSeeds();
  const encodedSessions = sessions.map((s) => encodeSession(s));
  const hsSeeds = handshakeSeeds(encodedSessions[0]!.subarray(0, 600));
  const rtmpe = rtmpeSeeds(encodedSessions[0]!.subarray(0, 600));
  const rtmpt = rtmptSeeds();
  // Generous: the fuzzer must reach the key exchange on every input, not the rate budget.
  const rtmpeGate = new RtmpeGate(1e9);
  const a0 = amf0Seeds();
  const a3 = amf3Seeds();
  const limits = { maxMessageBytes: DEFAULT_CONFIG.rtmp.maxMessageBytes, maxChunkStreams: DEFAULT_CONFIG.rtmp.maxChunkStreams };

  return [
    {
      name: 'handshake',
      next: (rng) => {
        const input = pickSeed(hsSeeds, rng);
        return rng.chance(0.3) ? resignC1(input, rng) : input;
      },
      split: (input, rng) => splitLengths(input.length, rng),
      run: (input, split) => {
        const hs = new ServerHandshake();
        for (const piece of slices(input, split)) hs.push(piece);
      },
    },
    {
      name: 'chunk-decoder',
      next: (rng) =>
        rng.chance(0.8)
          ? mutateSession(rng.pick(sessions), rng, a0, rng.chance(0.3))
          : pickSeed(encodedSessions, rng),
      // Now and then byte by byte: every header then straddles pushes (the carry path).
      split: (input, rng) => (input.length < 4096 && rng.chance(0.05) ? new Array<number>(input.length).fill(1) : splitLengths(input.length, rng, 6)),
      run: (input, split) => {
        const decoder = new ChunkDecoder(limits);
        for (const piece of slices(input, split)) decoder.push(piece, parseLikeConnection);
      },
    },
    {
      name: 'rtmpe-handshake',
      // Re-signed (as a client would, either scheme) most of the time, so mutations of the DH key reach the key exchange.
      next: (rng) => {
        const input = pickSeed(rtmpe, rng);
        return rng.chance(0.7) ? resignC1(input, rng) : input;
      },
      split: (input, rng) => splitLengths(input.length, rng),
      run: (input, split) => {
        const hs = new ServerHandshake(rtmpeGate);
        for (const piece of slices(input, split)) hs.push(piece);
      },
    },
    { name: 'rtmpt-requests', next: (rng) => pickSeed(rtmpt, rng), split: (input) => [input.length], run: (input) => runRtmptLines(input) },
    { name: 'amf0', next: (rng) => pickSeed(a0, rng), split: (input) => [input.length], run: (input) => void decodeAmf0(input) },
    { name: 'amf3', next: (rng) => pickSeed(a3, rng), split: (input) => [input.length], run: (input) => void decodeAmf3Value(input) },
    { name: 'hls-request', next: (rng) => pickSeed(HLS_SEEDS, rng), split: (input) => [input.length], run: (input) => parseHlsRequest(input) },
  ];
}

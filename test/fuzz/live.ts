/**
 * Live phase: the real Server on 127.0.0.1 (port 0) in this process, attacked over loopback TCP by
 * batches of connections that complete a real handshake and then send mutated chunk streams (a few
 * send mutated handshakes instead). After every batch a normal NetConnection must still get
 * Connect.Success. Crashes here are: an uncaught exception (it would have killed a standalone
 * server), a connection closed by an error that is neither a ProtocolError nor a socket error, a
 * failed health check, or the well-behaved publisher being dropped; a hang is the event loop
 * blocked for more than HANG_MS.
 */
import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { Writable } from 'node:stream';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { DEFAULT_CONFIG, mergeConfig } from '../../runtime/config.ts';
import { ProtocolError } from '../../runtime/errors.ts';
import { ClientHandshake } from '../../runtime/rtmp/handshake.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { Server } from '../../runtime/server.ts';
import { tempDir } from '../helpers/test-server.ts';
import type { Findings } from './findings.ts';
import { HANG_MS } from './in-process-protocol.ts';
import { mutateBytes, slices, splitLengths, Rng } from './mutators.ts';
import {
  AAC_CONFIG, AVC_CONFIG, BASE_STREAM, FUZZ_APP, amf0Seeds, encodeSession, handshakeSeeds, mutateSession, resignC1, sessionSeeds, videoFrame,
} from './seeds.ts';

const BATCH_SIZE = 24;
/** How long a fuzz connection stays open after its last byte (long enough for the server to act). */
const LINGER_MS = 150;
const HANDSHAKE_TIMEOUT_MS = 3000;
const HEALTH_TIMEOUT_MS = 5000;

export interface LiveStats {
  connections: number;
  rawHandshakes: number;
  closedByServer: number;
  leftOpen: number;
  handshakeTimeouts: number;
  batches: number;
  healthChecksPassed: number;
  maxEventLoopGapMs: number;
  serverErrorLogs: string[];
}

interface LiveInput {
  /** true: `bytes` replace the handshake; false: `bytes` follow a real handshake. */
  raw: boolean;
  bytes: Buffer;
}

/** Counts the server's error-level log lines (level ≥ 50) and keeps a few for the report. */
class ErrorLogTap extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() && (JSON.parse(line) as { level?: number }).level! >= 50) this.lines.push(line.slice(0, 300));
    }
    done();
  }
}

/** Socket errors (resets, broken pipes) are what fuzzing a peer looks like; anything else is a bug. */
function isInternalError(error: Error): boolean {
  return !(error instanceof ProtocolError) && !('syscall' in error);
}

function inputFor(seed: number, index: number, corpus: ReturnType<typeof liveCorpus>): { input: LiveInput; rng: Rng } {
  const rng = new Rng(seed, 1_000_000 + index);
  if (rng.chance(0.08)) {
    const hs = mutateBytes(rng.pick(corpus.handshakes), rng, corpus.handshakes);
    return { input: { raw: true, bytes: rng.chance(0.5) ? resignC1(hs, rng) : hs }, rng };
  }
  const bytes = rng.chance(0.9)
    ? mutateSession(rng.pick(corpus.sessions), rng, corpus.amf0, rng.chance(0.7))
    : mutateBytes(rng.pick(corpus.encoded), rng, corpus.encoded);
  return { input: { raw: false, bytes }, rng };
}

function liveCorpus() {
  const sessions = sessionSeeds();
  const encoded = sessions.map((s) => encodeSession(s));
  return { sessions, encoded, amf0: amf0Seeds(), handshakes: handshakeSeeds(encoded[0]!.subarray(0, 600)) };
}

type AttackResult = 'closed' | 'open' | 'handshake-timeout';

/** One fuzz connection; `onLocalPort` lets the server-side close handler find the input. */
function attack(port: number, input: LiveInput, rng: Rng, onLocalPort: (localPort: number) => void): Promise<AttackResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let handshakeDone = input.raw;
    let finished = false;
    let timer = setTimeout(() => finish(handshakeDone ? 'open' : 'handshake-timeout'), HANDSHAKE_TIMEOUT_MS);
    const finish = (result: AttackResult) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const sendAll = () => {
      for (const piece of slices(input.bytes, splitLengths(input.bytes.length, rng, 3))) if (!socket.destroyed) socket.write(piece);
      clearTimeout(timer);
      timer = setTimeout(() => finish('open'), LINGER_MS);
    };
    socket.on('error', () => {}); // resets are expected: the server closes bad peers
    socket.once('close', () => finish(handshakeDone ? 'closed' : 'handshake-timeout'));
    socket.once('connect', () => {
      onLocalPort(socket.localPort ?? 0);
      if (input.raw) return sendAll();
      const hs = new ClientHandshake();
      socket.write(hs.start());
      const onData = (data: Buffer) => {
        let step;
        try {
          step = hs.push(data);
        } catch {
          return finish('handshake-timeout'); // the server's S0/S1 was unusable: counted, not thrown
        }
        if (step.send) socket.write(step.send);
        if (!step.done) return;
        socket.off('data', onData);
        handshakeDone = true;
        sendAll();
      };
      socket.on('data', onData);
    });
  });
}

/** A well-behaved publisher on BASE_STREAM (synthetic H.264/AAC, 25 fps) so fuzzed players get media. */
async function startBasePublisher(url: string, onLost: (reason: string) => void): Promise<() => void> {
  const nc = new NetConnection();
  await nc.connect(url);
  const ns = await nc.createStream();
  await ns.publish(BASE_STREAM);
  ns.sendMedia(MessageType.Video, 0, AVC_CONFIG);
  ns.sendMedia(MessageType.Audio, 0, AAC_CONFIG);
  let frame = 0;
  const audio = Buffer.concat([Buffer.from([0xaf, 0x01]), Buffer.alloc(200, 0x11)]);
  const timer = setInterval(() => {
    ns.sendMedia(MessageType.Video, frame * 40, videoFrame(frame % 25 === 0, 1500));
    ns.sendMedia(MessageType.Audio, frame * 40, audio);
    frame++;
  }, 40);
  let stopping = false;
  nc.on('close', (reason) => {
    clearInterval(timer);
    if (!stopping) onLost(reason);
  });
  return () => {
    stopping = true;
    clearInterval(timer);
    nc.close();
  };
}

async function healthCheck(url: string): Promise<string | null> {
  const nc = new NetConnection({ connectTimeoutMs: HEALTH_TIMEOUT_MS });
  try {
    const info = await nc.connect(url);
    return info.code === 'NetConnection.Connect.Success' ? null : `connect answered ${info.code}`;
  } catch (error) {
    return (error as Error).message;
  } finally {
    nc.close();
  }
}

/** `stop`: asked between batches; true ends the phase before its deadline (long runs). */
export async function runLive(seed: number, deadline: number, maxConnections: number, findings: Findings, stop: () => boolean = () => false): Promise<LiveStats> {
  const appsDir = tempDir('fuzz-apps');
  mkdirSync(`${appsDir}/${FUZZ_APP}`);
  const problems: string[] = [];
  const config = mergeConfig(
    { rtmp: { host: '127.0.0.1', port: 0, handshakeTimeoutMs: 2000, connectTimeoutMs: 2000 }, http: { host: '127.0.0.1', port: 0 }, logLevel: 'error' },
    problems,
    DEFAULT_CONFIG,
  );
  if (problems.length > 0) throw new Error(problems.join('; '));
  config.appsDir = appsDir;
  const logTap = new ErrorLogTap();
  const server = new Server({ config, logDestination: logTap });
  await server.start();
  const url = `rtmp://127.0.0.1:${server.rtmpPort}/${FUZZ_APP}`;
  const stats: LiveStats = {
    connections: 0, rawHandshakes: 0, closedByServer: 0, leftOpen: 0, handshakeTimeouts: 0,
    batches: 0, healthChecksPassed: 0, maxEventLoopGapMs: 0, serverErrorLogs: logTap.lines,
  };
  const corpus = liveCorpus();
  const inFlight = new Map<number, LiveInput>();
  const batchBytes = () => Buffer.concat([...inFlight.values()].map((i) => i.bytes));

  // Watch every post-handshake connection's end: the listener's own close handler keeps errors to
  // itself, and InstanceManager.adopt is the one public point every such connection passes through.
  const adopt = server.instances.adopt.bind(server.instances);
  server.instances.adopt = (connection) => {
    const input = inFlight.get(connection.socket.remotePort ?? -1);
    connection.on('close', (reason, error) => {
      if (!error || !isInternalError(error)) return;
      const signature = `live|close|${error.name}|${error.message.replace(/\d+/g, 'N').slice(0, 120)}`;
      findings.add('crash', 'live', signature, input?.bytes ?? null, `connection closed (${reason}) by a non-protocol error:\n${error.stack ?? error.message}`);
    });
    return adopt(connection);
  };
  const onUncaught = (error: unknown) => {
    const e = error as Error;
    findings.add('crash', 'live', `live|uncaught|${String(e?.message).slice(0, 120)}`, batchBytes(), `uncaught in the server process (inputs of the batch in flight, concatenated):\n${e?.stack ?? String(error)}`);
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);

  let last = Date.now();
  const loopMonitor = setInterval(() => {
    const now = Date.now();
    const gap = now - last - 50;
    last = now;
    stats.maxEventLoopGapMs = Math.max(stats.maxEventLoopGapMs, gap);
    if (gap > HANG_MS) findings.add('hang', 'live', 'live|event-loop-blocked', batchBytes(), `server event loop blocked for ${gap} ms`);
  }, 50);

  const stopPublisher = await startBasePublisher(url, (reason) =>
    findings.add('crash', 'live', 'live|base-publisher-dropped', batchBytes(), `the well-behaved publisher was disconnected: ${reason}`),
  );
  try {
    while (Date.now() < deadline && stats.connections < maxConnections && !stop()) {
      const count = Math.min(BATCH_SIZE, maxConnections - stats.connections);
      const batch = Array.from({ length: count }, (_, k) => inputFor(seed, stats.connections + k, corpus));
      stats.connections += count;
      const results = await Promise.all(batch.map(({ input, rng }) => {
        if (input.raw) stats.rawHandshakes++;
        return attack(server.rtmpPort, input, rng, (localPort) => inFlight.set(localPort, input));
      }));
      for (const result of results) {
        if (result === 'closed') stats.closedByServer++;
        else if (result === 'open') stats.leftOpen++;
        else stats.handshakeTimeouts++;
      }
      stats.batches++;
      const problem = await healthCheck(url);
      if (problem === null) stats.healthChecksPassed++;
      else findings.add('crash', 'live', 'live|health-check', batchBytes(), `after batch ${stats.batches}, a normal NetConnection failed: ${problem}`);
      inFlight.clear();
    }
  } finally {
    stopPublisher();
    clearInterval(loopMonitor);
    await server.close();
    rmSync(appsDir, { recursive: true, force: true });
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
  return stats;
}

/**
 * One relay run: a server pair (relay-servers.ts) and N streams, measured at each step of N. Each
 * stream has an ffmpeg publisher into A, one player on A and one on B (both in this process, so
 * their arrival clocks agree). Per step: warm up, then over a window record server CPU and every
 * video message at both players; a frame seen on A is paired with its copy on B.
 */
import { performance } from 'node:perf_hooks';
import { spread, type Spread } from './percentiles.ts';
import { memory } from './proc-stats.ts';
import { startRelayPair, type RelayKind, type RelayPair } from './relay-servers.ts';
import { startPublisher, type Publisher } from './servers.ts';
import { TaskCpuWindow } from './task-cpu.ts';
import { TimedPlayer, type VideoArrival } from './timed-player.ts';

/** Idle CPU of A (no streams) is measured over this long, after the same settling pause. */
const BASELINE_MS = 2000;
const BASELINE_SETTLE_MS = 500;
/** After the window, B's players keep recording this long so copies of the window's last frames count. */
const TAIL_MS = 500;
/** B's players start recording this much earlier, so a copy that beats its original to the bench still pairs. */
const LEAD_MS = 200;

export interface RelayPoint {
  streams: number;
  /** CPU of server A (and B) over the window, in cores (1.0 = one core). */
  aCores: number;
  bCores: number;
  aRssMib: number;
  /** This process (the 2×N players) over the window, in cores: a saturated bench would skew latency. */
  benchCores: number;
  /** Video messages the A players saw in the window, and how many of those reached the B players. */
  framesAtA: number;
  framesMatched: number;
  /** B arrival − A arrival of the same frame, ms, all streams pooled. */
  latency: Spread;
  /** Most common (B timestamp − A timestamp) of paired frames: 0 when the relay keeps timestamps. */
  timestampShiftMs: number;
  publishersAlive: number;
}

interface Leg {
  publisher: Publisher;
  a: TimedPlayer;
  b: TimedPlayer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function addStream(pair: RelayPair, file: string, name: string): Promise<Leg> {
  const publisher = startPublisher(file, pair.publishUrl(name));
  const a = new TimedPlayer({ digest: true, timeoutMs: 20_000 });
  const b = new TimedPlayer({ digest: true, timeoutMs: 20_000 });
  const leg = { publisher, a, b };
  try {
    await a.start(pair.aPlayUrl, name); // the stream is live on A …
    await b.start(pair.bPlayUrl, name); // … and has been relayed to B
  } catch (error) {
    a.close();
    b.close();
    const ffmpegErr = publisher.alive() ? '' : `; ffmpeg: ${publisher.stderr()}`;
    await publisher.stop();
    throw new Error(`${pair.kind} stream ${name}: ${(error as Error).message}${ffmpegErr}`, { cause: error });
  }
  return leg;
}

/**
 * Pairs frames by payload digest (each frame of the noisy test file is unique within a window far
 * shorter than the 20 s loop), so a relay that rebases timestamps still pairs; the timestamp shift
 * is reported so "paired by timestamp" can be checked.
 */
function pairFrames(a: VideoArrival[], b: VideoArrival[]): { latencies: number[]; shifts: number[] } {
  const atB = new Map<string, VideoArrival>();
  for (const frame of b) if (!atB.has(frame.digest)) atB.set(frame.digest, frame);
  const latencies: number[] = [];
  const shifts: number[] = [];
  for (const frame of a) {
    const copy = atB.get(frame.digest);
    if (!copy) continue;
    latencies.push(copy.atMs - frame.atMs);
    shifts.push(copy.timestamp - frame.timestamp);
  }
  return { latencies, shifts };
}

function mode(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = Number.NaN;
  let bestCount = 0;
  for (const [v, c] of counts) if (c > bestCount) [best, bestCount] = [v, c];
  return best;
}

async function measure(pair: RelayPair, legs: Leg[], windowMs: number): Promise<RelayPoint> {
  for (const leg of legs) {
    leg.a.arrivals.length = 0;
    leg.b.arrivals.length = 0;
    leg.b.recording = true;
  }
  await sleep(LEAD_MS);
  for (const leg of legs) leg.a.recording = true;
  const aCpu = new TaskCpuWindow(pair.aPid);
  const bCpu = new TaskCpuWindow(pair.bPid);
  const benchCpu = process.cpuUsage();
  const benchStart = performance.now();
  await sleep(windowMs);
  const aCores = aCpu.end().cores;
  const bCores = bCpu.end().cores;
  const used = process.cpuUsage(benchCpu);
  const benchCores = (used.user + used.system) / 1000 / (performance.now() - benchStart);
  for (const leg of legs) leg.a.recording = false;
  await sleep(TAIL_MS);
  for (const leg of legs) leg.b.recording = false;
  const latencies: number[] = [];
  const shifts: number[] = [];
  let framesAtA = 0;
  for (const leg of legs) {
    framesAtA += leg.a.arrivals.length;
    const paired = pairFrames(leg.a.arrivals, leg.b.arrivals);
    latencies.push(...paired.latencies);
    shifts.push(...paired.shifts);
  }
  return {
    streams: legs.length,
    aCores,
    bCores,
    aRssMib: memory(pair.aPid).rss / (1024 * 1024),
    benchCores,
    framesAtA,
    framesMatched: latencies.length,
    latency: spread(latencies),
    timestampShiftMs: mode(shifts),
    publishersAlive: legs.filter((l) => l.publisher.alive()).length,
  };
}

export interface RelayRunOptions {
  steps: number[];
  warmupMs: number;
  /**
   * Warm-up before the first (largest) step instead: a fresh Node server spends its first ten-odd
   * seconds of media compiling and growing its heap (TurboFan and GC threads count in /proc),
   * several times its steady-state CPU; nginx-rtmp gets the same schedule.
   */
  primeMs: number;
  windowMs: number;
}

export interface RelayRun {
  /** Server A's CPU with no stream at all (timers, housekeeping), in cores. */
  baselineCores: number;
  points: RelayPoint[];
}

async function removeLeg(leg: Leg): Promise<void> {
  leg.a.close();
  leg.b.close();
  await leg.publisher.stop();
}

/**
 * All streams start at once at the largest step, then are removed step by step (8 → 4 → 1), so
 * every step is measured on a process that has already warmed up under the heaviest load (adding
 * streams step by step charged each step with a fresh burst of warm-up).
 */
export async function runRelay(kind: RelayKind, file: string, opts: RelayRunOptions): Promise<RelayRun> {
  const steps = [...opts.steps].sort((a, b) => b - a);
  const pair = await startRelayPair(kind);
  const legs: Leg[] = [];
  const points: RelayPoint[] = [];
  try {
    await sleep(BASELINE_SETTLE_MS);
    const idle = new TaskCpuWindow(pair.aPid);
    await sleep(BASELINE_MS);
    const baselineCores = idle.end().cores;
    const added = await Promise.allSettled(Array.from({ length: steps[0] ?? 0 }, (_, i) => addStream(pair, file, `s${i}`)));
    for (const result of added) if (result.status === 'fulfilled') legs.push(result.value);
    const failure = added.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    for (const [step, n] of steps.entries()) {
      await Promise.all(legs.splice(n).map(removeLeg));
      await sleep(step === 0 ? opts.primeMs : opts.warmupMs);
      points.push(await measure(pair, legs, opts.windowMs));
    }
    return { baselineCores, points };
  } finally {
    await Promise.all(legs.map(removeLeg));
    await pair.stop();
  }
}

/**
 * One relay run: a server pair (relay-servers.ts) and N streams, measured at each step of N.
 * All N streams come from one publisher-pool process (publisher-pool.ts, clocks staggered over a
 * frame). Every stream has a player on B (its fps shows a relay that falls behind); the first
 * `probes` streams also have a player on A, and those pairs time each frame at both ends (both in
 * this process, one clock) — the added latency and the frames lost. Per step: warm up, then over a
 * window record the servers' CPU, wake-ups and system calls, and every probed video message.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { GC_COUNTER, gcCounts, type GcCounts } from './gc-counts.ts';
import { spread, type Spread } from './percentiles.ts';
import { coresIn, CoreCpuWindow, type Pinning } from './pinning.ts';
import { memory, syscallCounts } from './proc-stats.ts';
import { PublisherPool } from './publishers.ts';
import { startRelayPair, type PairOptions, type RelayKind, type RelayPair } from './relay-servers.ts';
import { processTree, TaskCpuWindow } from './task-cpu.ts';
import { TimedPlayer, type VideoArrival } from './timed-player.ts';

/** Idle CPU of A (no streams) is measured over this long, after the same settling pause. */
const BASELINE_MS = 2000;
const BASELINE_SETTLE_MS = 500;
/** After the window, B's players keep recording this long so copies of the window's last frames count. */
const TAIL_MS = 500;
/** B's players start recording this much earlier, so a copy that beats its original to the bench still pairs. */
const LEAD_MS = 200;
const PLAYER_CONCURRENCY = 20;

export interface RelayPoint {
  streams: number;
  /** CPU of server A (and B) over the window, in cores (1.0 = one core). */
  aCores: number;
  bCores: number;
  aRssMib: number;
  bRssMib: number;
  /** A's system calls and main-thread wake-ups per second over the window. */
  aReadsPerSec: number;
  aWritesPerSec: number;
  aWakeupsPerSec: number;
  /** This process (players) and the publisher pool over the window, in cores. */
  benchCores: number;
  poolCores: number;
  /** Busy fraction of the server CPU(s) and of the tools CPU, whoever used them (null: not pinned). */
  serverCpuBusy: number | null;
  toolCpuBusy: number | null;
  /** Video messages the probe players on A saw in the window, and how many of those reached B. */
  framesAtA: number;
  framesMatched: number;
  /** B arrival − A arrival of the same frame, ms, probed streams pooled. */
  latency: Spread;
  /** Most common (B timestamp − A timestamp) of paired frames: 0 when the relay keeps timestamps. */
  timestampShiftMs: number;
  /** Lowest video frame rate any B player got over the window (25 expected). */
  bFpsMin: number;
  publishersConnected: number;
  /** The publisher pool's largest lateness (its own share of any delay; > a few ms = tools saturated). */
  publisherLateMs: number;
  /** Server A's garbage collection over the window and its memory at the end (--gc, ours only). */
  gc: { scavenges: number; markSweeps: number; gcMs: number; end: GcCounts } | null;
  /** The same for server B when it is ours (--gc): its GC pauses and loop lateness add to the relay's latency. */
  gcB: { scavenges: number; markSweeps: number; gcMs: number; end: GcCounts } | null;
  /** This process's event-loop lateness over the window (p99, max; ms): the probes' own share of any delay. */
  benchLoop: { p99: number; max: number };
}

interface Leg {
  a: TimedPlayer | null;
  b: TimedPlayer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function memoryOrZero(pid: number): { rss: number } {
  try {
    return memory(pid);
  } catch {
    return { rss: 0 }; // gone meanwhile
  }
}

async function addLeg(pair: RelayPair, name: string, probe: boolean): Promise<Leg> {
  const a = probe ? new TimedPlayer({ digest: true, timeoutMs: 20_000 }) : null;
  const b = new TimedPlayer({ digest: probe, timeoutMs: 20_000 });
  try {
    await a?.start(pair.aPlayUrl(name), name); // the stream is live on A …
    await b.start(pair.bPlayUrl(name), name); // … and has been relayed to B
  } catch (error) {
    a?.close();
    b.close();
    throw new Error(`${pair.kind} stream ${name}: ${(error as Error).message}`, { cause: error });
  }
  return { a, b };
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

const BENCH_LOOP_RESOLUTION_MS = 5;

type GcWindow = RelayPoint['gc'];

function gcWindow(gc0: GcCounts | null, gc1: GcCounts | null): GcWindow {
  return gc0 && gc1 ? { scavenges: gc1.scavenges - gc0.scavenges, markSweeps: gc1.markSweeps - gc0.markSweeps, gcMs: gc1.gcMs - gc0.gcMs, end: gc1 } : null;
}

async function measure(pair: RelayPair, pool: PublisherPool, legs: Leg[], windowMs: number, pinning: Pinning, gc: boolean, gcB: boolean): Promise<RelayPoint> {
  for (const leg of legs) {
    if (leg.a) leg.a.arrivals.length = 0;
    leg.b.arrivals.length = 0;
    leg.b.recording = leg.a !== null;
  }
  await sleep(LEAD_MS);
  await pool.request({ cmd: 'stats' }, 'stats'); // resets its lateness
  for (const leg of legs) if (leg.a) leg.a.recording = true;
  const bCounts = legs.map((leg) => leg.b.videoCount);
  const gc0 = gc ? await gcCounts(pair.aPid) : null;
  const gcB0 = gcB ? await gcCounts(pair.bPid) : null;
  const benchLoop = monitorEventLoopDelay({ resolution: BENCH_LOOP_RESOLUTION_MS });
  benchLoop.enable();
  const aTree = processTree(pair.aPid); // a distributed A: its primary and workers
  const aCpu = new TaskCpuWindow(aTree);
  const bCpu = new TaskCpuWindow(pair.bPid);
  const poolCpu = new TaskCpuWindow(pool.pid);
  const cores = new CoreCpuWindow();
  const calls0 = syscallCounts(pair.aPid);
  const benchCpu = process.cpuUsage();
  const started = performance.now();
  await sleep(windowMs);
  const aCores = aCpu.end().cores;
  const bCores = bCpu.end().cores;
  const poolCores = poolCpu.end().cores;
  const perCpu = cores.end();
  const calls1 = syscallCounts(pair.aPid);
  benchLoop.disable();
  const gc1 = gc0 ? await gcCounts(pair.aPid) : null;
  const gcB1 = gcB0 ? await gcCounts(pair.bPid) : null;
  const elapsedSec = (performance.now() - started) / 1000;
  const used = process.cpuUsage(benchCpu);
  const benchCores = (used.user + used.system) / 1000 / (elapsedSec * 1000);
  const bFps = legs.map((leg, i) => (leg.b.videoCount - bCounts[i]!) / elapsedSec);
  for (const leg of legs) if (leg.a) leg.a.recording = false;
  const poolStats = await pool.request({ cmd: 'stats' }, 'stats');
  await sleep(TAIL_MS);
  for (const leg of legs) leg.b.recording = false;
  const latencies: number[] = [];
  const shifts: number[] = [];
  let framesAtA = 0;
  for (const leg of legs) {
    if (!leg.a) continue;
    framesAtA += leg.a.arrivals.length;
    const paired = pairFrames(leg.a.arrivals, leg.b.arrivals);
    latencies.push(...paired.latencies);
    shifts.push(...paired.shifts);
  }
  const MIB = 1024 * 1024;
  return {
    streams: legs.length,
    aCores,
    bCores,
    aRssMib: aTree.reduce((sum, pid) => sum + memoryOrZero(pid).rss, 0) / MIB,
    bRssMib: memory(pair.bPid).rss / MIB,
    aReadsPerSec: (calls1.reads - calls0.reads) / elapsedSec,
    aWritesPerSec: (calls1.writes - calls0.writes) / elapsedSec,
    aWakeupsPerSec: (calls1.wakeups - calls0.wakeups) / elapsedSec,
    benchCores,
    poolCores,
    serverCpuBusy: pinning.serverCpus ? coresIn(pinning.serverCpus, perCpu) : null,
    toolCpuBusy: pinning.toolCpus ? coresIn(pinning.toolCpus, perCpu) : null,
    framesAtA,
    framesMatched: latencies.length,
    latency: spread(latencies),
    timestampShiftMs: mode(shifts),
    bFpsMin: bFps.length ? Math.min(...bFps) : Number.NaN,
    publishersConnected: poolStats.connected,
    publisherLateMs: poolStats.maxLateMs,
    gc: gcWindow(gc0, gc1),
    gcB: gcWindow(gcB0, gcB1),
    benchLoop: {
      p99: Math.max(0, benchLoop.percentile(99) / 1e6 - BENCH_LOOP_RESOLUTION_MS),
      max: Math.max(0, benchLoop.max / 1e6 - BENCH_LOOP_RESOLUTION_MS),
    },
  };
}

export interface RelayRunOptions {
  steps: number[];
  /** Streams that get a player on A too (their frames are timed at both ends). */
  probes: number;
  warmupMs: number;
  /**
   * Warm-up before the first step instead: a fresh Node server spends its first ten-odd
   * seconds of media compiling and growing its heap (TurboFan and GC threads count in /proc),
   * several times its steady-state CPU; nginx-rtmp gets the same schedule.
   */
  primeMs: number;
  windowMs: number;
  pinning: Pinning;
  pair?: Omit<PairOptions, 'pinning'>;
  /** Ours: preload gc-counter.mjs into A and report its collections and memory. */
  gc?: boolean;
}

export interface RelayRun {
  /** Server A's CPU with no stream at all (timers, housekeeping), in cores. */
  baselineCores: number;
  points: RelayPoint[];
}

/** Opens players for streams `from`..`to`-1, PLAYER_CONCURRENCY at a time; the first `probes` streams get an A player too. */
async function openLegs(pair: RelayPair, from: number, to: number, probes: number): Promise<Leg[]> {
  const legs: (Leg | null)[] = new Array(to - from).fill(null);
  let next = from;
  let failure: unknown = null;
  const worker = async () => {
    while (next < to && failure === null) {
      const i = next++;
      try {
        legs[i - from] = await addLeg(pair, `s${i}`, i < probes);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PLAYER_CONCURRENCY, to - from) }, worker));
  const opened = legs.filter((l): l is Leg => l !== null);
  if (failure !== null) {
    for (const leg of opened) closeLeg(leg);
    throw failure;
  }
  return opened;
}

function closeLeg(leg: Leg): void {
  leg.a?.close();
  leg.b.close();
}

/**
 * Steps ascend (10 → 50 → 100) on one server pair: streams are added for each step, so A's RSS at
 * a step is what that many streams need (a process that ran 100 streams first keeps much of its
 * malloc'd peak at 50). The first step warms up for --prime seconds (JIT, heap growth), the later
 * ones for --warmup seconds after their streams were added.
 */
export async function runRelay(kind: RelayKind, file: string, opts: RelayRunOptions): Promise<RelayRun> {
  const steps = [...opts.steps].sort((a, b) => a - b);
  const gc = opts.gc === true && kind === 'ours';
  const gcB = gc && opts.pair?.nginxB !== true;
  const aNodeArgs = [...(opts.pair?.aNodeArgs ?? []), ...(gc ? ['--import', GC_COUNTER] : [])];
  const bNodeArgs = [...(opts.pair?.bNodeArgs ?? []), ...(gcB ? ['--import', GC_COUNTER] : [])];
  const pair = await startRelayPair(kind, { ...opts.pair, aNodeArgs, bNodeArgs, pinning: opts.pinning });
  const pool = new PublisherPool();
  const legs: Leg[] = [];
  const points: RelayPoint[] = [];
  try {
    await sleep(BASELINE_SETTLE_MS);
    const idle = new TaskCpuWindow(pair.aPid);
    await sleep(BASELINE_MS);
    const baselineCores = idle.end().cores;
    const largest = steps.at(-1) ?? 0;
    for (const [step, n] of steps.entries()) {
      const from = legs.length;
      const targets = Array.from({ length: n - from }, (_, i) => pair.publishTarget(`s${from + i}`));
      const started = await pool.request({ cmd: 'start', file, targets, spread: largest }, 'started');
      if (started.failed > 0) throw new Error(`${kind}: ${started.failed} of ${targets.length} publishers could not publish (first: ${started.firstError})`);
      legs.push(...(await openLegs(pair, from, n, opts.probes)));
      await sleep(step === 0 ? opts.primeMs : opts.warmupMs);
      points.push(await measure(pair, pool, legs, opts.windowMs, opts.pinning, gc, gcB));
    }
    return { baselineCores, points };
  } finally {
    for (const leg of legs) closeLeg(leg);
    await pool.stop();
    await pair.stop();
  }
}

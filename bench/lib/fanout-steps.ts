/**
 * The measuring loop of the fan-out benches (bench/fanout.ts, bench/transports.ts): one running
 * server with a publisher, players grown step by step in the load generator; each step warms up,
 * then measures the server's CPU, system calls and wake-ups over a window, and every player's rate.
 */
import { LoadGenerator } from './load-generator.ts';
import { coresIn, CoreCpuWindow, type Pinning } from './pinning.ts';
import { median, memory, syscallCounts } from './proc-stats.ts';
import type { Publisher, ServerProcess } from './servers.ts';
import { TaskCpuWindow } from './task-cpu.ts';

const MIB = 1024 * 1024;
const PUBLISH_SETTLE_MS = 1500;
const BASELINE_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FanoutPoint {
  /** Server CPU over the window, in cores (1.0 = one core). */
  cores: number;
  rssMib: number;
  connected: number;
  failed: number;
  /** Media messages per second per player (decode mode; NaN in count mode): median and minimum over the players. */
  fpsMedian: number;
  fpsMin: number;
  /** kbit/s received per player: median and minimum over the players. */
  kbpsMedian: number;
  kbpsMin: number;
  loadGenCores: number;
  /** Server write system calls and main-thread wake-ups per second. */
  writesPerSec: number;
  wakeupsPerSec: number;
  /** Busy fraction of the server CPU(s) not used by the server, and of the tools CPU (NaN: not pinned). */
  othersOnServerCpu: number;
  toolCpuBusy: number;
}

export interface FanoutSteps {
  /** Players to grow to, in order. */
  players: number[];
  warmupMs: number;
  windowMs: number;
  /** Where the players play from, e.g. rtmp://127.0.0.1:1935/live or rtmps://… */
  url: string;
  stream: string;
  /** A PEM CA the players trust (rtmps). */
  ca?: string;
  /** decode: players decode every message; count: players count bytes after the first message (load-generator players.ts). */
  playerMode?: 'decode' | 'count';
  pinning?: Pinning;
}

/** Measures `server` (publisher already started) at each player count; stops the load generator, not the server. */
export async function measureFanout(server: ServerProcess, publisher: Publisher, steps: FanoutSteps): Promise<{ baseline: number; points: Map<number, FanoutPoint> }> {
  const loadGen = new LoadGenerator();
  const points = new Map<number, FanoutPoint>();
  try {
    await sleep(PUBLISH_SETTLE_MS);
    if (!publisher.alive()) throw new Error(`ffmpeg publisher exited: ${publisher.stderr()}`);
    const base = new TaskCpuWindow(server.pid);
    await sleep(BASELINE_MS);
    const baseline = base.end().cores;
    for (const n of steps.players) {
      const grown = await loadGen.request(
        { cmd: 'grow', url: steps.url, stream: steps.stream, count: n, mode: steps.playerMode ?? 'decode', ...(steps.ca ? { ca: steps.ca } : {}) },
        'grown',
      );
      await sleep(steps.warmupMs);
      await loadGen.request({ cmd: 'reset' }, 'reset');
      const serverCpu = new TaskCpuWindow(server.pid);
      const loadGenCpu = new TaskCpuWindow(loadGen.pid);
      const perCpu = new CoreCpuWindow();
      const calls0 = syscallCounts(server.pid);
      await sleep(steps.windowMs);
      const cpu = serverCpu.end();
      const busy = perCpu.end();
      const calls1 = syscallCounts(server.pid);
      const loadGenCores = loadGenCpu.end().cores;
      const report = await loadGen.request({ cmd: 'report' }, 'report');
      const fps = report.frames.map((f) => (f * 1000) / report.elapsedMs);
      const kbps = report.bytes.map((b) => (b * 8) / report.elapsedMs);
      const seconds = cpu.wallMs / 1000;
      const pinning = steps.pinning;
      points.set(n, {
        cores: cpu.cores,
        rssMib: memory(server.pid).rss / MIB,
        connected: grown.connected,
        failed: grown.failed,
        fpsMedian: steps.playerMode === 'count' ? Number.NaN : median(fps),
        fpsMin: steps.playerMode === 'count' || fps.length === 0 ? Number.NaN : Math.min(...fps),
        kbpsMedian: median(kbps),
        kbpsMin: kbps.length ? Math.min(...kbps) : Number.NaN,
        loadGenCores,
        writesPerSec: (calls1.writes - calls0.writes) / seconds,
        wakeupsPerSec: (calls1.wakeups - calls0.wakeups) / seconds,
        othersOnServerCpu: pinning?.serverCpus ? coresIn(pinning.serverCpus, busy) - cpu.cores : Number.NaN,
        toolCpuBusy: pinning?.toolCpus ? coresIn(pinning.toolCpus, busy) : Number.NaN,
      });
      if (!publisher.alive()) throw new Error(`ffmpeg publisher exited: ${publisher.stderr()}`);
    }
    return { baseline, points };
  } finally {
    await loadGen.stop();
  }
}

/**
 * The measuring loop of the fan-out benches (bench/fanout.ts, bench/transports.ts): one running
 * server with a publisher, players grown step by step in the load generator; each step warms up,
 * then measures the server's CPU over a window and every player's media rate.
 */
import { LoadGenerator } from './load-generator.ts';
import { CpuWindow, median, memory } from './proc-stats.ts';
import type { Publisher, ServerProcess } from './servers.ts';

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
  /** Media messages per second per player: median and minimum over the players. */
  fpsMedian: number;
  fpsMin: number;
  loadGenCores: number;
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
}

/** Measures `server` (publisher already started) at each player count; stops the load generator, not the server. */
export async function measureFanout(server: ServerProcess, publisher: Publisher, steps: FanoutSteps): Promise<{ baseline: number; points: Map<number, FanoutPoint> }> {
  const loadGen = new LoadGenerator();
  const points = new Map<number, FanoutPoint>();
  try {
    await sleep(PUBLISH_SETTLE_MS);
    if (!publisher.alive()) throw new Error(`ffmpeg publisher exited: ${publisher.stderr()}`);
    const base = new CpuWindow(server.pid);
    await sleep(BASELINE_MS);
    const baseline = base.end().cores;
    for (const n of steps.players) {
      const grown = await loadGen.request({ cmd: 'grow', url: steps.url, stream: steps.stream, count: n, ...(steps.ca ? { ca: steps.ca } : {}) }, 'grown');
      await sleep(steps.warmupMs);
      await loadGen.request({ cmd: 'reset' }, 'reset');
      const serverCpu = new CpuWindow(server.pid);
      const loadGenCpu = new CpuWindow(loadGen.pid);
      await sleep(steps.windowMs);
      const cores = serverCpu.end().cores;
      const loadGenCores = loadGenCpu.end().cores;
      const report = await loadGen.request({ cmd: 'report' }, 'report');
      const fps = report.frames.map((f) => (f * 1000) / report.elapsedMs);
      points.set(n, {
        cores,
        rssMib: memory(server.pid).rss / MIB,
        connected: grown.connected,
        failed: grown.failed,
        fpsMedian: median(fps),
        fpsMin: fps.length ? Math.min(...fps) : Number.NaN,
        loadGenCores,
      });
      if (!publisher.alive()) throw new Error(`ffmpeg publisher exited: ${publisher.stderr()}`);
    }
    return { baseline, points };
  } finally {
    await loadGen.stop();
  }
}

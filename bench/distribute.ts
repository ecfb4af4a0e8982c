/**
 * Process distribution benchmark: the largest number of relayed streams server A keeps up with,
 * running its application instances in 1 worker process (no distribution) and in 2.
 *
 *   npm run bench:distribute -- [--processes 1,2] [--streams 50,100,150,200,250,300] [--window 10]
 *                               [--warmup 5] [--prime 10] [--probes 10] [--repeats 1]
 *
 * A is our compiled server running the relayer fixture with one application instance per stream
 * (relayer/<stream>, so scope "instance" spreads them over the workers), started with
 * `--processes n`; every stream is republished to B, nginx-rtmp, a destination cheap enough never to
 * be the bottleneck. One publisher process sends all streams; every stream has a player on B, the
 * first --probes also one on A (added latency, frames lost). Streams are added step by step.
 *
 * A step "keeps up" when no probed frame is lost, every B player gets ≥ 24 of the 25 fps, and the
 * added latency p99 is ≤ 50 ms. Nothing is pinned: A's workers need both CPUs, so the tools (this
 * process, the publisher, nginx) share them — on a 2-core machine the figure is the server's and
 * the tools' together, and the tools' CPU is printed beside it. Never asserts.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { testFlv } from '../test/helpers/media-tools.ts';
import { nginxRtmpAvailable } from '../test/helpers/nginx-rtmp.ts';
import { positiveInteger } from './lib/bench-options.ts';
import { fmt } from './lib/percentiles.ts';
import { loadLine, pinBench } from './lib/pinning.ts';
import { median } from './lib/proc-stats.ts';
import { runRelay, type RelayPoint } from './lib/relay-run.ts';
import { ensureBuilt } from './lib/servers.ts';

const LATENCY_LIMIT_MS = 50;
const MIN_FPS = 24;

function options() {
  const { values } = parseArgs({
    options: {
      processes: { type: 'string', default: '1,2' },
      streams: { type: 'string', default: '50,100,150,200,250,300' },
      window: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '5' },
      prime: { type: 'string', default: '10' },
      probes: { type: 'string', default: '10' },
      repeats: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const list = (raw: string) => [...new Set(raw.split(',').map(Number))].filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b);
  return {
    processes: list(values.processes),
    steps: list(values.streams),
    windowMs: Number(values.window) * 1000,
    warmupMs: Number(values.warmup) * 1000,
    primeMs: Number(values.prime) * 1000,
    probes: positiveInteger('probes', values.probes),
    repeats: positiveInteger('repeats', values.repeats),
  };
}

function keepsUp(p: RelayPoint): boolean {
  return p.framesAtA > 0 && p.framesAtA === p.framesMatched && p.bFpsMin >= MIN_FPS && p.latency.p99 <= LATENCY_LIMIT_MS && p.publishersConnected === p.streams;
}

async function main(): Promise<void> {
  const opts = options();
  if (!nginxRtmpAvailable()) throw new Error('bench:distribute needs nginx-rtmp as the relay destination (apt-get install nginx libnginx-mod-rtmp)');
  ensureBuilt();
  const pinning = pinBench(false);
  const file = testFlv(20, 2500);
  process.stdout.write(`bench:distribute on ${os.cpus().length} CPU(s), node ${process.version}; ${loadLine()}\n  A: fms-runtime relayer, one instance per stream, --processes ${opts.processes.join(' / ')}; B: nginx-rtmp; streams ${opts.steps.join(', ')}\n`);
  const results = new Map<number, RelayPoint[][]>();
  for (let r = 0; r < opts.repeats; r++) {
    for (const processes of opts.processes) {
      const { points } = await runRelay('ours', file, {
        steps: opts.steps,
        probes: opts.probes,
        warmupMs: opts.warmupMs,
        primeMs: opts.primeMs,
        windowMs: opts.windowMs,
        pinning,
        pair: { aArgs: ['--processes', String(processes)], instancePerStream: true, nginxB: true },
      });
      results.set(processes, [...(results.get(processes) ?? []), points]);
      process.stdout.write(`  run ${r + 1} processes ${processes}: ${points.map((p) => `${p.streams}:${keepsUp(p) ? 'ok' : 'NO'} ${fmt(p.aCores * 100, 0)}% p99 ${fmt(p.latency.p99, 1)}ms fps ${fmt(p.bFpsMin, 1)}`).join('  ')}  (${loadLine()})\n`);
    }
  }
  const rows: string[][] = [['processes', 'streams', 'keeps up', 'A CPU% (all processes)', 'A RSS MiB', 'lost', 'added p50', 'p99', 'B fps min', 'tools CPU%', 'pub late ms']];
  const largest = new Map<number, number>();
  for (const [processes, runs] of results) {
    for (const [i, n] of opts.steps.entries()) {
      const at = runs.map((points) => points[i]!).filter(Boolean);
      const m = (pick: (p: RelayPoint) => number) => median(at.map(pick));
      const ok = at.every(keepsUp);
      if (ok && (largest.get(processes) ?? 0) === (i === 0 ? 0 : opts.steps[i - 1]!)) largest.set(processes, n);
      rows.push([
        String(processes), String(n), ok ? 'yes' : 'no', fmt(m((p) => p.aCores) * 100, 1), fmt(m((p) => p.aRssMib), 1),
        fmt(m((p) => p.framesAtA - p.framesMatched), 0), fmt(m((p) => p.latency.p50)), fmt(m((p) => p.latency.p99)), fmt(m((p) => p.bFpsMin), 1),
        fmt(m((p) => (p.benchCores + p.poolCores) * 100), 0), fmt(m((p) => p.publisherLateMs), 1),
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const out = ['', `largest N that keeps up (0 lost, B ≥ ${MIN_FPS} fps, added p99 ≤ ${LATENCY_LIMIT_MS} ms), every smaller step too:`, ...rows.map((r) => `  ${r.map((c, i) => c.padStart(widths[i]!)).join('  ')}`), ''];
  for (const processes of opts.processes) out.push(`  ${processes} process(es): ${largest.get(processes) ?? 0} streams`);
  const one = largest.get(1);
  const two = largest.get(2);
  if (one && two) out.push(`  2 processes ÷ 1: ${fmt(two / one, 2)}× (goal ≥ 1.8×)`);
  out.push(`  ${loadLine()} at the end`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:distribute failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);

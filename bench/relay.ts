/**
 * Relay benchmark: N concurrent ~2.5 Mbit/s streams republished from server A to server B on
 * loopback. Ours: A runs the relayer fixture app (main.asc: server-side NetConnection + NetStream
 * attach/publish to the URIs in the publisher's `?to=`), B a script-less app. Reference, measured in
 * the same invocation: nginx-rtmp A with `push` to nginx-rtmp B.
 *
 *   npm run bench:relay -- [--streams 1,4,8] [--repeats 3] [--window 5] [--warmup 2] [--prime 10]
 *                          [--servers ours,nginx]
 *
 * Each server is its own process (CPU and RSS from /proc); publishers are ffmpeg `-re -stream_loop -1
 * -c copy` of the same test FLV; one player per stream on A and one on B, both in this process so
 * one clock times the same frame at both ends. On one server pair all streams start at once, warm
 * up for --prime seconds (JIT), are measured, then removed down to the next step (warm-up --warmup
 * seconds) and so on. Prints medians over the repeats; never asserts.
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { testFlv } from '../test/helpers/media-tools.ts';
import { nginxRtmpAvailable } from '../test/helpers/nginx-rtmp.ts';
import { fmt } from './lib/percentiles.ts';
import { median } from './lib/proc-stats.ts';
import { runRelay, type RelayPoint } from './lib/relay-run.ts';
import { RELAY_LABEL, type RelayKind } from './lib/relay-servers.ts';

const FPS = 25;

function options() {
  const { values } = parseArgs({
    options: {
      streams: { type: 'string', default: '1,4,8' },
      repeats: { type: 'string', default: '3' },
      window: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      prime: { type: 'string', default: '10' },
      servers: { type: 'string', default: 'ours,nginx' },
    },
    strict: true,
  });
  const servers = values.servers.split(',').map((s) => s.trim()) as RelayKind[];
  if (servers.some((s) => s !== 'ours' && s !== 'nginx')) throw new Error('--servers takes ours and/or nginx');
  return {
    steps: [...new Set(values.streams.split(',').map(Number))].filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b),
    repeats: Math.max(1, Number(values.repeats)),
    windowMs: Number(values.window) * 1000,
    warmupMs: Number(values.warmup) * 1000,
    primeMs: Number(values.prime) * 1000,
    servers,
  };
}

type Options = ReturnType<typeof options>;

interface Cell {
  aPct: number;
  /** Server A CPU ms per second of stream, per relayed stream. */
  msPerStream: number;
  /** The same after subtracting A's idle CPU (no streams). */
  marginalMs: number;
  aRss: number;
  bPct: number;
  benchPct: number;
  framesAtA: number;
  lost: number;
  p50: number;
  p99: number;
  max: number;
  shift: number;
  publishersDown: number;
}

function cell(runs: RelayPoint[], baselineCores: number): Cell {
  const m = (pick: (p: RelayPoint) => number) => median(runs.map(pick));
  return {
    aPct: m((p) => p.aCores) * 100,
    msPerStream: m((p) => (p.aCores * 1000) / p.streams),
    marginalMs: m((p) => ((p.aCores - baselineCores) * 1000) / p.streams),
    aRss: m((p) => p.aRssMib),
    bPct: m((p) => p.bCores) * 100,
    benchPct: m((p) => p.benchCores) * 100,
    framesAtA: m((p) => p.framesAtA),
    lost: m((p) => p.framesAtA - p.framesMatched),
    p50: m((p) => p.latency.p50),
    p99: m((p) => p.latency.p99),
    max: m((p) => p.latency.max),
    shift: m((p) => p.timestampShiftMs),
    publishersDown: Math.max(...runs.map((p) => p.streams - p.publishersAlive)),
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padStart(widths[i]!)).join('  ')}`);
}

interface Results {
  baselines: number[];
  points: Map<number, RelayPoint[]>;
}

function print(opts: Options, results: Map<RelayKind, Results>): void {
  const kinds = [...results.keys()];
  const both = kinds.includes('ours') && kinds.includes('nginx');
  const baseline = (k: RelayKind) => median(results.get(k)!.baselines);
  const cells = (n: number) => new Map(kinds.map((k) => [k, cell(results.get(k)!.points.get(n) ?? [], baseline(k))]));
  const cpu: string[][] = [
    ['streams', ...kinds.flatMap((k) => [`${k} A CPU%`, 'ms/s/stream', 'A RSS MiB', 'B CPU%']), ...(both ? ['ratio ours/nginx', 'excl. idle'] : []), 'bench CPU%'],
  ];
  const media: string[][] = [['streams', 'expected', ...kinds.flatMap((k) => [`${k} frames@A`, 'lost', 'added p50', 'p99', 'max', 'ts shift'])]];
  for (const n of opts.steps) {
    const c = cells(n);
    const row = [String(n)];
    for (const k of kinds) row.push(fmt(c.get(k)!.aPct, 1), fmt(c.get(k)!.msPerStream, 2), fmt(c.get(k)!.aRss, 1), fmt(c.get(k)!.bPct, 1));
    if (both) row.push(`${fmt(c.get('ours')!.msPerStream / c.get('nginx')!.msPerStream, 2)}×`, `${fmt(c.get('ours')!.marginalMs / c.get('nginx')!.marginalMs, 2)}×`);
    row.push(kinds.map((k) => fmt(c.get(k)!.benchPct, 0)).join('/'));
    cpu.push(row);
    const mrow = [String(n), String((FPS * opts.windowMs * n) / 1000)];
    for (const k of kinds) {
      const x = c.get(k)!;
      mrow.push(`${fmt(x.framesAtA, 0)}${x.publishersDown ? ` (${x.publishersDown} pub down)` : ''}`, fmt(x.lost, 0), fmt(x.p50), fmt(x.p99), fmt(x.max), fmt(x.shift, 0));
    }
    media.push(mrow);
  }
  process.stdout.write(
    [
      '',
      `relay A → B, medians of ${opts.repeats} run(s); window ${opts.windowMs / 1000} s after ${opts.warmupMs / 1000} s warm-up (${opts.primeMs / 1000} s at the largest, first, step)`,
      '  A CPU% = server A process CPU (100 = one core): ingest, relay to B, and one player per stream on A;',
      '  ms/s/stream = A CPU ms per second per relayed stream; ratio = ours ms/s/stream ÷ nginx ms/s/stream;',
      '  bench CPU% = this process (the 2×N players), per server',
      '  excl. idle = the same ratio after subtracting each A\'s CPU with no stream (measured before the first step)',
      ...table(cpu),
      `  server A idle (no streams): ${kinds.map((k) => `${k} ${fmt(baseline(k) * 100, 2)}% CPU`).join(', ')}`,
      '',
      '  frames: video messages seen by the A players in the window (expected = 25 fps × window × streams);',
      '  lost = those never seen by the B players (0.5 s tail allowed); added = B arrival − A arrival of the',
      '  same frame, ms, all streams pooled; ts shift = B timestamp − A timestamp of paired frames (0 = kept)',
      ...table(media),
      '',
      '  targets: 0 frames lost; added latency p99 ≤ 5 ms; CPU per relayed stream ≤ 1.5× nginx-rtmp\'s',
    ].join('\n') + '\n',
  );
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.servers.includes('nginx') && !nginxRtmpAvailable()) {
    process.stdout.write('nginx-rtmp not installed (/usr/sbin/nginx + ngx_rtmp_module.so): measuring ours only, no reference\n');
    opts.servers = opts.servers.filter((k) => k !== 'nginx');
  }
  const file = testFlv(20, 2500);
  const kbps = ((statSync(file).size * 8) / 20 / 1000).toFixed(0);
  process.stdout.write(
    `bench:relay on ${os.cpus().length} CPU(s), node ${process.version}; ${opts.servers.map((k) => RELAY_LABEL[k]).join(' vs ')}\n` +
      `  publishers: ffmpeg -re -stream_loop -1 -c copy of ${file} (~${kbps} kbit/s incl. FLV overhead), streams ${opts.steps.join(', ')}\n`,
  );
  const results = new Map<RelayKind, Results>(opts.servers.map((k) => [k, { baselines: [], points: new Map() }]));
  for (let r = 0; r < opts.repeats; r++) {
    // Alternate the order so slow drift (thermal, page cache) does not favour one server.
    const order = r % 2 === 0 ? opts.servers : [...opts.servers].reverse();
    for (const kind of order) {
      const { baselineCores, points } = await runRelay(kind, file, opts);
      const entry = results.get(kind)!;
      entry.baselines.push(baselineCores);
      for (const p of points) entry.points.set(p.streams, [...(entry.points.get(p.streams) ?? []), p]);
      const summary = [...points].reverse().map((p) => `${p.streams}:${fmt(p.aCores * 100, 1)}% lost ${p.framesAtA - p.framesMatched} p99 ${fmt(p.latency.p99)}ms`).join('  ');
      process.stdout.write(`  run ${r + 1}/${opts.repeats} ${kind}: idle ${fmt(baselineCores * 100, 2)}%  ${summary}\n`);
    }
  }
  print(opts, results);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:relay failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1); // the harness itself broke (no figures): unlike a slow result, that must show
  },
);

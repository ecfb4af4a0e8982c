/**
 * Fan-out benchmark: one 2.5 Mbit/s publisher to N players, our server vs node-media-server 4.4.3.
 *
 *   npm run bench:fanout -- [--players 10,50,100,200,400,800] [--repeats 3] [--window 3] [--warmup 1]
 *                           [--stall-seconds 15] [--stall-repeats 1] [--servers ours,nms] [--skip-stall]
 *
 * Each server runs as its own child process (ours: runtime/main.ts), the publisher is ffmpeg
 * `-re -c copy` of a pre-encoded FLV, and the players live in a separate load-generator process, so
 * /proc/<pid>/stat CPU deltas over the measurement window belong to the server alone. Players are
 * added step by step (10 → 50 → …) on one running server; each step warms up, then measures.
 * Prints medians over the repeats and the CPU-per-player ratio; never asserts (CONVENTIONS).
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { testFlv } from '../test/helpers/media-tools.ts';
import { measureFanout, type FanoutPoint } from './lib/fanout-steps.ts';
import { median } from './lib/proc-stats.ts';
import { APP, SERVER_LABEL, STREAM, startPublisher, startServer, type ServerKind } from './lib/servers.ts';
import { printStall, runStall, type StallResult } from './lib/stall.ts';

function options() {
  const { values } = parseArgs({
    options: {
      players: { type: 'string', default: '10,50,100,200,400,800' },
      repeats: { type: 'string', default: '3' },
      window: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      'stall-seconds': { type: 'string', default: '15' },
      'stall-repeats': { type: 'string', default: '1' },
      servers: { type: 'string', default: 'ours,nms' },
      'skip-stall': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const servers = values.servers.split(',').map((s) => s.trim()) as ServerKind[];
  if (servers.some((s) => s !== 'ours' && s !== 'nms')) throw new Error('--servers takes ours and/or nms');
  return {
    players: values.players.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b),
    repeats: Math.max(1, Number(values.repeats)),
    windowMs: Number(values.window) * 1000,
    warmupMs: Number(values.warmup) * 1000,
    stallMs: Number(values['stall-seconds']) * 1000,
    stallRepeats: Math.max(1, Number(values['stall-repeats'])),
    servers,
    skipStall: values['skip-stall'],
  };
}

/** One server process, one publisher, players grown through the list: a Point per player count. */
async function runFanout(kind: ServerKind, file: string, opts: ReturnType<typeof options>): Promise<{ baseline: number; points: Map<number, FanoutPoint> }> {
  const server = await startServer(kind);
  const publisher = startPublisher(file, `rtmp://127.0.0.1:${server.rtmpPort}/${APP}/${STREAM}`);
  try {
    return await measureFanout(server, publisher, { players: opts.players, warmupMs: opts.warmupMs, windowMs: opts.windowMs, url: `rtmp://127.0.0.1:${server.rtmpPort}/${APP}`, stream: STREAM });
  } finally {
    await publisher.stop();
    await server.stop();
  }
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function printFanout(opts: ReturnType<typeof options>, results: Map<ServerKind, { baselines: number[]; points: Map<number, FanoutPoint[]> }>): void {
  const kinds = [...results.keys()];
  const cell = (kind: ServerKind, n: number) => {
    const runs = results.get(kind)!.points.get(n) ?? [];
    const cores = median(runs.map((p) => p.cores));
    const baseline = median(results.get(kind)!.baselines);
    return {
      cpuPct: cores * 100,
      perPlayerMs: (cores * 1000) / n, // ms of server CPU per second of stream, per player
      marginalMs: ((cores - baseline) * 1000) / n, // same, minus the publisher-only (ingest) cost
      rss: median(runs.map((p) => p.rssMib)),
      fps: median(runs.map((p) => p.fpsMedian)),
      fpsMin: median(runs.map((p) => p.fpsMin)),
      connected: Math.min(...runs.map((p) => p.connected)),
      loadGen: median(runs.map((p) => p.loadGenCores)) * 100,
    };
  };
  const both = kinds.length === 2;
  const out: string[] = [
    '',
    `fan-out, medians of ${opts.repeats} run(s); window ${opts.windowMs / 1000} s after ${opts.warmupMs / 1000} s warm-up`,
    '  CPU% = server process CPU (100 = one core); ms/pl = server CPU ms per second per player;',
    '  msg/s = media messages per second per player (median, slowest); LG% = load-generator CPU;',
    '  ratio = ours ms/pl ÷ nms ms/pl; excl. ingest = the same after subtracting the publisher-only CPU',
  ];
  const header = ['players', ...kinds.flatMap((k) => [`${k} CPU%`, 'ms/pl', 'RSS MiB', 'msg/s (min)']), `LG% ${kinds.join('/')}`, ...(both ? ['ratio', 'excl. ingest'] : [])];
  const rows: string[][] = [header];
  for (const n of opts.players) {
    const cells = kinds.map((k) => cell(k, n));
    const row = [String(n)];
    for (const c of cells) row.push(f(c.cpuPct), f(c.perPlayerMs, 3), f(c.rss), `${f(c.fps)} (${f(c.fpsMin)})${c.connected < n ? ` ${c.connected}/${n} up` : ''}`);
    row.push(cells.map((c) => f(c.loadGen, 0)).join('/'));
    if (both) row.push(`${f(cells[0]!.perPlayerMs / cells[1]!.perPlayerMs, 2)}×`, `${f(cells[0]!.marginalMs / cells[1]!.marginalMs, 2)}×`);
    rows.push(row);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) out.push(`  ${r.map((c, i) => c.padStart(widths[i]!)).join('  ')}`);
  out.push(`  publisher only (0 players): ${kinds.map((k) => `${k} ${f(median(results.get(k)!.baselines) * 100)}% CPU`).join(', ')}`);
  if (both) out.push('  target: ratio ≤ 0.80× (ours per-player CPU vs node-media-server)');
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  const opts = options();
  const fanoutFile = testFlv(20, 2500);
  const stallFile = testFlv(20, 4000);
  const kbps = (file: string) => ((statSync(file).size * 8) / 20 / 1000).toFixed(0);
  process.stdout.write(
    `bench:fanout on ${os.cpus().length} CPU(s), node ${process.version}; servers: ${opts.servers.map((k) => SERVER_LABEL[k]).join(' vs ')}\n` +
      `  publisher: ffmpeg -re -stream_loop -1 -c copy of ${fanoutFile} (~${kbps(fanoutFile)} kbit/s incl. FLV overhead)\n` +
      `  players: ${opts.players.join(', ')} (our NetConnection/NetStream in a separate process)\n`,
  );
  const results = new Map(opts.servers.map((k) => [k, { baselines: [] as number[], points: new Map<number, FanoutPoint[]>() }]));
  for (let r = 0; r < opts.repeats; r++) {
    // Alternate the order so slow drift (thermal, page cache) does not favour one server.
    const order = r % 2 === 0 ? opts.servers : [...opts.servers].reverse();
    for (const kind of order) {
      const { baseline, points } = await runFanout(kind, fanoutFile, opts);
      const entry = results.get(kind)!;
      entry.baselines.push(baseline);
      for (const [n, p] of points) entry.points.set(n, [...(entry.points.get(n) ?? []), p]);
      const summary = [...points].map(([n, p]) => `${n}:${f(p.cores * 100)}%${p.failed ? `(${p.failed} failed)` : ''}`).join(' ');
      process.stdout.write(`  run ${r + 1}/${opts.repeats} ${kind}: ${summary}\n`);
    }
  }
  printFanout(opts, results);
  if (opts.skipStall) return;
  const stall: StallResult[] = [];
  for (let r = 0; r < opts.stallRepeats; r++) {
    for (const kind of opts.servers) stall.push(await runStall(kind, stallFile, opts.stallMs));
  }
  printStall(stall, opts.stallMs, kbps(stallFile));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:fanout failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1); // the harness itself broke (no figures): unlike a slow result, that must show
  },
);

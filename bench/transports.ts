/**
 * Transport benchmark: what RTMPS and RTMPT cost against plain RTMP, measured in one invocation.
 *
 *   npm run bench:transports -- [--players 100,400] [--repeats 3] [--window 3] [--warmup 1]
 *                               [--rtmpt-players 50] [--timed 5] [--latency-seconds 8] [--skip-fanout] [--skip-rtmpt]
 *
 * 1. Fan-out CPU per player, RTMPS vs RTMP: our server as its own process (runtime/main.ts with a
 *    certificate from a CA this bench makes with openssl), ffmpeg `-re -c copy` publishing the
 *    2.5 Mbit/s test FLV over RTMP, players (our NetConnection) in the load-generator process over
 *    rtmps:// or rtmp://, grown 100 → 400. /proc CPU of the server over the window, per player.
 * 2. RTMPT, 50 players of the same stream: a paced publisher (our client, in this process) sends
 *    each tag when due; --timed of the players run here and timestamp every video frame on the
 *    publisher's clock (latency = arrival − the tag's send), the rest in the load generator. The
 *    same run over plain RTMP is the reference: "added by RTMPT" is the difference. Every player's
 *    message rate is compared with the publisher's (a starved player shows as a low minimum).
 * Order alternates between repeats; medians over --repeats are printed. Never asserts (CONVENTIONS).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readFlvTags } from '../runtime/media/flv-file.ts';
import { MessageType } from '../runtime/rtmp/message.ts';
import { testFlv } from '../test/helpers/media-tools.ts';
import { makeTlsFixtures, type TlsFixtures } from '../test/helpers/tls-fixtures.ts';
import { LoadGenerator } from './lib/load-generator.ts';
import { PacedPublisher } from './lib/paced-publisher.ts';
import { fmt, spread } from './lib/percentiles.ts';
import { measureFanout, type FanoutPoint } from './lib/fanout-steps.ts';
import { CpuWindow, freePort, median } from './lib/proc-stats.ts';
import { APP, STREAM, startPublisher, startServer, type ServerProcess } from './lib/servers.ts';
import { TimedPlayer } from './lib/timed-player.ts';

const PUBLISH_SETTLE_MS = 1500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function options() {
  const { values } = parseArgs({
    options: {
      players: { type: 'string', default: '100,400' },
      repeats: { type: 'string', default: '3' },
      window: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      'rtmpt-players': { type: 'string', default: '50' },
      timed: { type: 'string', default: '5' },
      'latency-seconds': { type: 'string', default: '8' },
      'skip-fanout': { type: 'boolean', default: false },
      'skip-rtmpt': { type: 'boolean', default: false },
    },
    strict: true,
  });
  return {
    players: values.players.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b),
    repeats: Math.max(1, Number(values.repeats)),
    windowMs: Number(values.window) * 1000,
    warmupMs: Number(values.warmup) * 1000,
    rtmptPlayers: Math.max(1, Number(values['rtmpt-players'])),
    timed: Math.max(1, Number(values.timed)),
    latencyMs: Number(values['latency-seconds']) * 1000,
    skipFanout: values['skip-fanout'],
    skipRtmpt: values['skip-rtmpt'],
  };
}
type Options = ReturnType<typeof options>;

/** Our server with every door: RTMPS on its own port with the bench CA's certificate, RTMPT on HTTP. */
async function startOurServer(tlsFiles: TlsFixtures): Promise<ServerProcess & { rtmpsPort: number }> {
  const rtmpsPort = await freePort();
  const config = path.join(tlsFiles.dir, 'bench-config.json');
  // Every player comes from 127.0.0.1: the per-IP connection budgets are lifted (as startOurs does without a config).
  writeFileSync(config, JSON.stringify({ rtmps: { host: '127.0.0.1', cert: tlsFiles.cert, key: tlsFiles.key }, rtmp: { host: '127.0.0.1', maxConnectionsPerIp: 100_000 }, http: { maxConnectionsPerIp: 100_000 } }));
  const server = await startServer('ours', { extraArgs: ['--config', config, '--rtmps-port', String(rtmpsPort)] });
  return Object.assign(server, { rtmpsPort });
}

// ---- 1. fan-out CPU, RTMPS vs RTMP -------------------------------------------------------------

async function runFanout(scheme: 'rtmp' | 'rtmps', file: string, tlsFiles: TlsFixtures, opts: Options): Promise<{ baseline: number; points: Map<number, FanoutPoint> }> {
  const server = await startOurServer(tlsFiles);
  const publisher = startPublisher(file, `rtmp://127.0.0.1:${server.rtmpPort}/${APP}/${STREAM}`);
  try {
    const url = scheme === 'rtmps' ? `rtmps://127.0.0.1:${server.rtmpsPort}/${APP}` : `rtmp://127.0.0.1:${server.rtmpPort}/${APP}`;
    return await measureFanout(server, publisher, { players: opts.players, warmupMs: opts.warmupMs, windowMs: opts.windowMs, url, stream: STREAM, ca: tlsFiles.caPem });
  } finally {
    await publisher.stop();
    await server.stop();
  }
}

async function fanout(file: string, tlsFiles: TlsFixtures, opts: Options): Promise<void> {
  const schemes = ['rtmp', 'rtmps'] as const;
  const results = new Map(schemes.map((s) => [s, { baselines: [] as number[], points: new Map<number, FanoutPoint[]>() }]));
  for (let r = 0; r < opts.repeats; r++) {
    const order = r % 2 === 0 ? schemes : [...schemes].reverse();
    for (const scheme of order) {
      const { baseline, points } = await runFanout(scheme, file, tlsFiles, opts);
      const entry = results.get(scheme)!;
      entry.baselines.push(baseline);
      for (const [n, p] of points) entry.points.set(n, [...(entry.points.get(n) ?? []), p]);
      process.stdout.write(`  run ${r + 1}/${opts.repeats} ${scheme}: ${[...points].map(([n, p]) => `${n}:${fmt(p.cores * 100, 1)}%${p.connected < n ? ` (${p.connected} up)` : ''}`).join(' ')}\n`);
    }
  }
  const rows: string[][] = [['players', 'rtmp CPU%', 'ms/pl', 'msg/s (min)', 'rtmps CPU%', 'ms/pl', 'msg/s (min)', 'LG% rtmp/rtmps', 'RTMPS ÷ RTMP', 'excl. ingest']];
  for (const n of opts.players) {
    const cell = (scheme: 'rtmp' | 'rtmps') => {
      const runs = results.get(scheme)!.points.get(n) ?? [];
      const cores = median(runs.map((p) => p.cores));
      const baseline = median(results.get(scheme)!.baselines);
      return {
        cores,
        perPlayerMs: (cores * 1000) / n,
        marginalMs: ((cores - baseline) * 1000) / n,
        fps: median(runs.map((p) => p.fpsMedian)),
        fpsMin: median(runs.map((p) => p.fpsMin)),
        connected: Math.min(...runs.map((p) => p.connected)),
        loadGen: median(runs.map((p) => p.loadGenCores)) * 100,
      };
    };
    const a = cell('rtmp');
    const b = cell('rtmps');
    const up = (c: typeof a) => (c.connected < n ? ` ${c.connected}/${n} up` : '');
    rows.push([
      String(n),
      fmt(a.cores * 100, 1), fmt(a.perPlayerMs, 3), `${fmt(a.fps, 1)} (${fmt(a.fpsMin, 1)})${up(a)}`,
      fmt(b.cores * 100, 1), fmt(b.perPlayerMs, 3), `${fmt(b.fps, 1)} (${fmt(b.fpsMin, 1)})${up(b)}`,
      `${fmt(a.loadGen, 0)}/${fmt(b.loadGen, 0)}`,
      `${fmt(b.perPlayerMs / a.perPlayerMs, 2)}×`, `${fmt(b.marginalMs / a.marginalMs, 2)}×`,
    ]);
  }
  printTable(
    [
      `fan-out CPU per player, RTMPS vs RTMP: medians of ${opts.repeats} run(s); window ${opts.windowMs / 1000} s after ${opts.warmupMs / 1000} s warm-up`,
      '  CPU% = server process (100 = one core); ms/pl = server CPU ms per second per player; msg/s = media messages',
      '  per second per player (median, slowest); LG% = load-generator CPU; excl. ingest = after subtracting publisher-only CPU',
    ],
    rows,
    [`  publisher only: rtmp ${fmt(median(results.get('rtmp')!.baselines) * 100, 1)}%, rtmps ${fmt(median(results.get('rtmps')!.baselines) * 100, 1)}% CPU; goal: RTMPS ÷ RTMP ≤ 1.30×`],
  );
}

// ---- 2. RTMPT: 50 players keep up, added latency ------------------------------------------------

interface LatencyRun {
  p50: number;
  p99: number;
  /** Media messages per second per player: slowest and median, all players (timed + load generator). */
  minRate: number;
  medianRate: number;
  publisherRate: number;
  connected: number;
  cores: number;
}

async function runLatency(scheme: 'rtmp' | 'rtmpt', file: string, tlsFiles: TlsFixtures, opts: Options): Promise<LatencyRun> {
  const server = await startOurServer(tlsFiles);
  const publisher = new PacedPublisher(file);
  const loadGen = new LoadGenerator();
  const timed = Array.from({ length: Math.min(opts.timed, opts.rtmptPlayers) }, () => new TimedPlayer());
  try {
    await publisher.start(`rtmp://127.0.0.1:${server.rtmpPort}/${APP}`, STREAM);
    await sleep(PUBLISH_SETTLE_MS);
    const url = scheme === 'rtmpt' ? `rtmpt://127.0.0.1:${server.httpPort}/${APP}` : `rtmp://127.0.0.1:${server.rtmpPort}/${APP}`;
    const others = opts.rtmptPlayers - timed.length;
    const grown = others > 0 ? await loadGen.request({ cmd: 'grow', url, stream: STREAM, count: others }, 'grown') : { connected: 0 };
    await Promise.all(timed.map((p) => p.start(url, STREAM)));
    await sleep(2000); // past the GOP-cache burst every late joiner gets
    await loadGen.request({ cmd: 'reset' }, 'reset');
    const counts = timed.map((p) => p.videoCount);
    const allCounts: number[] = [];
    // Send times of the video tags sent from a little before the window on (arrivals in it may be of those).
    const sentAt = new Map<number, number>();
    publisher.onSent = (type, timestamp, atMs) => type === MessageType.Video && sentAt.set(timestamp, atMs - performance.timeOrigin);
    await sleep(500);
    for (const p of timed) p.recording = true;
    const cpu = new CpuWindow(server.pid);
    const started = performance.now();
    await sleep(opts.latencyMs);
    const elapsedSec = (performance.now() - started) / 1000;
    for (const p of timed) p.recording = false;
    publisher.onSent = null;
    const cores = cpu.end().cores;
    const report = others > 0 ? await loadGen.request({ cmd: 'report' }, 'report') : { frames: [], elapsedMs: 1 };
    // Load-generator players count audio + video; the timed ones video only: compare each with the publisher's own mix.
    const tags = readFlvTags(readFileSync(file));
    const durationSec = (tags.at(-1)!.timestamp + 40) / 1000;
    const mediaRate = tags.filter((t) => t.type === 8 || t.type === 9).length / durationSec;
    const videoRate = tags.filter((t) => t.type === 9).length / durationSec;
    for (const f of report.frames) allCounts.push(((f * 1000) / report.elapsedMs) / mediaRate);
    timed.forEach((p, i) => allCounts.push((p.videoCount - counts[i]!) / elapsedSec / videoRate));
    const latencies = timed.flatMap((p) => p.arrivals.filter((a) => sentAt.has(a.timestamp)).map((a) => a.atMs - sentAt.get(a.timestamp)!));
    const s = spread(latencies);
    return { p50: s.p50, p99: s.p99, minRate: Math.min(...allCounts), medianRate: median(allCounts), publisherRate: mediaRate, connected: grown.connected + timed.length, cores };
  } finally {
    for (const p of timed) p.close();
    await loadGen.stop();
    await publisher.stop();
    await server.stop();
  }
}

async function rtmptLatency(file: string, tlsFiles: TlsFixtures, opts: Options): Promise<void> {
  const schemes = ['rtmp', 'rtmpt'] as const;
  const runs = new Map(schemes.map((s) => [s, [] as LatencyRun[]]));
  for (let r = 0; r < opts.repeats; r++) {
    const order = r % 2 === 0 ? schemes : [...schemes].reverse();
    for (const scheme of order) {
      const run = await runLatency(scheme, file, tlsFiles, opts);
      runs.get(scheme)!.push(run);
      process.stdout.write(`  run ${r + 1}/${opts.repeats} ${scheme}: p50 ${fmt(run.p50, 1)} ms, p99 ${fmt(run.p99, 1)} ms, slowest player ${fmt(run.minRate * 100, 0)}% of the publisher's rate, ${run.connected} up, server ${fmt(run.cores * 100, 1)}% CPU\n`);
    }
  }
  const m = (scheme: 'rtmp' | 'rtmpt', pick: (run: LatencyRun) => number) => median(runs.get(scheme)!.map(pick));
  const rows = [['', 'latency p50 ms', 'p99 ms', 'slowest player', 'median player', 'server CPU%']];
  for (const scheme of schemes) {
    rows.push([scheme, fmt(m(scheme, (x) => x.p50), 1), fmt(m(scheme, (x) => x.p99), 1), `${fmt(m(scheme, (x) => x.minRate) * 100, 0)}%`, `${fmt(m(scheme, (x) => x.medianRate) * 100, 0)}%`, fmt(m(scheme, (x) => x.cores) * 100, 1)]);
  }
  rows.push(['added by RTMPT', fmt(m('rtmpt', (x) => x.p50) - m('rtmp', (x) => x.p50), 1), fmt(m('rtmpt', (x) => x.p99) - m('rtmp', (x) => x.p99), 1), '', '', '']);
  printTable(
    [
      `RTMPT, ${opts.rtmptPlayers} players of a 2.5 Mbit/s stream (paced publisher), medians of ${opts.repeats} run(s), ${opts.latencyMs / 1000} s windows`,
      `  latency = video arrival − its send by the publisher (one clock), ${Math.min(opts.timed, opts.rtmptPlayers)} timed players; player rates as % of the publisher's message rate`,
    ],
    rows,
    ['  keeps up: the slowest player near 100%; the plain RTMP run is the reference for the added latency'],
  );
}

function printTable(head: string[], rows: string[][], tail: string[]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const out = ['', ...head, ...rows.map((r) => `  ${r.map((c, i) => c.padStart(widths[i]!)).join('  ')}`), ...tail];
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  const opts = options();
  const file = testFlv(20, 2500);
  const tlsFiles = makeTlsFixtures();
  process.stdout.write(`bench:transports on ${os.cpus().length} CPU(s), node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n  stream: ${file}\n`);
  if (!opts.skipFanout) await fanout(file, tlsFiles, opts);
  if (!opts.skipRtmpt) await rtmptLatency(file, tlsFiles, opts);
  process.stdout.write(`  load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:transports failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);

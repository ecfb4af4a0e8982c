/**
 * Fan-out benchmark: one 2.7 Mbit/s publisher to N players, our server vs nginx-rtmp vs
 * node-media-server 4.4.3, in the same invocation.
 *
 *   npm run bench:fanout -- [--players 10,100,400] [--repeats 3] [--window 10] [--warmup 2]
 *                           [--player count|decode] [--publisher paced|ffmpeg] [--servers ours,nginx,nms] [--no-pin]
 *                           [--stall-seconds 15] [--stall-repeats 1] [--skip-stall]
 *
 * Each server runs as its own child process (ours: the compiled `fms-runtime` command), the
 * publisher sends a pre-encoded FLV at its own pace, and the players live in a separate
 * load-generator process; by default the servers are pinned to CPU 0 and everything else to the
 * last CPU (pinning.ts), so /proc CPU deltas over the window belong to the server alone and the
 * server never shares its core with our own tools. Players are added step by step on one running
 * server; each step warms up, then measures.
 *
 * How to read it:
 *   ms/pl      server CPU ms per second of stream per player; ours/ref = ours ÷ the reference's.
 *              Goal: ≤ 1.2× nginx-rtmp at 100 and 400 players.
 *   kbit/s (min)  what the players received (median, slowest): every player should get the stream's
 *              ~2,700 kbit/s. A lower figure means players fell behind, and then the server's CPU is
 *              not comparable: ours drops media for a player that does not read (bounded queue),
 *              node-media-server and nginx-rtmp buffer it and write it later in bigger pieces.
 *   --player   count (default): players count bytes after their first message, cheap enough that
 *              hundreds keep up on one CPU. decode: every message is decoded by our client (the
 *              project's earlier bench); at a few hundred players it falls behind (see kbit/s min).
 *   --publisher  paced (default): one message per tag when it is due, ~68 messages/s, as a live
 *              encoder sends; ffmpeg: `ffmpeg -re -c copy`, whose FLV muxer groups audio with video into
 *              ~25 bursts/s — each burst is one server wake-up and one write per player, so the figure
 *              per player is lower for every server, for ours most (it writes once per event-loop turn).
 *   wr/s, wake/s  the server's write system calls and main-thread wake-ups per second; nginx-rtmp
 *              sends with send(), which /proc does not count as a write (0 there).
 * Prints medians over the repeats; never asserts (CONVENTIONS).
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { testFlv } from '../test/helpers/media-tools.ts';
import { nginxRtmpAvailable } from '../test/helpers/nginx-rtmp.ts';
import { positiveInteger } from './lib/bench-options.ts';
import { measureFanout, type FanoutPoint } from './lib/fanout-steps.ts';
import { describePinning, loadLine, pinBench, type Pinning } from './lib/pinning.ts';
import { median } from './lib/proc-stats.ts';
import { startPacedPublisher } from './lib/publishers.ts';
import { APP, SERVER_LABEL, STREAM, ensureBuilt, serverKinds, startPublisher, startServer, type Publisher, type ServerKind } from './lib/servers.ts';
import { printStall, runStall, type StallResult } from './lib/stall.ts';

function options() {
  const { values } = parseArgs({
    options: {
      players: { type: 'string', default: '10,100,400' },
      repeats: { type: 'string', default: '3' },
      window: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      player: { type: 'string', default: 'count' },
      publisher: { type: 'string', default: 'paced' },
      'stall-seconds': { type: 'string', default: '15' },
      'stall-repeats': { type: 'string', default: '1' },
      servers: { type: 'string', default: 'ours,nginx,nms' },
      'skip-stall': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.player !== 'count' && values.player !== 'decode') throw new Error('--player takes count or decode');
  if (values.publisher !== 'paced' && values.publisher !== 'ffmpeg') throw new Error('--publisher takes paced or ffmpeg');
  return {
    players: values.players.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b),
    repeats: positiveInteger('repeats', values.repeats),
    windowMs: Number(values.window) * 1000,
    warmupMs: Number(values.warmup) * 1000,
    playerMode: values.player as 'count' | 'decode',
    publisher: values.publisher as 'paced' | 'ffmpeg',
    stallMs: Number(values['stall-seconds']) * 1000,
    stallRepeats: positiveInteger('stall-repeats', values['stall-repeats']),
    servers: serverKinds(values.servers),
    skipStall: values['skip-stall'],
    pin: !values['no-pin'],
  };
}

type Options = ReturnType<typeof options>;

/** One server process, one publisher, players grown through the list: a Point per player count. */
async function runFanout(kind: ServerKind, file: string, opts: Options, pinning: Pinning): Promise<{ baseline: number; points: Map<number, FanoutPoint> }> {
  const server = await startServer(kind, { pinning });
  let publisher: Publisher;
  try {
    publisher = opts.publisher === 'ffmpeg' ? startPublisher(file, `rtmp://127.0.0.1:${server.rtmpPort}/${APP}/${STREAM}`) : await startPacedPublisher(file, `rtmp://127.0.0.1:${server.rtmpPort}/${APP}`, STREAM);
  } catch (error) {
    await server.stop();
    throw error;
  }
  try {
    return await measureFanout(server, publisher, {
      players: opts.players,
      warmupMs: opts.warmupMs,
      windowMs: opts.windowMs,
      url: `rtmp://127.0.0.1:${server.rtmpPort}/${APP}`,
      stream: STREAM,
      playerMode: opts.playerMode,
      pinning,
    });
  } finally {
    await publisher.stop();
    await server.stop();
  }
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function printFanout(opts: Options, results: Map<ServerKind, { baselines: number[]; points: Map<number, FanoutPoint[]> }>): void {
  const kinds = [...results.keys()];
  const refs = kinds.filter((k) => k !== 'ours');
  const hasOurs = kinds.includes('ours');
  const cell = (kind: ServerKind, n: number) => {
    const runs = results.get(kind)!.points.get(n) ?? [];
    const m = (pick: (p: FanoutPoint) => number) => median(runs.map(pick));
    const cores = m((p) => p.cores);
    const baseline = median(results.get(kind)!.baselines);
    return {
      cpuPct: cores * 100,
      perPlayerMs: (cores * 1000) / n, // ms of server CPU per second of stream, per player
      marginalMs: ((cores - baseline) * 1000) / n, // same, minus the publisher-only (ingest) cost
      rss: m((p) => p.rssMib),
      kbps: m((p) => p.kbpsMedian),
      kbpsMin: m((p) => p.kbpsMin),
      fpsMin: m((p) => p.fpsMin),
      connected: Math.min(...runs.map((p) => p.connected)),
      loadGen: m((p) => p.loadGenCores) * 100,
      writes: m((p) => p.writesPerSec),
      wakeups: m((p) => p.wakeupsPerSec),
      others: m((p) => p.othersOnServerCpu) * 100,
      tools: m((p) => p.toolCpuBusy) * 100,
    };
  };
  const out: string[] = [
    '',
    `fan-out, medians of ${opts.repeats} run(s); window ${opts.windowMs / 1000} s after ${opts.warmupMs / 1000} s warm-up; players: ${opts.playerMode}`,
    '  CPU% = server process CPU (100 = one core); ms/pl = server CPU ms per second per player; kbit/s (min) =',
    '  received per player (median, slowest); wr/s, wake/s = server write syscalls and wake-ups per second;',
    '  ours/ref = ours ms/pl ÷ the reference\'s; excl. ingest = the same after subtracting the publisher-only CPU',
  ];
  const header = ['players', ...kinds.flatMap((k) => [`${k} CPU%`, 'ms/pl', 'RSS MiB', 'kbit/s (min)', 'wr/s', 'wake/s']), ...(hasOurs ? refs.flatMap((r) => [`ours/${r}`, 'excl. ingest']) : [])];
  const rows: string[][] = [header];
  const health: string[][] = [['players', ...kinds.flatMap((k) => [`${k}: others on server CPU%`, 'tools CPU%', 'load gen%', ...(opts.playerMode === 'decode' ? ['msg/s min'] : [])])]];
  for (const n of opts.players) {
    const cells = new Map(kinds.map((k) => [k, cell(k, n)]));
    const row = [String(n)];
    const hrow = [String(n)];
    for (const k of kinds) {
      const c = cells.get(k)!;
      row.push(f(c.cpuPct), f(c.perPlayerMs, 3), f(c.rss), `${f(c.kbps, 0)} (${f(c.kbpsMin, 0)})${c.connected < n ? ` ${c.connected}/${n} up` : ''}`, f(c.writes, 0), f(c.wakeups, 0));
      hrow.push(f(c.others), f(c.tools, 0), f(c.loadGen, 0), ...(opts.playerMode === 'decode' ? [f(c.fpsMin)] : []));
    }
    if (hasOurs) {
      const ours = cells.get('ours')!;
      for (const r of refs) row.push(`${f(ours.perPlayerMs / cells.get(r)!.perPlayerMs, 2)}×`, `${f(ours.marginalMs / cells.get(r)!.marginalMs, 2)}×`);
    }
    rows.push(row);
    health.push(hrow);
  }
  const widths = (t: string[][]) => t[0]!.map((_, i) => Math.max(...t.map((r) => (r[i] ?? '').length)));
  for (const t of [rows, health]) {
    const w = widths(t);
    for (const r of t) out.push(`  ${r.map((c, i) => c.padStart(w[i]!)).join('  ')}`);
    out.push('');
  }
  out.push(`  publisher only (0 players): ${kinds.map((k) => `${k} ${f(median(results.get(k)!.baselines) * 100)}% CPU`).join(', ')}`);
  out.push('  goal: ours ≤ 1.2× nginx-rtmp per player at 100 and 400 players');
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.servers.includes('nginx') && !nginxRtmpAvailable()) {
    process.stdout.write('nginx-rtmp not installed (/usr/sbin/nginx + ngx_rtmp_module.so): measuring without it\n');
    opts.servers = opts.servers.filter((k) => k !== 'nginx');
  }
  if (opts.servers.includes('ours')) ensureBuilt();
  const pinning = pinBench(opts.pin);
  const fanoutFile = testFlv(20, 2500);
  const stallFile = testFlv(20, 4000);
  const kbps = (file: string) => ((statSync(file).size * 8) / 20 / 1000).toFixed(0);
  process.stdout.write(
    `bench:fanout on ${os.cpus().length} CPU(s), node ${process.version}; servers: ${opts.servers.map((k) => SERVER_LABEL[k]).join(' vs ')}\n` +
      `  ${describePinning(pinning)}; ${loadLine()}\n` +
      `  publisher: ${opts.publisher === 'ffmpeg' ? 'ffmpeg -re -stream_loop -1 -c copy' : 'paced (one message per tag when due)'} of ${fanoutFile} (~${kbps(fanoutFile)} kbit/s incl. FLV overhead)\n` +
      `  players: ${opts.players.join(', ')} (our NetConnection/NetStream in a separate process, ${opts.playerMode} mode)\n`,
  );
  const results = new Map(opts.servers.map((k) => [k, { baselines: [] as number[], points: new Map<number, FanoutPoint[]>() }]));
  for (let r = 0; r < opts.repeats; r++) {
    // Rotate the order so slow drift (thermal, page cache, other people's jobs) favours no server.
    const order = opts.servers.map((_, i) => opts.servers[(i + r) % opts.servers.length]!);
    for (const kind of order) {
      const { baseline, points } = await runFanout(kind, fanoutFile, opts, pinning);
      const entry = results.get(kind)!;
      entry.baselines.push(baseline);
      for (const [n, p] of points) entry.points.set(n, [...(entry.points.get(n) ?? []), p]);
      const summary = [...points].map(([n, p]) => `${n}:${f(p.cores * 100)}%${p.failed ? `(${p.failed} failed)` : ''}`).join(' ');
      process.stdout.write(`  run ${r + 1}/${opts.repeats} ${kind}: ${summary}  (${loadLine()})\n`);
    }
  }
  printFanout(opts, results);
  process.stdout.write(`  ${loadLine()} at the end\n`);
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

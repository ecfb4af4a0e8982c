/**
 * Relay benchmark: N concurrent ~2.7 Mbit/s 25 fps H.264/AAC streams republished from server A to
 * server B on loopback, for our server, nginx-rtmp and node-media-server in the same invocation.
 *
 *   npm run bench:relay -- [--streams 10,50,100] [--repeats 3] [--window 10] [--warmup 3] [--prime 10]
 *                          [--probes 10] [--servers ours,nginx,nms] [--no-pin]
 *                          [--gc] [--a-node-args "<node flags for our A>"] [--a-args "<server args for our A>"]
 *                          [--b ours|nginx] [--b-node-args "<node flags for our B>"]
 *
 * Ours: A runs the relayer fixture app (main.asc: server-side NetConnection + NetStream attach/publish
 * to the URI in the publisher's `?to=`), B a script-less app, both the compiled build. nginx-rtmp: A
 * `push`es to B. node-media-server 4.4.3: A's push relay to B. Each server is its own process (CPU
 * and RSS from /proc). One publisher process sends all N streams (clocks staggered over a frame, as
 * independent encoders would be); every stream has a player on B, the first --probes streams also one
 * on A, and those pairs time each frame at both ends in this process (one clock).
 *
 * Pinning (default, 2+ CPUs): the servers run on CPU 0, this process, the publisher pool and
 * everything else we start on the last CPU (taskset), so the servers' figures are theirs alone.
 * Other people's processes still run where they like: "others on server CPU" says how much.
 *
 * How to read it:
 *   %/stream   A's CPU per relayed stream, % of one core (ingest + relay out + its probe players);
 *              the goal compares it with nginx-rtmp's in the same run: ratio ≤ 1.5×.
 *   A RSS      server A's resident memory at that N; goal at N = 50: ≤ 3× nginx-rtmp's.
 *   wr/s, wake/s  A's write system calls and main-thread wake-ups per second (the per-message I/O
 *              cost Node pays in its event loop; reads are not comparable: nginx reads with recv()).
 *   added p99  B arrival − A arrival of the same frame (probed streams); goal ≤ 5 ms at N = 100, 0 lost.
 *   B fps min  lowest frame rate of any B player: < 25 means a relay fell behind.
 *   --gc       preloads bench/lib/gc-counter.mjs into our A (and our B): scavenges and mark-sweeps per
 *              1,000 messages, time in GC, the longest pause, how late the event loop ran, and where
 *              the memory is (V8 heap spaces, external buffers).
 *   --b nginx  ours A relays to an nginx-rtmp B (a diagnostic): B's own delay and CPU leave ours' added latency.
 *   bench loop how late the players' process ran its event loop in the window: the probes' own error.
 * A run is only as good as its tools: "tools CPU" near 100 % or "pub late" over a few ms means the
 * bench itself was short of CPU and latency figures include its delays.
 * Prints medians over the repeats; never asserts.
 */
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { readFlvTags } from '../runtime/media/flv-file.ts';
import { MessageType } from '../runtime/rtmp/message.ts';
import { testFlv } from '../test/helpers/media-tools.ts';
import { nginxRtmpAvailable } from '../test/helpers/nginx-rtmp.ts';
import { positiveInteger } from './lib/bench-options.ts';
import { fmt } from './lib/percentiles.ts';
import { describePinning, loadLine, pinBench } from './lib/pinning.ts';
import { median } from './lib/proc-stats.ts';
import { runRelay, type RelayPoint } from './lib/relay-run.ts';
import { RELAY_LABEL, type RelayKind } from './lib/relay-servers.ts';
import { ensureBuilt, serverKinds } from './lib/servers.ts';

const FPS = 25;

function options() {
  const { values } = parseArgs({
    options: {
      streams: { type: 'string', default: '10,50,100' },
      repeats: { type: 'string', default: '3' },
      window: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      prime: { type: 'string', default: '10' },
      probes: { type: 'string', default: '10' },
      servers: { type: 'string', default: 'ours,nginx,nms' },
      'no-pin': { type: 'boolean', default: false },
      gc: { type: 'boolean', default: false },
      'a-node-args': { type: 'string', default: '' },
      'a-args': { type: 'string', default: '' },
      'b-node-args': { type: 'string', default: '' },
      b: { type: 'string', default: 'ours' },
    },
    strict: true,
  });
  return {
    steps: [...new Set(values.streams.split(',').map(Number))].filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b),
    repeats: positiveInteger('repeats', values.repeats),
    windowMs: Number(values.window) * 1000,
    warmupMs: Number(values.warmup) * 1000,
    primeMs: Number(values.prime) * 1000,
    probes: positiveInteger('probes', values.probes),
    servers: serverKinds(values.servers),
    pin: !values['no-pin'],
    gc: values.gc,
    pair: {
      aNodeArgs: values['a-node-args'].split(' ').filter(Boolean),
      aArgs: values['a-args'].split(' ').filter(Boolean),
      bNodeArgs: values['b-node-args'].split(' ').filter(Boolean),
      nginxB: bKind(values.b),
    },
  };
}

/** --b: who receives ours' relays; nginx takes B's own delay and CPU out of ours' added latency (a diagnostic). */
function bKind(value: string): boolean {
  if (value !== 'ours' && value !== 'nginx') throw new Error(`--b must be ours or nginx, not ${value}`);
  return value === 'nginx';
}

type Options = ReturnType<typeof options>;

interface Cell {
  aPct: number;
  pctPerStream: number;
  /** The same after subtracting A's idle CPU (no streams). */
  marginalPct: number;
  aRss: number;
  bPct: number;
  writes: number;
  wakeups: number;
  framesAtA: number;
  lost: number;
  p50: number;
  p99: number;
  max: number;
  shift: number;
  bFpsMin: number;
  publishersDown: number;
  benchPct: number;
  poolPct: number;
  others: number;
  toolBusy: number;
  pubLate: number;
  benchLoopP99: number;
  benchLoopMax: number;
}

function cell(runs: RelayPoint[], baselineCores: number): Cell {
  const m = (pick: (p: RelayPoint) => number) => median(runs.map(pick));
  return {
    aPct: m((p) => p.aCores) * 100,
    pctPerStream: m((p) => (p.aCores * 100) / p.streams),
    marginalPct: m((p) => ((p.aCores - baselineCores) * 100) / p.streams),
    aRss: m((p) => p.aRssMib),
    bPct: m((p) => p.bCores) * 100,
    writes: m((p) => p.aWritesPerSec),
    wakeups: m((p) => p.aWakeupsPerSec),
    framesAtA: m((p) => p.framesAtA),
    lost: m((p) => p.framesAtA - p.framesMatched),
    p50: m((p) => p.latency.p50),
    p99: m((p) => p.latency.p99),
    max: m((p) => p.latency.max),
    shift: m((p) => p.timestampShiftMs),
    bFpsMin: m((p) => p.bFpsMin),
    publishersDown: Math.max(...runs.map((p) => p.streams - p.publishersConnected)),
    benchPct: m((p) => p.benchCores) * 100,
    poolPct: m((p) => p.poolCores) * 100,
    others: m((p) => (p.serverCpuBusy === null ? Number.NaN : p.serverCpuBusy - p.aCores - p.bCores)) * 100,
    toolBusy: m((p) => p.toolCpuBusy ?? Number.NaN) * 100,
    pubLate: m((p) => p.publisherLateMs),
    benchLoopP99: m((p) => p.benchLoop.p99),
    benchLoopMax: m((p) => p.benchLoop.max),
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

/** Ours A's (and B's) garbage collection and memory per step (--gc): collections per 1,000 messages in, pauses, loop lateness, where the memory is. */
function gcTable(opts: Options, runs: Map<number, RelayPoint[]>, messagesPerStreamSec: number): string[] {
  const MIB = 1024 * 1024;
  const rows: string[][] = [['streams', 'server', 'scavenges/1k msg', 'mark-sweeps/1k msg', 'GC ms/s', 'longest GC', 'loop late p99', 'max', 'heap used', 'heap total', 'new space', 'old space', 'external', 'arrayBuffers']];
  for (const n of opts.steps) {
    for (const side of ['gc', 'gcB'] as const) {
      const points = (runs.get(n) ?? []).filter((p) => p[side] !== null);
      if (points.length === 0) continue;
      const g = (p: RelayPoint) => p[side]!;
      const m = (pick: (p: RelayPoint) => number) => median(points.map(pick));
      const perK = (count: (p: RelayPoint) => number) => m((p) => (count(p) * 1000) / (messagesPerStreamSec * n * (opts.windowMs / 1000)));
      const mem = (pick: (e: NonNullable<RelayPoint['gc']>['end']) => number) => fmt(m((p) => pick(g(p).end)) / MIB, 1);
      rows.push([
        String(n),
        side === 'gc' ? 'A' : 'B',
        fmt(perK((p) => g(p).scavenges), 2),
        fmt(perK((p) => g(p).markSweeps), 3),
        fmt(m((p) => g(p).gcMs / (opts.windowMs / 1000)), 1),
        fmt(m((p) => g(p).end.maxPauseMs), 1),
        fmt(m((p) => g(p).end.loopDelay.p99), 1),
        fmt(m((p) => g(p).end.loopDelay.max), 1),
        mem((e) => e.memory.heapUsed),
        mem((e) => e.memory.heapTotal),
        mem((e) => e.spaces['new_space']?.size ?? 0),
        mem((e) => e.spaces['old_space']?.size ?? 0),
        mem((e) => e.memory.external),
        mem((e) => e.memory.arrayBuffers),
      ]);
    }
  }
  if (rows.length === 1) return [];
  return [
    '',
    `  ours garbage collection (--gc; ${fmt(messagesPerStreamSec, 1)} messages/s per stream in; B's per A's messages), ms for pauses and`,
    '  loop lateness (how late a 10 ms timer ran) over the window, memory at its end in MiB:',
    ...table(rows),
  ];
}

function print(opts: Options, results: Map<RelayKind, Results>, messagesPerStreamSec: number): void {
  const kinds = [...results.keys()];
  const refs = kinds.filter((k) => k !== 'ours');
  const hasOurs = kinds.includes('ours');
  const baseline = (k: RelayKind) => median(results.get(k)!.baselines);
  const cells = (n: number) => new Map(kinds.map((k) => [k, cell(results.get(k)!.points.get(n) ?? [], baseline(k))]));
  const ratio = (a: number, b: number) => `${fmt(a / b, 2)}×`;
  const cpu: string[][] = [
    ['streams', ...kinds.flatMap((k) => [`${k} A CPU%`, '%/stream', 'A RSS MiB', 'wr/s', 'wake/s', 'B CPU%']), ...(hasOurs ? refs.flatMap((r) => [`ours/${r} CPU`, 'excl. idle', 'RSS']) : [])],
  ];
  const media: string[][] = [['streams', 'expected', ...kinds.flatMap((k) => [`${k} frames@A`, 'lost', 'added p50', 'p99', 'max', 'ts shift', 'B fps min'])]];
  const tools: string[][] = [['streams', ...kinds.flatMap((k) => [`${k}: others on server CPU%`, 'tools CPU%', 'bench%', 'pub pool%', 'pub late ms', 'bench loop p99', 'max'])]];
  for (const n of opts.steps) {
    const c = cells(n);
    const row = [String(n)];
    for (const k of kinds) {
      const x = c.get(k)!;
      row.push(fmt(x.aPct, 1), fmt(x.pctPerStream, 3), fmt(x.aRss, 1), fmt(x.writes, 0), fmt(x.wakeups, 0), fmt(x.bPct, 1));
    }
    if (hasOurs) {
      const ours = c.get('ours')!;
      for (const r of refs) row.push(ratio(ours.pctPerStream, c.get(r)!.pctPerStream), ratio(ours.marginalPct, c.get(r)!.marginalPct), ratio(ours.aRss, c.get(r)!.aRss));
    }
    cpu.push(row);
    const probed = Math.min(n, opts.probes);
    const mrow = [String(n), String((FPS * opts.windowMs * probed) / 1000)];
    for (const k of kinds) {
      const x = c.get(k)!;
      mrow.push(`${fmt(x.framesAtA, 0)}${x.publishersDown ? ` (${x.publishersDown} pub down)` : ''}`, fmt(x.lost, 0), fmt(x.p50), fmt(x.p99), fmt(x.max), fmt(x.shift, 0), fmt(x.bFpsMin, 1));
    }
    media.push(mrow);
    const trow = [String(n)];
    for (const k of kinds) {
      const x = c.get(k)!;
      trow.push(fmt(x.others, 1), fmt(x.toolBusy, 0), fmt(x.benchPct, 0), fmt(x.poolPct, 0), fmt(x.pubLate, 1), fmt(x.benchLoopP99, 1), fmt(x.benchLoopMax, 1));
    }
    tools.push(trow);
  }
  process.stdout.write(
    [
      '',
      `relay A → B, medians of ${opts.repeats} run(s); window ${opts.windowMs / 1000} s after ${opts.warmupMs / 1000} s warm-up (${opts.primeMs / 1000} s at the first step); streams added step by step`,
      '  A CPU% = server A process CPU (100 = one core): ingest, relay to B, and a player on the probed streams;',
      '  %/stream = A CPU% per relayed stream; ours/ref = ours %/stream ÷ the reference\'s; excl. idle = the same',
      '  after subtracting each A\'s CPU with no stream; RSS = ours A RSS ÷ the reference\'s; wr/s = A write',
      '  system calls per second; wake/s = A main-thread wake-ups (voluntary context switches) per second',
      ...table(cpu),
      `  server A idle (no streams): ${kinds.map((k) => `${k} ${fmt(baseline(k) * 100, 2)}% CPU`).join(', ')}`,
      '',
      `  frames: video messages seen by the A players of the first ${opts.probes} streams in the window (expected = 25 fps × window ×`,
      '  probed streams); lost = those never seen by the B players (0.5 s tail allowed); added = B arrival − A arrival',
      '  of the same frame, ms, probed streams pooled; ts shift = B timestamp − A timestamp of paired frames (0 = kept);',
      '  B fps min = lowest video frame rate of any stream\'s B player over the window',
      ...table(media),
      '',
      '  the bench\'s own health: others on server CPU = busy time of the server CPU not used by A or B (other',
      '  people\'s processes); tools CPU = busy time of the tools CPU; bench = this process (players); pub pool =',
      '  the publisher process; pub late = its worst lateness sending a frame (over a few ms = tools short of CPU);',
      '  bench loop = how late this process\'s event loop ran (ms, p99 and max over the window): the probes\' timing error',
      ...table(tools),
      ...(results.has('ours') ? gcTable(opts, results.get('ours')!.points, messagesPerStreamSec) : []),
      '',
      '  goals: CPU per relayed stream ≤ 1.5× nginx-rtmp (N = 10, 50, 100); added latency p99 ≤ 5 ms at N = 100 with',
      '  0 frames lost; A RSS at N = 50 ≤ 3× nginx-rtmp',
    ].join('\n') + '\n',
  );
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.servers.includes('nginx') && !nginxRtmpAvailable()) {
    process.stdout.write('nginx-rtmp not installed (/usr/sbin/nginx + ngx_rtmp_module.so): measuring without it\n');
    opts.servers = opts.servers.filter((k) => k !== 'nginx');
  }
  if (opts.servers.includes('ours')) ensureBuilt();
  const pinning = pinBench(opts.pin);
  const file = testFlv(20, 2500);
  const kbps = ((statSync(file).size * 8) / 20 / 1000).toFixed(0);
  process.stdout.write(
    `bench:relay on ${os.cpus().length} CPU(s), node ${process.version}; ${opts.servers.map((k) => RELAY_LABEL[k]).join(' vs ')}\n` +
      `  ${describePinning(pinning)}; ${loadLine()}\n` +
      `  publishers: one paced publisher process, ${file} (~${kbps} kbit/s incl. FLV overhead); streams ${opts.steps.join(', ')}\n`,
  );
  const results = new Map<RelayKind, Results>(opts.servers.map((k) => [k, { baselines: [], points: new Map() }]));
  for (let r = 0; r < opts.repeats; r++) {
    // Rotate the order so slow drift (thermal, page cache, other people's jobs) favours no server.
    const order = opts.servers.map((_, i) => opts.servers[(i + r) % opts.servers.length]!);
    for (const kind of order) {
      const { baselineCores, points } = await runRelay(kind, file, { ...opts, pinning });
      const entry = results.get(kind)!;
      entry.baselines.push(baselineCores);
      for (const p of points) entry.points.set(p.streams, [...(entry.points.get(p.streams) ?? []), p]);
      const summary = points.map((p) => `${p.streams}:${fmt(p.aCores * 100, 1)}% lost ${p.framesAtA - p.framesMatched} p99 ${fmt(p.latency.p99)}ms`).join('  ');
      process.stdout.write(`  run ${r + 1}/${opts.repeats} ${kind}: idle ${fmt(baselineCores * 100, 2)}%  ${summary}  (${loadLine()})\n`);
    }
  }
  const tags = readFlvTags(readFileSync(file)).filter((t) => t.type === MessageType.Audio || t.type === MessageType.Video);
  print(opts, results, tags.length / ((tags.at(-1)!.timestamp + 40) / 1000));
  process.stdout.write(`  ${loadLine()} at the end\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:relay failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1); // the harness itself broke (no figures): unlike a slow result, that must show
  },
);

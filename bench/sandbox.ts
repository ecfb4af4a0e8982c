/**
 * Sandbox benchmark: what running each application instance's script in its own isolated-vm isolate
 * costs, each figure next to the same request to a script-less app (the reference: the same RTMP
 * path through the same server, without a sandbox), measured in the same invocation.
 *
 *   npm run bench:sandbox -- [--repeats 3] [--instances 200] [--rss-instances 1000] [--connects 300]
 *                            [--calls 2000] [--jitter-seconds 8] [--parts a,b,c,d]
 *
 *   (a) instance cold start: first connect to `app/inst-<i>` until Connect.Success, p50/p99
 *   (b) RSS per idle instance: a server child, 1,000 instances connected once each, RSS growth / 1,000
 *   (c) round trip through a running instance: connect, and nc.call('add', 1, 2), p50/p99
 *   (d) video inter-arrival gaps of a healthy 25 fps stream while another instance spins in while(true)
 *
 * Figures are medians over the repeats; nothing is asserted (CONVENTIONS) and the exit code is 0
 * unless the harness itself broke.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { testFlv } from '../test/helpers/media-tools.ts';
import { APPS, writeBenchApps } from './lib/bench-apps.ts';
import { positiveInteger } from './lib/bench-options.ts';
import { measureIdleRss, type IdleRss } from './lib/idle-rss.ts';
import { SPIN_TIMEOUT_MS, measureJitter, type JitterRun } from './lib/media-jitter.ts';
import { fmt, spread, type Spread } from './lib/percentiles.ts';
import { median } from './lib/proc-stats.ts';
import { measureColdStarts, measureDirectCalls, measureRoundTrips, type ColdStarts, type RoundTrips } from './lib/sandbox-latency.ts';

const MIB = 1024 * 1024;
const FRAME_MS = 40;

function options() {
  const { values } = parseArgs({
    options: {
      repeats: { type: 'string', default: '3' },
      instances: { type: 'string', default: '200' },
      'rss-instances': { type: 'string', default: '1000' },
      connects: { type: 'string', default: '300' },
      calls: { type: 'string', default: '2000' },
      'jitter-seconds': { type: 'string', default: '8' },
      parts: { type: 'string', default: 'a,b,c,d' },
    },
    strict: true,
  });
  return {
    repeats: positiveInteger('repeats', values.repeats),
    instances: positiveInteger('instances', values.instances),
    rssInstances: positiveInteger('rss-instances', values['rss-instances']),
    connects: positiveInteger('connects', values.connects),
    calls: positiveInteger('calls', values.calls),
    jitterMs: Number(values['jitter-seconds']) * 1000,
    parts: new Set(values.parts.split(',').map((p) => p.trim())),
  };
}

type Options = ReturnType<typeof options>;
const out = (lines: string[]) => process.stdout.write(`${lines.join('\n')}\n`);
/** Median over runs of one statistic of each run's spread. */
const med = (runs: Spread[], key: keyof Spread) => median(runs.map((s) => s[key]));
const row = (label: string, cells: string[]) => `  ${label.padEnd(30)}${cells.map((c) => c.padStart(10)).join('')}`;

async function partA(appsDir: string, opts: Options): Promise<void> {
  const runs: ColdStarts[] = [];
  for (let r = 0; r < opts.repeats; r++) runs.push(await measureColdStarts(appsDir, opts.instances));
  const scripted = runs.map((r) => spread(r.scripted));
  const plain = runs.map((r) => spread(r.plain));
  const added = (key: keyof Spread) => med(scripted, key) - med(plain, key);
  out([
    '',
    `(a) instance cold start: connect() → Connect.Success for ${opts.instances} fresh instances per app per run (ms)`,
    row('', ['p50', 'p99', 'max']),
    row(`${APPS.scripted}/inst-<i> (sandbox)`, [fmt(med(scripted, 'p50')), fmt(med(scripted, 'p99')), fmt(med(scripted, 'max'))]),
    row(`${APPS.plain}/inst-<i> (no script)`, [fmt(med(plain, 'p50')), fmt(med(plain, 'p99')), fmt(med(plain, 'max'))]),
    row('added by the sandbox', [fmt(added('p50')), fmt(added('p99')), '']),
    `  first scripted instance in a fresh server (before warm-up): ${fmt(median(runs.map((r) => r.firstScriptedMs)))} ms`,
    `  target: cold start ≤ 15 ms p50 → ${fmt(med(scripted, 'p50'))} ms`,
  ]);
}

async function partB(appsDir: string, opts: Options): Promise<void> {
  const scripted: IdleRss[] = [];
  const plain: IdleRss[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    scripted.push(await measureIdleRss(appsDir, APPS.scripted, opts.rssInstances));
    plain.push(await measureIdleRss(appsDir, APPS.plain, opts.rssInstances));
  }
  const perMib = (runs: IdleRss[]) => median(runs.map((r) => r.perInstanceBytes)) / MIB;
  const line = (label: string, runs: IdleRss[]) =>
    `  ${label.padEnd(30)}${fmt(perMib(runs), 3).padStart(8)} MiB/instance   RSS ${fmt(median(runs.map((r) => r.baselineMib)), 1)} → ${fmt(median(runs.map((r) => r.afterMib)), 1)} MiB, ${Math.min(...runs.map((r) => r.loaded))} instances loaded`;
  out([
    '',
    `(b) RSS per idle instance: server child, ${opts.rssInstances} instances connected once and left idle (unload after 1200 s)`,
    line(`${APPS.scripted} (ES3 script)`, scripted),
    line(`${APPS.plain} (no script)`, plain),
    `  ${'added by the sandbox'.padEnd(30)}${fmt(perMib(scripted) - perMib(plain), 3).padStart(8)} MiB/instance`,
    `  target: ≤ 2.5 MiB per idle instance → ${fmt(perMib(scripted), 3)} MiB`,
  ]);
}

async function partC(appsDir: string, opts: Options): Promise<void> {
  const runs: RoundTrips[] = [];
  const direct: Spread[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    runs.push(await measureRoundTrips(appsDir, opts.connects, opts.calls));
    direct.push(spread(await measureDirectCalls(opts.calls)));
  }
  const line = (label: string, pick: (r: RoundTrips) => { scripted: number[]; plain: number[] }) => {
    const s = runs.map((r) => spread(pick(r).scripted));
    const p = runs.map((r) => spread(pick(r).plain));
    const cells = [med(s, 'p50'), med(s, 'p99'), med(p, 'p50'), med(p, 'p99'), med(s, 'p50') - med(p, 'p50'), med(s, 'p99') - med(p, 'p99')];
    return { text: row(label, cells.map((c) => fmt(c, 3))), addedP50: cells[4]! };
  };
  const connect = line(`connect (${opts.connects}×)`, (r) => r.connect);
  const call = line(`call add(1,2) (${opts.calls}×)`, (r) => r.call);
  const wrong = runs.reduce((sum, r) => sum + r.wrongAnswers, 0);
  out([
    '',
    '(c) round trip through a running instance over RTMP (ms); reference: the same request to the script-less app',
    row('', ['sandbox', 'p99', 'no script', 'p99', 'added', 'p99']),
    row('', ['p50', '', 'p50', '', 'p50', '']),
    connect.text,
    call.text,
    `  Sandbox.call() alone (isolate hop, no RTMP): p50 ${fmt(med(direct, 'p50'), 3)} ms, p99 ${fmt(med(direct, 'p99'), 3)} ms`,
    ...(wrong ? [`  note: ${wrong} scripted call(s) did not answer 3`] : []),
    `  target: ≤ 1 ms added per round trip p50 → connect ${fmt(connect.addedP50, 3)} ms, call ${fmt(call.addedP50, 3)} ms`,
  ]);
}

async function partD(appsDir: string, opts: Options): Promise<void> {
  const file = testFlv(20, 2500);
  const idle: JitterRun[] = [];
  const spinning: JitterRun[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    idle.push(await measureJitter(appsDir, file, opts.jitterMs, false));
    spinning.push(await measureJitter(appsDir, file, opts.jitterMs, true));
  }
  const summary = (runs: JitterRun[]) => {
    const s = runs.map((r) => spread(r.gapsMs));
    return {
      p50: med(s, 'p50'),
      p99: med(s, 'p99'),
      max: med(s, 'max'),
      stalls: median(runs.map((r) => r.gapsMs.filter((g) => g > 2 * FRAME_MS).length)),
      spins: median(runs.map((r) => r.spins)),
      late: median(runs.map((r) => r.publisherMaxLateMs)),
    };
  };
  const a = summary(idle);
  const b = summary(spinning);
  const cells = (x: ReturnType<typeof summary>) => [fmt(x.p50), fmt(x.p99), fmt(x.max), fmt(x.stalls, 0), fmt(x.spins, 0), fmt(x.late)];
  out([
    '',
    `(d) video inter-arrival gaps at a player, 25 fps ~2.5 Mbit/s stream published by our client (ms, ${opts.jitterMs / 1000} s window)`,
    `    load: a client connecting over and over to ${APPS.spinner}/b, whose onConnect is while(true){} (handlerTimeoutMs ${SPIN_TIMEOUT_MS})`,
    row('', ['p50', 'p99', 'max', `>${2 * FRAME_MS}ms`, 'spins', 'pub late']),
    row('no other load (reference)', cells(a)),
    row('another instance spinning', cells(b)),
    row('difference', [fmt(b.p50 - a.p50), fmt(b.p99 - a.p99), fmt(b.max - a.max), fmt(b.stalls - a.stalls, 0), '', '']),
    '  (pub late = the publisher\'s largest delay past a tag\'s due time, same process: its share of the gaps)',
    `  target: no measurable media stall → p99 ${fmt(b.p99 - a.p99)} ms, max ${fmt(b.max - a.max)} ms vs reference`,
  ]);
}

async function main(): Promise<void> {
  const opts = options();
  const apps = writeBenchApps();
  out([
    `bench:sandbox on ${os.cpus().length} CPU(s), node ${process.version}; medians of ${opts.repeats} run(s)`,
    '  in-process server (log level info, records discarded), our NetConnection as the client',
  ]);
  try {
    if (opts.parts.has('a')) await partA(apps.dir, opts);
    if (opts.parts.has('b')) await partB(apps.dir, opts);
    if (opts.parts.has('c')) await partC(apps.dir, opts);
    if (opts.parts.has('d')) await partD(apps.dir, opts);
  } finally {
    apps.remove();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:sandbox failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1); // the harness itself broke (no figures): unlike a slow result, that must show
  },
);

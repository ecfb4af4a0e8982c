/**
 * `npm run soak -- --minutes N [--sample-sec S] [--hostile-every-sec H] [--keep-log file] [--server-node-arg a]…`
 *
 * One process drives a real server (A, its own process) over loopback for N minutes with churn —
 * see healthy-workload.ts (calls, shared objects, publishers and players, a script relay to a second
 * server B, a hot reload every ~30 s, an instance unloaded and reloaded) and hostile-inputs.ts (a
 * trickle of attacks) — while sampling A's RSS, V8 heap, fds, libuv handles, threads, isolates and
 * instances (/proc and its /metrics). It prints the slope of each after the warm-up, what the
 * workload did, and the errors: unexpected failures of the healthy workload (a failed call, a lost
 * frame, a stalled player, a missed reload) or the server dying. Exit status 1 if there were any.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { HealthyWorkload } from './healthy-workload.ts';
import { HOSTILE_INPUTS } from './hostile-inputs.ts';
import { SAMPLE_FIELDS, ServerSampler, slopePerMinute, type ServerSample } from './server-sample.ts';
import { startRelayTarget, startServerUnderTest, type SoakServer } from './soak-servers.ts';
import { messageOf, sleep, Tally } from './tally.ts';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    'sample-sec': { type: 'string' },
    'hostile-every-sec': { type: 'string', default: '8' },
    /** Writes server A's log records (JSON lines) here at the end, for a closer look. */
    'keep-log': { type: 'string' },
    /** Passed to server A's node, e.g. --server-node-arg=--heapsnapshot-signal=SIGUSR2 (repeatable). */
    'server-node-arg': { type: 'string', multiple: true, default: [] },
  },
});
const MINUTES = Number(flags.minutes);
if (!(MINUTES > 0)) throw new Error('--minutes must be a positive number');
const RUN_MS = MINUTES * 60_000;
const SAMPLE_MS = Number(flags['sample-sec'] ?? (MINUTES <= 5 ? 5 : 10)) * 1000;
/** Slopes are taken after this: instances, caches and the allocator settle first. */
const WARMUP_MS = Math.min(5, Math.max(0.5, MINUTES * 0.2)) * 60_000;
const HOSTILE_EVERY_MS = Number(flags['hostile-every-sec']) * 1000;

const errors = new Tally();
const hostile = new Tally();
const servers: SoakServer[] = [];
let serverA: SoakServer | undefined;
let finished = false;

function watchForDeath(server: SoakServer, label: string): void {
  server.process.child.once('exit', (code, signal) => {
    if (!finished) errors.add('server-died', `${label} exited (code ${code}, signal ${signal}) during the soak`);
  });
}

async function hostileTrickle(server: SoakServer, isRunning: () => boolean): Promise<void> {
  for (let i = 0; isRunning(); i++) {
    await sleep(HOSTILE_EVERY_MS);
    if (!isRunning()) return;
    const input = HOSTILE_INPUTS[i % HOSTILE_INPUTS.length]!;
    const outcome = await input.run(server).catch((error: unknown) => `threw: ${messageOf(error)}`);
    hostile.add(`${input.name}: run`);
    if (outcome !== null && isRunning()) hostile.add(`${input.name}: unexpected`, outcome);
  }
}

function printSample(s: ServerSample): void {
  console.log(
    `[${(s.atMs / 60_000).toFixed(1).padStart(5)} min] rss ${s.rssMb.toFixed(0)} MB, heap ${s.heapUsedMb.toFixed(1)} MB, fds ${s.fds}, handles ${s.handles}, ` +
      `threads ${s.threads}, isolates ${s.isolates} (lost ${s.isolatesLost}), instances ${s.instances}, rtmp ${s.rtmpConnections}`,
  );
}

function summary(samples: ServerSample[], workload: HealthyWorkload | undefined, pidAtStart: number, stopMs: number | null): void {
  const after = samples.filter((s) => s.atMs >= WARMUP_MS);
  console.log(`\n=== soak: ${MINUTES} min, samples every ${SAMPLE_MS / 1000} s, warm-up ${(WARMUP_MS / 60_000).toFixed(1)} min ===`);
  console.log(`machine: ${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
  console.log(`figure            first→last after warm-up     min..max      slope/min`);
  for (const field of SAMPLE_FIELDS) {
    const values = after.map((s) => s[field]);
    if (values.length === 0) continue;
    const f = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
    console.log(
      `${field.padEnd(16)}  ${`${f(values[0]!)} → ${f(values.at(-1)!)}`.padEnd(26)} ${`${f(Math.min(...values))}..${f(Math.max(...values))}`.padEnd(13)} ${slopePerMinute(samples, field, WARMUP_MS).toFixed(3)}`,
    );
  }
  console.log(`server A pid ${pidAtStart}: ${errors.count('server-died') === 0 ? 'never restarted or died' : 'DIED'}${stopMs === null ? '' : `; SIGTERM → exit ${stopMs.toFixed(0)} ms`}`);
  if (workload) {
    console.log(`done: ${workload.done.lines().join(', ')}`);
    console.log(`frames lost on B right after hot reloads (the script relay restarts with its generation; not counted as errors): ${workload.relayRestartFrames}`);
  }
  console.log(`hostile inputs: ${hostile.lines().join('; ') || 'none run'}`);
  console.log(`errors: ${errors.total}${errors.total ? `\n  ${errors.lines().join('\n  ')}` : ''}`);
  const frames = errors.count('frames-lost');
  console.log(
    `SOAK ${JSON.stringify({
      minutes: MINUTES,
      errors: errors.total,
      framesLost: frames,
      slopesPerMin: Object.fromEntries(SAMPLE_FIELDS.map((f) => [f, Number(slopePerMinute(samples, f, WARMUP_MS).toFixed(4))])),
      errorKinds: errors.toJSON(),
    })}`,
  );
}

async function main(): Promise<number> {
  const b = await startRelayTarget();
  servers.push(b);
  const a = await startServerUnderTest(b, flags['server-node-arg']);
  console.log(`server A: pid ${a.process.child.pid}, rtmp ${a.process.rtmpPort}, http ${a.httpPort}; server B: pid ${b.process.child.pid}`);
  servers.push(a);
  serverA = a;
  const pid = a.process.child.pid!;
  watchForDeath(a, 'server A');
  watchForDeath(b, 'server B');
  const sampler = new ServerSampler(pid, a.httpPort);
  const workload = new HealthyWorkload(a, b, errors);
  let running = true;
  const isRunning = () => running && errors.count('server-died') === 0;
  workload.start();
  const trickle = hostileTrickle(a, isRunning);
  const endAt = performance.now() + RUN_MS;
  let lastPrintedMin = -1;
  while (isRunning() && performance.now() < endAt) {
    try {
      const sample = await sampler.sample();
      const minute = Math.floor(sample.atMs / 60_000);
      if (minute !== lastPrintedMin) {
        lastPrintedMin = minute;
        printSample(sample);
      }
    } catch (error) {
      if (isRunning()) errors.add('sample-failed', messageOf(error));
    }
    await sleep(Math.min(SAMPLE_MS, Math.max(0, endAt - performance.now())));
  }
  running = false;
  await workload.stop();
  await trickle;
  // After the workload stopped: what the server keeps when idle (not part of the slopes).
  const runSamples = [...sampler.samples];
  if (errors.count('server-died') === 0) {
    process.stdout.write('idle after the workload: ');
    printSample(await sampler.sample());
  }
  finished = true;
  const stopStartedAt = performance.now();
  await a.process.stop('SIGTERM');
  const stopMs = performance.now() - stopStartedAt;
  if (a.process.child.exitCode !== 0) errors.add('server-exit', `SIGTERM ended A with code ${a.process.child.exitCode}, signal ${a.process.child.signalCode}`);
  await b.process.stop('SIGTERM');
  if (flags['keep-log'] !== undefined) writeFileSync(flags['keep-log'], a.process.logs.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  summary(runSamples, workload, pid, stopMs);
  return errors.total === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(`soak failed: ${(error as Error)?.stack ?? String(error)}`);
    finished = true;
    for (const server of servers) await server.process.stop('SIGKILL');
    void serverA;
    process.exit(2);
  },
);

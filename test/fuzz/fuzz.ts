/**
 * Fuzzer for everything the server parses from the network.
 *
 *   npm run fuzz -- [--seconds N] [--count N] [--seed N] [--connections N]
 *   npm run fuzz -- --long [--per-target N] [--seed N]
 *
 * Two phases run side by side for --seconds (default 60): the in-process targets (ServerHandshake,
 * ChunkDecoder, decodeAmf0, decodeAmf3Value) in a watched worker thread, up to --count inputs
 * (default 1e6); and the live server on loopback, up to --connections fuzz connections (default
 * 5000). Inputs are mutations of valid seeds made by our own encoders, from a PRNG seeded with
 * --seed (printed; random when absent), so a run can be repeated. Exit code 1 on any crash or hang.
 *
 * Long mode (--long): no time limit; the in-process phase runs until every target has had
 * --per-target inputs (default 1,000,000), the live phase for as long, with no connection limit.
 * Progress is printed every minute; the report gives the figures per target.
 */
import { parseArgs } from 'node:util';
import { Findings } from './findings.ts';
import { runInProcess, TARGET_NAMES, type InProcessStats } from './in-process.ts';
import { runLive, type LiveStats } from './live.ts';

const MIB = 1024 * 1024;

function options() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      count: { type: 'string', default: '1000000' },
      seed: { type: 'string' },
      connections: { type: 'string', default: '5000' },
      long: { type: 'boolean', default: false },
      'per-target': { type: 'string', default: '1000000' },
    },
    strict: true,
  });
  const num = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: "${raw}" is not a non-negative number`);
    return n;
  };
  const seed = values.seed === undefined ? (Date.now() ^ (process.pid << 16)) >>> 0 : num('seed', values.seed) >>> 0;
  if (values.long) {
    // Round robin over the targets: every target gets its share when the total is reached.
    const perTarget = Math.floor(num('per-target', values['per-target']));
    return { seconds: Number.POSITIVE_INFINITY, count: perTarget * TARGET_NAMES.length, seed, connections: Number.POSITIVE_INFINITY, long: true };
  }
  return {
    seconds: num('seconds', values.seconds),
    count: Math.floor(num('count', values.count)),
    seed,
    connections: Math.floor(num('connections', values.connections)),
    long: false,
  };
}

/** Crashes and hangs of one target (distinct findings and their repeats). */
function perTarget(findings: Findings, target: string, kind: 'crash' | 'hang'): number {
  return findings.list.filter((f) => f.target === target && f.kind === kind).reduce((n, f) => n + 1 + f.repeats, 0);
}

function printReport(seed: number, seconds: number, inProcess: InProcessStats, live: LiveStats, findings: Findings, heapPeak: number): void {
  const rssPeakMib = process.resourceUsage().maxRSS / 1024;
  const lines = [
    '',
    `fuzz report (seed ${seed}, ${seconds.toFixed(1)} s)`,
    '  in-process inputs tried (rejected with ProtocolError), crashes, hangs:',
    ...TARGET_NAMES.map(
      (t) =>
        `    ${t.padEnd(16)} ${String(inProcess.tried[t] ?? 0).padStart(9)}  (${inProcess.rejected[t] ?? 0})  crashes ${perTarget(findings, t, 'crash')}, hangs ${perTarget(findings, t, 'hang')}`,
    ),
    `    worker restarts after a hang: ${inProcess.restarts}`,
    `  live server: ${live.connections} connections (${live.rawHandshakes} with mutated handshakes) in ${live.batches} batches; crashes ${perTarget(findings, 'live', 'crash')}, hangs ${perTarget(findings, 'live', 'hang')}`,
    `    closed by the server: ${live.closedByServer}, still open at linger end: ${live.leftOpen}, handshake timeouts: ${live.handshakeTimeouts}`,
    `    health checks passed (Connect.Success after a batch): ${live.healthChecksPassed}/${live.batches}`,
    `    max event-loop gap: ${live.maxEventLoopGapMs} ms; server error-level log lines: ${live.serverErrorLogs.length}`,
    ...live.serverErrorLogs.slice(0, 5).map((l) => `      ${l}`),
    `  crashes: ${findings.counts.crash}   hangs: ${findings.counts.hang}   masked internal errors (AmfError wrapping a non-protocol error): ${findings.counts.masked}`,
    `  peak RSS: ${rssPeakMib.toFixed(1)} MiB; peak heap used: main ${(heapPeak / MIB).toFixed(1)} MiB, worker ${(inProcess.workerHeapPeak / MIB).toFixed(1)} MiB`,
    `  findings saved under: ${findings.dir}`,
  ];
  for (const f of findings.list) lines.push(Findings.describe(f));
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<number> {
  const opts = options();
  process.stdout.write(
    opts.long
      ? `fuzz (long): seed ${opts.seed} (repeat with --seed ${opts.seed} --long), until each in-process target has had ${opts.count / TARGET_NAMES.length} inputs; the live server meanwhile\n`
      : `fuzz: seed ${opts.seed} (repeat with --seed ${opts.seed}), ${opts.seconds} s, up to ${opts.count} in-process inputs and ${opts.connections} live connections\n`,
  );
  const findings = new Findings(opts.seed);
  const started = Date.now();
  const deadline = started + opts.seconds * 1000;
  let heapPeak = 0;
  const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 100);
  let inProcessDone = false;
  const progress = opts.long
    ? (tried: Record<string, number>) =>
        process.stdout.write(
          `  ${((Date.now() - started) / 60_000).toFixed(1)} min: ${TARGET_NAMES.map((t) => `${t} ${tried[t] ?? 0}`).join(', ')}; crashes ${findings.counts.crash}, hangs ${findings.counts.hang}\n`,
        )
    : undefined;
  const [inProcess, live] = await Promise.all([
    runInProcess(opts.seed, deadline, opts.count, findings, progress).finally(() => (inProcessDone = true)),
    // Long mode: the live phase lasts as long as the in-process one.
    runLive(opts.seed, deadline, opts.connections, findings, () => opts.long && inProcessDone),
  ]);
  clearInterval(sampler);
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  printReport(opts.seed, (Date.now() - started) / 1000, inProcess, live, findings, heapPeak);
  return findings.counts.crash + findings.counts.hang > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fuzz: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(2);
  },
);

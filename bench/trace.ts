/**
 * trace() throughput end to end: a script traces 2 KB lines, and we count the JSON lines that come
 * out of a real server process's stdout (a pipe, as under a log collector: JSON, not pretty). That
 * path is the sandbox bridge, the logger (length bounds, credential stripping, serialisation), the
 * live-log ring and the stdout stream. `--line run` (default): each 2 KB line is one run of letters
 * and digits, like a hex payload — what the old credential-stripping regex was quadratic on (the
 * issue's ~5 ms per line); `--line words`: runs of 255 between separators.
 *
 *   npm run bench:trace -- [--seconds 5] [--repeats 3] [--burst 200] [--line run|words] [--baseline <checkout dir>]
 *
 * --baseline runs the same measurement against another checkout's runtime/main.ts in the same
 * invocation (e.g. main extracted with `git archive main | tar -x -C /tmp/main`, node_modules linked)
 * and prints the ratio. Figures only, no assertions (CONVENTIONS). Goal: ≥ 20,000 lines/s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NetConnection } from '../runtime/client/net-connection.ts';
import { tempDir } from '../test/helpers/test-server.ts';
import { cpuMs, median } from './lib/proc-stats.ts';
import { SOURCE_NODE_FLAGS } from '../bin/node-runtime.cjs';
import { REPO_ROOT, stopChild } from './lib/servers.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '3' },
    burst: { type: 'string', default: '200' },
    baseline: { type: 'string' },
    line: { type: 'string', default: 'run' },
  },
});
const SEPARATOR = flags.line === 'words' ? '":"' : '""';
const SECONDS = Number(flags.seconds);
const REPEATS = Number(flags.repeats);
const BURST = Number(flags.burst);
const LINE_CHARS = 2048;

/** The traced line: ~2 KB of hex digits, one run or runs of 255 between separators (--line). */
const SCRIPT = `var chunk = "";
for (var i = 0; chunk.length < 256; i++) chunk += (i * 2654435761 % 4294967296).toString(16);
chunk = chunk.substring(0, 255);
var payload = "";
while (payload.length < ${LINE_CHARS - 40}) payload += chunk + ${SEPARATOR};
Client.prototype.burst = function (n, tag) {
  for (var i = 0; i < n; i++) trace(tag + " " + i + " " + payload);
  return n;
};
Client.prototype.mark = function (text) { trace(text); return text; };
`;

interface Run {
  lines: number;
  seconds: number;
  linesPerSec: number;
  /** Lines per second of the server process's own CPU time (user + system): what a free core would do. */
  linesPerCpuSec: number;
}

/** Counts newline-terminated lines on a stream and waits for a marker text, cheaply (no JSON parsing). */
class LineCounter {
  lines = 0;
  /** Lines the server dropped because this reader fell behind (log.stdoutMaxBufferedBytes); they are not counted. */
  dropped = 0;
  #tail = '';
  #waiters: { text: string; resolve: () => void }[] = [];

  push(chunk: Buffer): void {
    let at = chunk.indexOf(10);
    while (at >= 0) {
      this.lines++;
      at = chunk.indexOf(10, at + 1);
    }
    for (let drop = chunk.indexOf('"dropped":'); drop >= 0; drop = chunk.indexOf('"dropped":', drop + 1)) {
      this.dropped += Number(/^"dropped":(\d+)/.exec(chunk.toString('latin1', drop, drop + 32))?.[1] ?? 0);
    }
    if (this.#waiters.length === 0) return;
    const text = this.#tail + chunk.toString('latin1');
    this.#waiters = this.#waiters.filter((w) => (text.includes(w.text) ? (w.resolve(), false) : true));
    this.#tail = text.slice(-128);
  }

  waitFor(text: string): Promise<void> {
    return new Promise((resolve) => this.#waiters.push({ text, resolve }));
  }
}

/**
 * A checkout that bounds unsent stdout (log.stdoutMaxBufferedBytes) would drop lines whenever this
 * reader falls behind on a busy machine: lifted, so every line is counted when it arrives.
 */
function configArgs(root: string, apps: string): string[] {
  if (!readFileSync(path.join(root, 'runtime/config.ts'), 'utf8').includes('stdoutMaxBufferedBytes')) return [];
  const file = path.join(apps, 'config.json');
  writeFileSync(file, JSON.stringify({ log: { stdoutMaxBufferedBytes: 4 * 1024 * 1024 * 1024 } }));
  return ['--config', file];
}

async function startServer(root: string, apps: string): Promise<{ child: ChildProcess; counter: LineCounter; port: number }> {
  const child = spawn(process.execPath, [...SOURCE_NODE_FLAGS, 'runtime/main.ts', '--apps', apps, '--rtmp-port', '0', '--http-port', '0', '--no-watch', ...configArgs(root, apps)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const counter = new LineCounter();
  let head = '';
  const port = await new Promise<number>((resolve, reject) => {
    const onHead = (chunk: Buffer) => {
      head += chunk.toString();
      const match = /"rtmpPort":(\d+)/.exec(head);
      if (match) {
        child.stdout!.off('data', onHead);
        child.stdout!.on('data', (data: Buffer) => counter.push(data));
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onHead);
    child.once('exit', (code) => reject(new Error(`server in ${root} exited (${code}) before listening`)));
  });
  return { child, counter, port };
}

/** Bursts of traces for `SECONDS`, two calls in flight, then a marker: lines seen on stdout until the marker. */
async function measure(root: string, apps: string, run: number): Promise<Run> {
  const { child, counter, port } = await startServer(root, apps);
  const nc = new NetConnection();
  try {
    await nc.connect(`rtmp://127.0.0.1:${port}/tracer`);
    await nc.call('burst', 10, 'warm-up'); // the instance is loaded and its code compiled
    await new Promise((resolve) => setTimeout(resolve, 300));
    const linesBefore = counter.lines;
    const droppedBefore = counter.dropped;
    const cpuBefore = cpuMs(child.pid!);
    const started = performance.now();
    const lane = async () => {
      while (performance.now() - started < SECONDS * 1000) await nc.call('burst', BURST, `run${run}`);
    };
    await Promise.all([lane(), lane()]);
    const marker = `trace-bench-end-${run}-${process.pid}`;
    const seen = counter.waitFor(marker);
    await nc.call('mark', marker);
    // Dropped lines (a checkout that drops when this reader lags) could include the marker: ask again.
    while ((await Promise.race([seen.then(() => true), new Promise((resolve) => setTimeout(resolve, 2000, false))])) === false) await nc.call('mark', marker);
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = (cpuMs(child.pid!) - cpuBefore) / 1000;
    const lines = counter.lines - linesBefore;
    const dropped = counter.dropped - droppedBefore;
    if (dropped > 0) process.stdout.write(`  note: the server dropped ${dropped} lines this reader did not take in time (not counted)\n`);
    return { lines, seconds, linesPerSec: lines / seconds, linesPerCpuSec: lines / cpuSeconds };
  } finally {
    nc.close();
    await stopChild(child);
  }
}

function writeApps(): string {
  const apps = tempDir('trace-bench');
  mkdirSync(path.join(apps, 'tracer'));
  writeFileSync(path.join(apps, 'tracer', 'main.asc'), SCRIPT);
  return apps;
}

async function series(label: string, root: string, apps: string): Promise<{ wall: number; cpu: number }> {
  const runs: Run[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const result = await measure(root, apps, i);
    runs.push(result);
    process.stdout.write(
      `  ${label} run ${i + 1}: ${result.lines} lines in ${result.seconds.toFixed(2)} s = ${Math.round(result.linesPerSec)} lines/s ` +
        `(${((result.linesPerSec * LINE_CHARS) / 1024 / 1024).toFixed(1)} MiB/s); ${Math.round(result.linesPerCpuSec)} lines per server CPU-second\n`,
    );
  }
  const wall = median(runs.map((r) => r.linesPerSec));
  const cpu = median(runs.map((r) => r.linesPerCpuSec));
  process.stdout.write(`  ${label}: median of ${REPEATS}: ${Math.round(wall)} lines/s, ${Math.round(cpu)} lines per server CPU-second\n`);
  return { wall, cpu };
}

const apps = writeApps();
const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
process.stdout.write(
  `trace() throughput, ${LINE_CHARS}-byte lines, script → JSON line on a server process's stdout (pipe)\n` +
    `  line: ${flags.line === 'words' ? 'runs of 255 hex digits between separators' : 'one run of hex digits'}; ${SECONDS} s per run, bursts of ${BURST} traces, 2 calls in flight; ${os.cpus().length} cores, load average ${load}\n`,
);
const ours = await series('this checkout', REPO_ROOT, apps);
if (flags.baseline) {
  const before = await series(`baseline ${flags.baseline}`, path.resolve(flags.baseline), apps);
  process.stdout.write(`  ratio this checkout / baseline: ${(ours.wall / before.wall).toFixed(1)}× lines/s, ${(ours.cpu / before.cpu).toFixed(1)}× lines per CPU-second\n`);
}
process.stdout.write(`  goal ≥ 20,000 lines/s: ${ours.wall >= 20_000 ? 'met' : 'not met'} (wall clock on this machine now); per server CPU-second ${Math.round(ours.cpu)}\n`);

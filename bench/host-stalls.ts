/**
 * Host stalls a script can cause: how long a healthy client of another application waits for a
 * call answer while one script does something heavy on the host's side. The server is a separate
 * process (the CLI as users run it); a probe client calls `echo` on another app every
 * 5 ms, so an event-loop stall of the server shows as that call's round trip. Figures per part:
 * probe round trip p50 / p99 / max and the server's peak RSS.
 *
 *   npm run bench:host-stalls -- [--repeats 3] [--seconds 6] [--parts flush,soload,load,list,remove]
 *
 *   flush   issue 12 finding 4: a script adds two 1 MB slots to a persistent SO every 10 ms for
 *           --seconds (the flush used to re-encode the whole SO every 100 ms on the event loop)
 *   start   the reference for soload: an instance of an app without shared objects starts
 *   soload  an instance starts whose script opens a persistent SO of 15 × 1 MB slots (written by a
 *           previous run of the same server version, in its own file layout)
 *   load    load() of a 155 MB script file from a client call
 *   list    File.list() of a folder with 13,000 entries
 *   remove  File.remove(true) of that folder
 *
 * A separate reference is the probe's round trip with nothing else running ("idle"), measured in
 * the same invocation. Figures are medians over the repeats; nothing is asserted and the exit code
 * is 0 unless the harness itself broke.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NetConnection } from '../runtime/client/net-connection.ts';
import { startServerProcess, type ServerProcess } from '../test/helpers/server-process.ts';
import { positiveInteger } from './lib/bench-options.ts';
import { fmt, spread, type Spread } from './lib/percentiles.ts';
import { median, memory } from './lib/proc-stats.ts';

const MIB = 1024 * 1024;
const PROBE_EVERY_MS = 5;
const LIST_ENTRIES = 13_000;
const BIG_LOAD_BYTES = 155 * 1000 * 1000;

const APPS: Record<string, string> = {
  probe: 'Client.prototype.echo = function (n) { return n; };\n',
  // Finding 4 of issue 12, as the attack was described: two 1 MB slots every 10 ms.
  sobomb: `var so = SharedObject.get("bomb", true);
var big = new Array(1000001).join("x");
var n = 0;
application.onConnect = function (client) {
  setInterval(function () {
    so.setProperty("a" + n, big);
    so.setProperty("b" + n, big);
    n++;
  }, 10);
  return true;
};
`,
  plain: 'var started = new Date();\nClient.prototype.fill = function () { return true; };\n',
  sofill: `var so = SharedObject.get("full", true);
Client.prototype.fill = function () { var big = new Array(1000001).join("f"); for (var i = 0; i < 15; i++) so.setProperty("s" + i, big); return so.flush(); };
`,
  files: `Client.prototype.list = function () { var l = new File("/many").list(); return l ? l.length : -1; };
Client.prototype.remove = function () { return new File("/many").remove(true); };
Client.prototype.loadBig = function () { try { load("big.asc"); return true; } catch (e) { return String(e); } };
`,
};

function options() {
  const { values } = parseArgs({
    options: {
      repeats: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '6' },
      parts: { type: 'string', default: 'flush,start,soload,load,list,remove' },
    },
    strict: true,
  });
  return { repeats: positiveInteger('repeats', values.repeats), seconds: positiveInteger('seconds', values.seconds), parts: values.parts.split(',').map((p) => p.trim()) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function writeApps(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fms-bench-stalls-'));
  for (const [name, script] of Object.entries(APPS)) {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'main.asc'), script);
  }
  return dir;
}

/** The folder list/remove work on, and the big script load() reads (rewritten before each run). */
function prepareFiles(appsDir: string): void {
  const many = path.join(appsDir, 'files', 'many');
  rmSync(many, { recursive: true, force: true });
  mkdirSync(many);
  for (let i = 0; i < LIST_ENTRIES; i++) writeFileSync(path.join(many, `f${i}.txt`), 'x');
  const line = `// ${'x'.repeat(97)}\n`;
  writeFileSync(path.join(appsDir, 'files', 'big.asc'), line.repeat(Math.ceil(BIG_LOAD_BYTES / line.length)));
}

interface Probe {
  stop(): Promise<number[]>;
}

/** Calls echo every PROBE_EVERY_MS (sequentially) and keeps each round trip. */
function startProbe(nc: NetConnection): Probe {
  const rtts: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const t0 = performance.now();
      await nc.call('echo', i);
      const rtt = performance.now() - t0;
      rtts.push(rtt);
      if (rtt < PROBE_EVERY_MS) await sleep(PROBE_EVERY_MS - rtt);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return rtts;
    },
  };
}

interface PartRun {
  probe: Spread;
  peakRssMib: number;
  note: string;
}

/** A config file with a fresh shared-object folder: every run starts from the same state. */
function freshConfig(appsDir: string): string {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fms-bench-so-'));
  const file = path.join(dataDir, 'config.json');
  writeFileSync(file, JSON.stringify({ dataDir }));
  return file;
}

/** soload: one server run writes the SO (then stops cleanly); the measured run opens it. */
async function writeFullSo(appsDir: string, config: string): Promise<void> {
  const server = await startServerProcess(appsDir, ['--no-watch', '--log-level', 'info', '--config', config]);
  const nc = new NetConnection();
  try {
    await nc.connect(server.url('sofill'));
    if ((await nc.call('fill')) !== true) throw new Error('sofill: flush() failed');
  } finally {
    nc.close();
    await server.stop('SIGTERM');
  }
}

async function runPart(part: string, appsDir: string, seconds: number): Promise<PartRun> {
  if (part === 'load' || part === 'list' || part === 'remove') prepareFiles(appsDir);
  const config = freshConfig(appsDir);
  if (part === 'soload') await writeFullSo(appsDir, config);
  const server: ServerProcess = await startServerProcess(appsDir, ['--no-watch', '--log-level', 'info', '--config', config]);
  const pid = server.child.pid!;
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, memory(pid).rss);
    } catch {
      // the process is gone (an OOM): the peak so far stands
    }
  }, 100);
  const probeNc = new NetConnection();
  const actor = new NetConnection();
  try {
    await probeNc.connect(server.url('probe'));
    await probeNc.call('echo', 0);
    const probe = startProbe(probeNc);
    let note = '';
    if (part === 'idle') await sleep(seconds * 1000);
    else if (part === 'soload' || part === 'start') {
      const t0 = performance.now();
      await actor.connect(server.url(part === 'start' ? 'plain' : 'sofill')); // the instance starts (sofill: main.asc opens the 15 MB SO)
      note = `connected in ${fmt(performance.now() - t0, 0)} ms`;
      await sleep(1000);
    } else if (part === 'flush') {
      await actor.connect(server.url('sobomb'));
      await sleep(seconds * 1000);
    } else {
      await actor.connect(server.url('files'));
      const method = part === 'load' ? 'loadBig' : part;
      const t0 = performance.now();
      const answer = await actor.call(method).catch((error: unknown) => `error: ${(error as Error).message}`);
      note = `${method}() → ${JSON.stringify(answer).slice(0, 60)} in ${fmt(performance.now() - t0, 0)} ms`;
      await sleep(300);
    }
    return { probe: spread(await probe.stop()), peakRssMib: peak / MIB, note };
  } finally {
    clearInterval(sampler);
    actor.close();
    probeNc.close();
    await server.stop('SIGKILL');
  }
}

async function main(): Promise<void> {
  const opts = options();
  const appsDir = writeApps();
  const out = (lines: string[]) => process.stdout.write(`${lines.join('\n')}\n`);
  out([
    `host stalls: probe call round trip (ms) on another app while a script works; ${opts.repeats} runs, medians`,
    `  machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `  ${'part'.padEnd(8)}${['p50', 'p99', 'max', 'peak RSS MiB'].map((h) => h.padStart(14)).join('')}`,
  ]);
  try {
    for (const part of ['idle', ...opts.parts]) {
      const runs: PartRun[] = [];
      for (let r = 0; r < opts.repeats; r++) runs.push(await runPart(part, appsDir, opts.seconds));
      const med = (key: keyof Spread) => median(runs.map((run) => run.probe[key]));
      out([
        `  ${part.padEnd(8)}${[fmt(med('p50')), fmt(med('p99')), fmt(med('max')), fmt(median(runs.map((r) => r.peakRssMib)), 0)].map((c) => c.padStart(14)).join('')}` +
          `   max per run: ${runs.map((r) => fmt(r.probe.max, 0)).join(' / ')}${runs[0]?.note ? `; ${runs.map((r) => r.note).join(' | ')}` : ''}`,
      ]);
    }
  } finally {
    rmSync(appsDir, { recursive: true, force: true });
  }
}

await main();

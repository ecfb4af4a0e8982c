/**
 * What starting the server costs an operator: the `fms-runtime` command (compiled dist/) started
 * as its own process, next to nginx-rtmp started the same way (the reference, same invocation).
 *
 *   npm run bench:startup -- [--repeats 3] [--instances 100] [--calls 200]
 *                            [--node <path>] [--node-args="<flags>"] [--entry <file>] [--cwd <dir>]
 *
 *   start      spawn → the "server listening" log record (node start, flags re-exec, module load)
 *   idle RSS   VmRSS 3 s after listening, no client ever connected
 *   100 idle   VmRSS 3 s after 100 instances of a small ES3 app were each connected once and left
 *              (they stay loaded: scripts.idleUnloadSec is 1200 s), and the growth per instance
 *   first      connect → Connect.Success of the first scripted instance in the fresh server
 *   call       nc.call('add', 1, 2) round trip through a running instance, p50 over --calls
 *
 * Another build of the server is measured with --node/--node-args/--entry/--cwd, e.g. an older
 * checkout run from its sources on Node 20:
 *   npm run bench:startup -- --node /usr/bin/node --node-args="--no-node-snapshot --import tsx" \
 *     --entry /tmp/old/runtime/main.ts --cwd /tmp/old
 *
 * Medians over the repeats; nothing is asserted and the exit code is 0 unless the harness broke.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NetConnection } from '../runtime/client/net-connection.ts';
import { nginxRtmpAvailable, startNginxRtmp } from '../test/helpers/nginx-rtmp.ts';
import { serverListening } from '../test/helpers/server-process.ts';
import { SMALL_ES3_SCRIPT } from './lib/bench-apps.ts';
import { positiveInteger } from './lib/bench-options.ts';
import { connectAndLeave } from './lib/idle-rss.ts';
import { percentile, fmt } from './lib/percentiles.ts';
import { median, memory, residentSplit } from './lib/proc-stats.ts';
import { REPO_ROOT } from './lib/servers.ts';

const MIB = 1024 * 1024;
const SETTLE_MS = 3000;

function options() {
  const { values } = parseArgs({
    options: {
      repeats: { type: 'string', default: '3' },
      instances: { type: 'string', default: '100' },
      calls: { type: 'string', default: '200' },
      node: { type: 'string', default: process.execPath },
      'node-args': { type: 'string', default: '' },
      entry: { type: 'string', default: path.join(REPO_ROOT, 'bin/fms-runtime.js') },
      cwd: { type: 'string' },
    },
    strict: true,
  });
  return {
    repeats: positiveInteger('repeats', values.repeats),
    instances: positiveInteger('instances', values.instances),
    calls: positiveInteger('calls', values.calls),
    node: values.node,
    nodeArgs: values['node-args'].split(/\s+/).filter(Boolean),
    entry: values.entry,
    cwd: values.cwd,
  };
}

type Options = ReturnType<typeof options>;

interface Run {
  startMs: number;
  idleMib: number;
  idleAnonymousMib: number;
  instancesMib: number;
  firstConnectMs: number;
  callP50Ms: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measureOurs(opts: Options): Promise<Run> {
  const apps = mkdtempSync(path.join(os.tmpdir(), 'fms-bench-startup-'));
  mkdirSync(path.join(apps, 'scripted'));
  writeFileSync(path.join(apps, 'scripted', 'main.asc'), SMALL_ES3_SCRIPT);
  const cwd = opts.cwd ?? apps;
  const started = performance.now();
  const child = spawn(opts.node, [...opts.nodeArgs, opts.entry, '--apps', apps, '--rtmp-port', '0', '--http-port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = await serverListening(child, 60_000).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  try {
    const startMs = performance.now() - started;
    // The record's pid, not the child's: a launcher that forks instead of exec'ing would show here.
    const pid = Number((await server.logs.waitFor((r) => r.msg === 'server listening'))['pid']);
    await sleep(SETTLE_MS);
    const idle = memory(pid).rss;
    const idleAnonymous = residentSplit(pid).anonymous;
    const url = (name: string) => server.url(`scripted/${name}`);
    let t = performance.now();
    await connectAndLeave(url('first'));
    const firstConnectMs = performance.now() - t;
    for (let i = 1; i < opts.instances; i++) await connectAndLeave(url(`inst-${i}`));
    const closedAll = () => server.logs.records.filter((r) => r.msg === 'client closed').length >= opts.instances;
    while (!closedAll()) await sleep(50); // the disconnects are processed after our sockets close
    await sleep(SETTLE_MS);
    const loaded = memory(pid).rss;
    const nc = new NetConnection();
    await nc.connect(url('calls'));
    const times: number[] = [];
    for (let i = 0; i < opts.calls + 10; i++) {
      t = performance.now();
      await nc.call('add', 1, 2);
      if (i >= 10) times.push(performance.now() - t);
    }
    nc.close();
    return { startMs, idleMib: idle / MIB, idleAnonymousMib: idleAnonymous / MIB, instancesMib: loaded / MIB, firstConnectMs, callP50Ms: percentile(times, 50) };
  } finally {
    await server.stop();
    rmSync(apps, { recursive: true, force: true });
  }
}

async function measureNginx(): Promise<{ startMs: number; idleMib: number; idleAnonymousMib: number }> {
  const started = performance.now();
  const nginx = await startNginxRtmp();
  try {
    const startMs = performance.now() - started;
    await sleep(SETTLE_MS);
    return { startMs, idleMib: memory(nginx.child.pid!).rss / MIB, idleAnonymousMib: residentSplit(nginx.child.pid!).anonymous / MIB };
  } finally {
    await nginx.stop();
  }
}

async function main(): Promise<void> {
  const opts = options();
  const version = await new Promise<string>((resolve) => {
    const child = spawn(opts.node, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', () => resolve(out.trim()));
  });
  process.stdout.write(
    `bench:startup on ${os.availableParallelism()} CPU(s), load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; medians of ${opts.repeats} run(s)\n` +
      `  server: ${opts.node} (${version}) ${[...opts.nodeArgs, opts.entry].join(' ')}\n`,
  );
  const runs: Run[] = [];
  for (let r = 0; r < opts.repeats; r++) runs.push(await measureOurs(opts));
  const med = (pick: (run: Run) => number) => median(runs.map(pick));
  const idle = med((r) => r.idleMib);
  const rows = [
    `  start → "server listening"        ${fmt(med((r) => r.startMs), 0).padStart(8)} ms`,
    `  idle RSS                          ${fmt(idle, 1).padStart(8)} MiB (anonymous ${fmt(med((r) => r.idleAnonymousMib), 1)} MiB; the rest is file-backed: node binary, ICU, libraries)`,
    `  RSS with ${String(opts.instances).padEnd(3)} idle instances       ${fmt(med((r) => r.instancesMib), 1).padStart(8)} MiB (${fmt(((med((r) => r.instancesMib) - idle) * 1024) / opts.instances, 0)} KiB per instance)`,
    `  first scripted instance connect   ${fmt(med((r) => r.firstConnectMs), 1).padStart(8)} ms`,
    `  call round trip p50               ${fmt(med((r) => r.callP50Ms), 3).padStart(8)} ms`,
  ];
  process.stdout.write(`${rows.join('\n')}\n`);
  if (nginxRtmpAvailable()) {
    const nginx: { startMs: number; idleMib: number; idleAnonymousMib: number }[] = [];
    for (let r = 0; r < opts.repeats; r++) nginx.push(await measureNginx());
    const nginxIdle = median(nginx.map((n) => n.idleMib));
    process.stdout.write(
      `  reference nginx-rtmp (one process): start ${fmt(median(nginx.map((n) => n.startMs)), 0)} ms, idle RSS ${fmt(nginxIdle, 1)} MiB (anonymous ${fmt(median(nginx.map((n) => n.idleAnonymousMib)), 1)} MiB) → ours ×${fmt(idle / nginxIdle, 1)}\n`,
    );
  } else process.stdout.write('  reference nginx-rtmp: not installed (apt-get install nginx libnginx-mod-rtmp)\n');
  process.stdout.write(`  goal: idle RSS ≤ 60 MiB → ${fmt(idle, 1)} MiB\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:startup failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);

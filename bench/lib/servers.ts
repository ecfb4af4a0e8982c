/**
 * Starting the servers under test and the publisher, each as its own child process so /proc
 * attributes CPU and memory to exactly one of them:
 * - ours: the compiled build (`bin/fms-runtime.js` → dist/), exactly as an operator runs it;
 * - nms: node-media-server 4.4.3 (bench/lib/nms-server.mjs, plain JavaScript on plain node);
 * - nginx: Debian's nginx with libnginx-mod-rtmp, one foreground process (no master, no daemon).
 * Servers go behind `taskset` when the bench pins (pinning.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BacklogReply } from './backlog.ts';
import { serverCommand, type Pinning } from './pinning.ts';
import { freePort, waitForPort } from './proc-stats.ts';
import { NODE_FLAGS, SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { NGINX_BINARY, NGINX_RTMP_MODULE } from '../../test/helpers/nginx-rtmp.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START_TIMEOUT_MS = 30_000;
/** App and stream names valid for every server (node-media-server wants /^[a-zA-Z0-9_-]+$/ for each). */
export const APP = 'live';
export const STREAM = 'bench';

export type ServerKind = 'ours' | 'nms' | 'nginx';
export const SERVER_KINDS: readonly ServerKind[] = ['ours', 'nginx', 'nms'];
export const SERVER_LABEL: Record<ServerKind, string> = { ours: 'fms-runtime (compiled)', nms: 'node-media-server 4.4.3', nginx: 'nginx-rtmp 1.22' };

/** Parses a --servers list ("ours,nginx,nms"), keeping the order given. */
export function serverKinds(list: string): ServerKind[] {
  const kinds = [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))];
  const bad = kinds.filter((k) => !SERVER_KINDS.includes(k as ServerKind));
  if (bad.length > 0) throw new Error(`--servers takes ${SERVER_KINDS.join(', ')}; not ${bad.join(', ')}`);
  return kinds as ServerKind[];
}

export interface ServerProcess {
  kind: ServerKind;
  pid: number;
  rtmpPort: number;
  /** Our server's HTTP port (RTMPT, admin); 0 for the references. */
  httpPort: number;
  /** Player backlog as the server process sees it; null when this child has no IPC. */
  backlog(clientPort: number): Promise<BacklogReply | null>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** ours only: bench/lib/our-server-probe.ts (sources, plus a backlog query over IPC) instead of the compiled command. */
  probe?: boolean;
  /** ours only: more command-line arguments. */
  extraArgs?: string[];
  /** ours only: node flags, e.g. --cpu-prof (BENCH_OURS_NODE_ARGS adds to them). */
  nodeArgs?: string[];
  pinning?: Pinning;
  logLevel?: string;
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL if the child has not gone within the grace period. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `fms-bench-${prefix}-`));
}

/** Builds dist/ if a source changed since the last build: the benches measure the compiled server. */
export function ensureBuilt(): void {
  if (process.env['BENCH_OURS_ENTRY']) return; // another checkout's build, measured as it is
  execFileSync(process.execPath, ['scripts/build.js', '--if-stale'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * The `fms-runtime` command the benches start: this checkout's, or another build's given as
 * BENCH_OURS_ENTRY=/path/to/checkout/bin/fms-runtime.js (an A/B comparison against an older commit
 * built with `npm run build` in its own worktree; its dist/ must exist).
 */
export const oursEntry = (): string => process.env['BENCH_OURS_ENTRY'] || 'bin/fms-runtime.js';

/** Extra node flags for our servers, e.g. BENCH_OURS_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
export const oursNodeArgs = (): string[] => (process.env['BENCH_OURS_NODE_ARGS'] ?? '').split(' ').filter(Boolean);

/**
 * A spawned server child whose stderr is kept (last 4 KB) for the error when it dies early. Its
 * stdout is dropped, or appended to $BENCH_SERVER_STDOUT when set (e.g. with --a-node-args=--trace-gc).
 */
function spawnServer(pinning: Pinning | undefined, command: string, args: string[], ipc: boolean): { child: ChildProcess; stderr: () => string } {
  const [cmd, argv] = serverCommand(pinning ?? { serverCpus: null, toolCpus: null }, command, args);
  const stdoutFile = process.env['BENCH_SERVER_STDOUT'];
  const stdout = stdoutFile ? openSync(stdoutFile, 'a') : 'ignore';
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ['ignore', stdout, 'pipe', ...(ipc ? (['ipc'] as const) : [])] });
  if (typeof stdout === 'number') closeSync(stdout);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  return { child, stderr: () => stderr };
}

async function started(child: ChildProcess, stderr: () => string, port: number, label: string): Promise<void> {
  const died = exited(child).then(() => {
    throw new Error(`${label} exited during startup: ${stderr()}`);
  });
  // Promise.race keeps a handler on `died`, so the rejection of a later, normal exit is not unhandled.
  await Promise.race([waitForPort(port, START_TIMEOUT_MS), died]).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
}

/**
 * A config file next to the apps folder lifting the budgets a bench exceeds by design: per-IP
 * connections (the bench is one IP), the outbound NetConnections of one instance (bench:relay's
 * relayer instance holds one per relayed stream; the default, 64, is below its 100 streams) and the
 * instance caps (bench:distribute runs one instance per stream, up to 300; the default is 250 an app).
 */
function liftedBudgetsConfig(appsDir: string): string {
  const file = path.join(path.dirname(appsDir), `bench-config-${path.basename(appsDir)}.json`);
  const config = {
    rtmp: { maxConnectionsPerIp: 100_000 },
    http: { maxConnectionsPerIp: 100_000 },
    scripts: { maxOutboundConnections: 10_000 },
    instances: { maxPerApp: 10_000, maxTotal: 10_000 },
  };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Our server on free ports with `appsDir`; the compiled `fms-runtime` command unless `probe`. */
export async function startOurs(appsDir: string, options: StartOptions = {}): Promise<ServerProcess & { child: ChildProcess }> {
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  const extraArgs = options.extraArgs ?? [];
  // Every player, publisher and relay of a bench comes from 127.0.0.1: the per-IP connection
  // budgets are lifted (a caller with a --config of its own lifts them there: only one is read).
  const config = extraArgs.includes('--config') ? [] : ['--config', liftedBudgetsConfig(appsDir)];
  const serverArgs = ['--apps', appsDir, '--rtmp-port', String(rtmpPort), '--http-port', String(httpPort), '--log-level', options.logLevel ?? 'warn', '--no-watch', ...config, ...extraArgs];
  const nodeArgs = [...(options.nodeArgs ?? []), ...oursNodeArgs()];
  const args = options.probe ? [...SOURCE_NODE_FLAGS, ...nodeArgs, 'bench/lib/our-server-probe.ts', ...serverArgs] : [...NODE_FLAGS, ...nodeArgs, oursEntry(), ...serverArgs];
  const { child, stderr } = spawnServer(options.pinning, process.execPath, args, options.probe === true);
  await started(child, stderr, rtmpPort, SERVER_LABEL.ours);
  return {
    kind: 'ours',
    child,
    pid: child.pid!,
    rtmpPort,
    httpPort,
    backlog: (clientPort) => askBacklog(child, clientPort),
    stop: async () => {
      const t = Date.now();
      await stopChild(child, 20000);
      if (process.env['BENCH_DEBUG_STOP']) process.stderr.write(`ours ${child.pid} stopped in ${Date.now() - t} ms (code ${child.exitCode}, signal ${child.signalCode})\n`);
    },
  };
}

/** node-media-server 4.4.3 on a free port; `pushTo` (rtmp://host:port/app) republishes every stream there. */
export async function startNms(dataDir: string, options: { pinning?: Pinning; pushTo?: string } = {}): Promise<ServerProcess> {
  const rtmpPort = await freePort();
  const args = ['bench/lib/nms-server.mjs', '--rtmp-port', String(rtmpPort), '--data-path', dataDir, ...(options.pushTo ? ['--push-to', options.pushTo] : [])];
  const { child, stderr } = spawnServer(options.pinning, process.execPath, args, true);
  await started(child, stderr, rtmpPort, SERVER_LABEL.nms);
  return { kind: 'nms', pid: child.pid!, rtmpPort, httpPort: 0, backlog: (clientPort) => askBacklog(child, clientPort), stop: () => stopChild(child) };
}

/**
 * One foreground nginx-rtmp process (no master, no daemon), its own prefix, pid file and logs, with
 * `appLines` in its application `live` (the relay bench's `push`, the HLS bench's `hls on`).
 */
export async function startNginx(dir: string, appLines: readonly string[], pinning?: Pinning): Promise<{ pid: number; port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const conf = path.join(dir, `nginx-${port}.conf`);
  writeFileSync(
    conf,
    `load_module ${NGINX_RTMP_MODULE};
daemon off;
master_process off;
pid ${dir}/nginx-${port}.pid;
error_log ${dir}/error-${port}.log warn;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    access_log ${dir}/access-${port}.log;
    application live {
      live on;
${appLines.map((line) => `      ${line}\n`).join('')}    }
  }
}
`,
  );
  const { child, stderr } = spawnServer(pinning, NGINX_BINARY, ['-p', dir, '-c', conf], false);
  await started(child, stderr, port, SERVER_LABEL.nginx);
  return { pid: child.pid!, port, stop: () => stopChild(child, 2000) };
}

/** One server of `kind` with an application `live` that accepts everyone (fan-out, stall, transports). */
export async function startServer(kind: ServerKind, options: StartOptions = {}): Promise<ServerProcess> {
  const dir = tempDir(kind);
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  try {
    let server: ServerProcess;
    if (kind === 'ours') {
      const apps = path.join(dir, 'apps');
      mkdirSync(path.join(apps, APP), { recursive: true }); // a folder without main.asc: an app that accepts everyone
      server = await startOurs(apps, options);
    } else if (kind === 'nms') {
      server = await startNms(dir, options.pinning ? { pinning: options.pinning } : {});
    } else {
      const nginx = await startNginx(dir, [], options.pinning);
      server = { kind, pid: nginx.pid, rtmpPort: nginx.port, httpPort: 0, backlog: () => Promise.resolve(null), stop: nginx.stop };
    }
    const stop = server.stop;
    return { ...server, stop: () => stop().finally(cleanUp) };
  } catch (error) {
    cleanUp();
    throw error;
  }
}

function askBacklog(child: ChildProcess, clientPort: number): Promise<BacklogReply | null> {
  if (!child.connected) return Promise.resolve(null);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 2000);
    child.once('message', (reply) => {
      clearTimeout(timer);
      resolve(reply as BacklogReply);
    });
    child.send({ type: 'backlog', port: clientPort });
  });
}

export interface Publisher {
  pid: number;
  alive(): boolean;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * ffmpeg -re -c copy of a pre-encoded FLV, looped so runs longer than the file still have a
 * publisher (copying costs ffmpeg ~1% of a core, so it does not starve the server under test).
 */
export function startPublisher(file: string, url: string): Publisher {
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-f', 'flv', url], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  return {
    pid: child.pid!,
    alive: () => child.exitCode === null && child.signalCode === null,
    stderr: () => stderr,
    stop: () => stopChild(child, 2000),
  };
}

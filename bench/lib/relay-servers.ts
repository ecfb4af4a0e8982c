/**
 * The two server pairs the relay bench compares, each server its own process so /proc attributes
 * CPU and memory to it alone:
 * - ours: A runs test/fixtures/apps/relayer (a main.asc that republishes each stream to the URIs in
 *   the publisher's `?to=` query, through server-side NetConnection/NetStream) with runtime/main.ts;
 *   B is a script-less app `live`.
 * - nginx-rtmp: A's application `live` has `push` to B's `live`, the module's native relay.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerProcess, type ServerProcess } from '../../test/helpers/server-process.ts';
import { NGINX_BINARY, NGINX_RTMP_MODULE } from '../../test/helpers/nginx-rtmp.ts';
import { freePort, waitForPort } from './proc-stats.ts';
import { REPO_ROOT, exited, stopChild } from './servers.ts';

export type RelayKind = 'ours' | 'nginx';
export const RELAY_LABEL: Record<RelayKind, string> = { ours: 'fms-runtime (relayer main.asc)', nginx: 'nginx-rtmp (push)' };

export interface RelayPair {
  kind: RelayKind;
  aPid: number;
  bPid: number;
  /** Where the publisher of `stream` sends to (on A). */
  publishUrl(stream: string): string;
  /** NetConnection URLs of the application a player of A / of B connects to (then plays the stream name). */
  aPlayUrl: string;
  bPlayUrl: string;
  stop(): Promise<void>;
}

/** Extra node flags for our server A, e.g. BENCH_A_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile it. */
const aNodeArgs = (): string[] => (process.env['BENCH_A_NODE_ARGS'] ?? '').split(' ').filter(Boolean);

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `fms-bench-${prefix}-`));
}

async function startOurs(): Promise<RelayPair> {
  const dir = tempDir('relay-ours');
  const appsA = path.join(dir, 'a');
  const appsB = path.join(dir, 'b');
  cpSync(path.join(REPO_ROOT, 'test/fixtures/apps/relayer'), path.join(appsA, 'relayer'), { recursive: true });
  mkdirSync(path.join(appsB, 'live'), { recursive: true }); // no main.asc: accepts everyone
  // The helper starts at debug level; a later flag wins, and info is the operator's default.
  const started = await Promise.allSettled([startServerProcess(appsA, ['--log-level', 'info'], 0, aNodeArgs()), startServerProcess(appsB, ['--log-level', 'info'])]);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    // The one that did start would outlive the bench (process.exit does not end children).
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    rmSync(dir, { recursive: true, force: true });
    throw failed.reason;
  }
  const [a, b] = started.map((s) => (s as PromiseFulfilledResult<ServerProcess>).value) as [ServerProcess, ServerProcess];
  const destination = encodeURIComponent(b.url('live'));
  return {
    kind: 'ours',
    aPid: a.child.pid!,
    bPid: b.child.pid!,
    publishUrl: (stream) => a.url(`relayer/${stream}?to=${destination}`),
    aPlayUrl: a.url('relayer'),
    bPlayUrl: b.url('live'),
    stop: async () => {
      await Promise.all([a.stop(), b.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One foreground nginx-rtmp process (no master, no daemon), its own prefix, pid file and logs, with
 * `appLines` in its application `live` (the relay bench's `push`, the HLS bench's `hls on`).
 */
export async function startNginx(dir: string, appLines: readonly string[]): Promise<{ pid: number; port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const conf = path.join(dir, `nginx-${port}.conf`);
  writeFileSync(
    conf,
    `load_module ${NGINX_RTMP_MODULE};
daemon off;
master_process off;
pid ${dir}/nginx-${port}.pid;
error_log ${dir}/error-${port}.log warn;
events { worker_connections 1024; }
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
  const child = spawn(NGINX_BINARY, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const died = exited(child).then(() => {
    throw new Error(`nginx exited during startup: ${stderr}`);
  });
  await Promise.race([waitForPort(port, 10_000), died]);
  return { pid: child.pid!, port, stop: () => stopChild(child, 2000) };
}

async function startNginxPair(): Promise<RelayPair> {
  const dir = tempDir('relay-nginx');
  const b = await startNginx(dir, []);
  const a = await startNginx(dir, [`push rtmp://127.0.0.1:${b.port}/live;`]).catch(async (error: unknown) => {
    await b.stop(); // would outlive the bench otherwise
    throw error;
  });
  return {
    kind: 'nginx',
    aPid: a.pid,
    bPid: b.pid,
    publishUrl: (stream) => `rtmp://127.0.0.1:${a.port}/live/${stream}`,
    aPlayUrl: `rtmp://127.0.0.1:${a.port}/live`,
    bPlayUrl: `rtmp://127.0.0.1:${b.port}/live`,
    stop: async () => {
      await Promise.all([a.stop(), b.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function startRelayPair(kind: RelayKind): Promise<RelayPair> {
  return kind === 'ours' ? startOurs() : startNginxPair();
}

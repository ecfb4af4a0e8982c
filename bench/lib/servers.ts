/**
 * Starting the servers under test and the publisher, each as its own child process so /proc
 * attributes CPU and memory to exactly one of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BacklogReply } from './backlog.ts';
import { freePort, waitForPort } from './proc-stats.ts';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START_TIMEOUT_MS = 30_000;
/** App and stream names valid for both servers (node-media-server wants /^[a-zA-Z0-9_-]+$/ for each). */
export const APP = 'live';
export const STREAM = 'bench';

export type ServerKind = 'ours' | 'nms';
export const SERVER_LABEL: Record<ServerKind, string> = { ours: 'fms-runtime', nms: 'node-media-server 4.4.3' };

export interface ServerProcess {
  kind: ServerKind;
  pid: number;
  rtmpPort: number;
  /** Our server's HTTP port (RTMPT, admin); 0 for node-media-server. */
  httpPort: number;
  /** Player backlog as the server process sees it; null when this child has no IPC (runtime/main.ts). */
  backlog(clientPort: number): Promise<BacklogReply | null>;
  stop(): Promise<void>;
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

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `fms-bench-${prefix}-`));
}

/**
 * `probe` false: runtime/main.ts exactly as an operator runs it (fan-out CPU figures).
 * `probe` true: bench/lib/our-server-probe.ts, same server plus a backlog query over IPC.
 */
export async function startServer(kind: ServerKind, probe = false, extraArgs: string[] = []): Promise<ServerProcess> {
  if (kind !== 'ours' && extraArgs.length > 0) throw new Error('extra server arguments are for our server only');
  const rtmpPort = await freePort();
  const dir = tempDir(kind);
  let args: string[];
  let httpPort = 0;
  if (kind === 'ours') {
    const apps = path.join(dir, 'apps');
    mkdirSync(apps);
    mkdirSync(path.join(apps, APP)); // a folder without main.asc: an app that accepts everyone
    httpPort = await freePort();
    const script = probe ? 'bench/lib/our-server-probe.ts' : 'runtime/main.ts';
    // Every player of the load generator comes from 127.0.0.1: lift the per-IP connection budget
    // (a caller with a config of its own lifts it there: the last --config wins).
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ rtmp: { maxConnectionsPerIp: 100_000 }, http: { maxConnectionsPerIp: 100_000 } }));
    args = [script, '--apps', apps, '--rtmp-port', String(rtmpPort), '--http-port', String(httpPort), '--log-level', 'warn', '--config', config, ...extraArgs];
  } else {
    args = ['bench/lib/nms-server.ts', '--rtmp-port', String(rtmpPort), '--data-path', dir];
  }
  const ipc = kind === 'nms' || probe;
  const child = spawn(process.execPath, [...SOURCE_NODE_FLAGS, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const died = exited(child).then(() => {
    throw new Error(`${SERVER_LABEL[kind]} exited during startup: ${stderr}`);
  });
  // Promise.race keeps a handler on `died`, so the rejection of a later, normal exit is not unhandled.
  await Promise.race([waitForPort(rtmpPort, START_TIMEOUT_MS), died]);
  return {
    kind,
    pid: child.pid!,
    rtmpPort,
    httpPort,
    backlog: (clientPort) => {
      if (!ipc || !child.connected) return Promise.resolve(null);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), 2000);
        child.once('message', (reply) => {
          clearTimeout(timer);
          resolve(reply as BacklogReply);
        });
        child.send({ type: 'backlog', port: clientPort });
      });
    },
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

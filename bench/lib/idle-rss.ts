/**
 * Sandbox bench part (b): RSS per idle instance. A fresh server child per measurement; we connect
 * once to each of `count` instances and disconnect, so every instance is loaded and idle (no
 * clients, not unloaded before scripts.idleUnloadSec), then divide the child's RSS growth by count.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { IdleServerReply, IdleServerRequest } from './idle-instances-server.ts';
import { memory } from './proc-stats.ts';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { REPO_ROOT, exited, stopChild } from './servers.ts';

const WARMUP_INSTANCES = 5;
/** Connects in flight at once: enough to finish 1,000 instances quickly, few enough not to time out. */
const CONNECT_CONCURRENCY = 4;
const DRAIN_TIMEOUT_MS = 15_000;

export interface IdleRss {
  baselineMib: number;
  afterMib: number;
  /** RSS growth divided by the instances connected, in bytes. */
  perInstanceBytes: number;
  /** Instances the server held when measured (should be count + warm-up). */
  loaded: number;
}

function ask<T extends IdleServerReply['type']>(child: ChildProcess, type: T, request?: IdleServerRequest): Promise<Extract<IdleServerReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onExit = () => reject(new Error('idle-instance server exited'));
    const onMessage = (reply: IdleServerReply) => {
      if (reply.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(reply as Extract<IdleServerReply, { type: T }>);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (request) child.send(request);
  });
}

/** Connects once and leaves: the instance is loaded and stays idle. */
export async function connectAndLeave(url: string): Promise<void> {
  const nc = new NetConnection({ connectTimeoutMs: 30_000 });
  await nc.connect(url);
  const closed = new Promise<void>((resolve) => nc.once('close', () => resolve()));
  nc.close();
  await closed;
}

/** Waits until the server has processed every disconnect (no sessions left). */
async function drained(child: ChildProcess): Promise<number> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const stats = await ask(child, 'stats', { type: 'stats' });
    if (stats.sessions === 0 || Date.now() > deadline) return stats.instances;
    await new Promise((resolve) => setTimeout(resolve, 100)); // no event to await across the process boundary
  }
}

async function settledRss(child: ChildProcess): Promise<number> {
  await ask(child, 'gc', { type: 'gc' });
  return memory(child.pid!).rss;
}

export async function measureIdleRss(appsDir: string, app: string, count: number): Promise<IdleRss> {
  const child = spawn(process.execPath, ['--expose-gc', ...SOURCE_NODE_FLAGS, 'bench/lib/idle-instances-server.ts', '--apps', appsDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ready = await Promise.race([ask(child, 'ready'), exited(child).then(() => Promise.reject(new Error('idle-instance server exited during startup')))]);
    const url = (name: string) => `rtmp://127.0.0.1:${ready.rtmpPort}/${app}/${name}`;
    for (let i = 0; i < WARMUP_INSTANCES; i++) await connectAndLeave(url(`warm-${i}`));
    await drained(child);
    const baseline = await settledRss(child);
    let next = 0;
    const worker = async () => {
      while (next < count) await connectAndLeave(url(`inst-${next++}`));
    };
    await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
    const loaded = await drained(child);
    const after = await settledRss(child);
    const MIB = 1024 * 1024;
    return { baselineMib: baseline / MIB, afterMib: after / MIB, perInstanceBytes: (after - baseline) / count, loaded };
  } finally {
    await stopChild(child, 10_000);
  }
}

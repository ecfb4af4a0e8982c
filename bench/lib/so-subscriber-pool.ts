/** Parent side of the shared-object bench's subscriber children (so-subscribers.ts). */
import { spawn, type ChildProcess } from 'node:child_process';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { REPO_ROOT, stopChild } from './servers.ts';

export type SubscriberRequest = { cmd: 'join'; url: string; so: string; count: number } | { cmd: 'report' };
export type SubscriberReply =
  | { type: 'joined'; count: number }
  | { type: 'report'; delivered: number; latencies: number[]; firstAtMs: number; lastAtMs: number }
  | { type: 'error'; message: string };

/** Monotonic milliseconds, comparable across processes (the writer stamps changes with it). */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface PoolReport {
  delivered: number;
  latencies: number[];
  /** When the first and the last measured change arrived anywhere (monotonicMs). */
  firstAtMs: number;
  lastAtMs: number;
}

/** `processes` children sharing `total` subscribers as evenly as possible. */
export class SubscriberPool {
  readonly #children: ChildProcess[];
  readonly #counts: number[];

  constructor(total: number, processes: number, nodeArgs: string[] = []) {
    const n = Math.max(1, Math.min(processes, total));
    this.#counts = Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
    this.#children = this.#counts.map(() =>
      spawn(process.execPath, [...nodeArgs, ...SOURCE_NODE_FLAGS, 'bench/lib/so-subscribers.ts'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }

  get pids(): number[] {
    return this.#children.map((c) => c.pid!);
  }

  async join(url: string, so: string): Promise<number> {
    const replies = await Promise.all(this.#children.map((child, i) => request(child, { cmd: 'join', url, so, count: this.#counts[i]! }, 'joined')));
    return replies.reduce((sum, r) => sum + r.count, 0);
  }

  /** Collects and resets every child's figures. */
  async report(): Promise<PoolReport> {
    const replies = await Promise.all(this.#children.map((child) => request(child, { cmd: 'report' }, 'report')));
    return {
      delivered: replies.reduce((sum, r) => sum + r.delivered, 0),
      latencies: replies.flatMap((r) => r.latencies),
      firstAtMs: Math.min(...replies.map((r) => r.firstAtMs || Number.POSITIVE_INFINITY)),
      lastAtMs: Math.max(0, ...replies.map((r) => r.lastAtMs)),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.#children.map((child) => stopChild(child, 3000)));
  }
}

function request<T extends SubscriberReply['type']>(child: ChildProcess, req: SubscriberRequest, expect: T): Promise<Extract<SubscriberReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onExit = () => reject(new Error('subscriber process exited'));
    child.once('exit', onExit);
    child.once('message', (reply: SubscriberReply) => {
      child.off('exit', onExit);
      if (reply.type === expect) resolve(reply as Extract<SubscriberReply, { type: T }>);
      else reject(new Error(reply.type === 'error' ? reply.message : `unexpected reply ${reply.type}`));
    });
    child.send(req);
  });
}

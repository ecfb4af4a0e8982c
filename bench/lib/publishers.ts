/** Parent side of the publisher pool child (publisher-pool.ts): spawn it and talk to it over IPC. */
import { spawn, type ChildProcess } from 'node:child_process';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { REPO_ROOT, stopChild, type Publisher } from './servers.ts';

export type PoolRequest =
  /** Publishes more streams (the first call starts the clock); `spread`: streams whose clocks share a frame interval (default: these). */
  | { cmd: 'start'; file: string; targets: { url: string; name: string }[]; spread?: number }
  /** Keep the first `count` streams, unpublish the rest. */
  | { cmd: 'trim'; count: number }
  /** Largest lateness of a send since the last stats, and the streams still connected. */
  | { cmd: 'stats' };

export type PoolReply =
  | { type: 'started'; started: number; failed: number }
  | { type: 'trimmed' }
  | { type: 'stats'; maxLateMs: number; connected: number }
  | { type: 'error'; message: string };

export class PublisherPool {
  readonly #child: ChildProcess;
  #queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.#child = spawn(process.execPath, [...SOURCE_NODE_FLAGS, 'bench/lib/publisher-pool.ts'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** One request at a time: replies carry no id. */
  request<T extends PoolReply['type']>(request: PoolRequest, expect: T): Promise<Extract<PoolReply, { type: T }>> {
    const run = () =>
      new Promise<Extract<PoolReply, { type: T }>>((resolve, reject) => {
        const onExit = () => reject(new Error('publisher pool exited'));
        this.#child.once('exit', onExit);
        this.#child.once('message', (reply: PoolReply) => {
          this.#child.off('exit', onExit);
          if (reply.type === expect) resolve(reply as Extract<PoolReply, { type: T }>);
          else reject(new Error(reply.type === 'error' ? reply.message : `unexpected reply ${reply.type}`));
        });
        this.#child.send(request);
      });
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  stop(): Promise<void> {
    return stopChild(this.#child, 3000);
  }
}

/**
 * One stream published by a pool child at the file's own pace, each tag when it is due (as a live
 * encoder sends): a Publisher like ffmpeg's (servers.ts startPublisher), whose -re output groups
 * audio and video into bursts (~25 a second for the test file instead of ~68 messages).
 */
export async function startPacedPublisher(file: string, url: string, name: string): Promise<Publisher> {
  const pool = new PublisherPool();
  let alive = true;
  try {
    const started = await pool.request({ cmd: 'start', file, targets: [{ url, name }] }, 'started');
    if (started.started !== 1) throw new Error(`paced publisher could not publish ${name} at ${url}`);
  } catch (error) {
    await pool.stop();
    throw error;
  }
  return {
    pid: pool.pid,
    alive: () => alive,
    stderr: () => '',
    stop: async () => {
      alive = false;
      await pool.stop();
    },
  };
}

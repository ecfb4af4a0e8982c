/** Parent side of the load generator child (players.ts): spawn it and talk to it over IPC. */
import { spawn, type ChildProcess } from 'node:child_process';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { REPO_ROOT, stopChild } from './servers.ts';

export type PlayerRequest =
  /** `ca`: a PEM CA the players trust for rtmps/rtmpts (a bench's own test CA). */
  | { cmd: 'grow'; url: string; stream: string; count: number; ca?: string }
  | { cmd: 'reset' }
  | { cmd: 'report' }
  | { cmd: 'stall'; url: string; stream: string };

export type PlayerReply =
  | { type: 'grown'; connected: number; failed: number }
  | { type: 'reset' }
  | { type: 'report'; frames: number[]; elapsedMs: number }
  | { type: 'stalled'; localPort: number }
  | { type: 'error'; message: string };

export class LoadGenerator {
  readonly #child: ChildProcess;
  #queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.#child = spawn(process.execPath, [...SOURCE_NODE_FLAGS, 'bench/lib/players.ts'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** One request at a time: replies carry no id, so requests are serialised. */
  request<T extends PlayerReply['type']>(request: PlayerRequest, expect: T): Promise<Extract<PlayerReply, { type: T }>> {
    const run = () =>
      new Promise<Extract<PlayerReply, { type: T }>>((resolve, reject) => {
        const onExit = () => reject(new Error('load generator exited'));
        this.#child.once('exit', onExit);
        this.#child.once('message', (reply: PlayerReply) => {
          this.#child.off('exit', onExit);
          if (reply.type === expect) resolve(reply as Extract<PlayerReply, { type: T }>);
          else reject(new Error(reply.type === 'error' ? reply.message : `unexpected reply ${reply.type}`));
        });
        this.#child.send(request);
      });
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined); // a failed request must not block the next one
    return result;
  }

  stop(): Promise<void> {
    return stopChild(this.#child, 3000);
  }
}

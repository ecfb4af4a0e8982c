/** A bench helper process (publisher pool, player load generator) and its parent's one-at-a-time requests over IPC. */
import { spawn, type ChildProcess } from 'node:child_process';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { REPO_ROOT, stopChild } from './servers.ts';

export class IpcChild<Request, Reply extends { type: string }> {
  readonly #child: ChildProcess;
  readonly #what: string;
  #queue: Promise<unknown> = Promise.resolve();

  /** `script`: the child's TypeScript entry, relative to the repository; `what` names it in errors. */
  constructor(script: string, what: string) {
    this.#what = what;
    this.#child = spawn(process.execPath, [...SOURCE_NODE_FLAGS, script], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** One request at a time: replies carry no id, so requests are serialised. */
  request<T extends Reply['type']>(request: Request, expect: T): Promise<Extract<Reply, { type: T }>> {
    const run = () =>
      new Promise<Extract<Reply, { type: T }>>((resolve, reject) => {
        const onExit = () => reject(new Error(`${this.#what} exited`));
        this.#child.once('exit', onExit);
        this.#child.once('message', (reply: Reply) => {
          this.#child.off('exit', onExit);
          if (reply.type === expect) resolve(reply as Extract<Reply, { type: T }>);
          else reject(new Error(reply.type === 'error' ? String((reply as { message?: unknown }).message) : `unexpected reply ${reply.type}`));
        });
        this.#child.send(request as object);
      });
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined); // a failed request must not block the next one
    return result;
  }

  stop(): Promise<void> {
    return stopChild(this.#child, 3000);
  }
}

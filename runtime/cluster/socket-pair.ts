import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Connected pairs of local sockets, made with Node's own net module: the primary connects to a
 * Unix-domain server of its own (in a fresh 0700 temp folder) and takes the accepted end. One end
 * of a pair is handed to a worker with child_process send(message, socket) — Node's handle passing —
 * while the primary keeps the other to carry a session it must terminate itself (TLS, RTMPT,
 * RTMPE): the worker reads plain RTMP from its end as if it were a TCP client.
 *
 * Pairs are made one at a time (a queue), so the accepted socket is always the one just connected;
 * nothing is written on a pair to match its ends.
 */
export class SocketPairs {
  readonly #dir = mkdtempSync(path.join(os.tmpdir(), 'fms-runtime-pairs-'));
  readonly #path = path.join(this.#dir, 'pairs.sock');
  readonly #server = net.createServer({ pauseOnConnect: true });
  #listening: Promise<void> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Resolves with [kept end, end to hand over]; both are paused and have no listeners. */
  pair(): Promise<[net.Socket, net.Socket]> {
    const next = this.#queue.then(() => this.#make());
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #make(): Promise<[net.Socket, net.Socket]> {
    if (this.#closed) throw new Error('socket pairs closed');
    this.#listening ??= new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#path, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    await this.#listening;
    return new Promise((resolve, reject) => {
      const kept = net.connect(this.#path);
      const onError = (error: Error) => {
        this.#server.off('connection', onAccepted);
        reject(error);
      };
      const onAccepted = (handed: net.Socket) => {
        kept.off('error', onError);
        kept.pause();
        resolve([kept, handed]);
      };
      kept.once('error', onError);
      this.#server.once('connection', onAccepted);
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#server.listening) this.#server.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

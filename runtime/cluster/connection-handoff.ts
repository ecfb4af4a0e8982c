import type { Socket } from 'node:net';
import { encodeAmf0 } from '../rtmp/amf0.ts';
import { ChunkEncoder } from '../rtmp/chunk-encoder.ts';
import type { RtmpConnection } from '../rtmp/connection.ts';
import { MessageType, OUTPUT_CHUNK_SIZE_BYTES } from '../rtmp/message.ts';
import { END_GRACE_MS, SocketTransport, type RtmpTransport } from '../rtmp/transport.ts';
import type { Logger } from '../log/logger.ts';
import { status, type InfoObject } from '../common/status-codes.ts';
import type { ClientSession } from '../sessions/client-session.ts';
import { refused } from '../sessions/connect-request.ts';
import type { InstanceRouter } from './instance-router.ts';
import type { ConnectionMessage, HandedClient } from './messages.ts';
import type { SocketPairs } from './socket-pair.ts';
import type { WorkerPool } from './worker-pool.ts';

/** A proxied session's worker end closed without the worker saying so: wait this long for its 'closed' or its exit. */
const ORPHAN_WAIT_MS = 2000;
/** What a proxied session's worker side may write ahead of a client that reads slowly, before the pair is paused. */
const PROXY_HIGH_WATER_BYTES = 1024 * 1024;

/** A connection given to a worker, and what the primary kept to tell its client if that worker dies. */
interface Handed {
  id: number;
  worker: number;
  app: string;
  /** The client's socket the primary still holds a handle of (plain RTMP), or the session it carries (proxied). */
  socket: Socket | null;
  transport: RtmpTransport | null;
  /** The primary's end of the local pair (proxied sessions). */
  pair: Socket | null;
  orphanTimer: NodeJS.Timeout | null;
}

export interface HandoffOptions {
  router: InstanceRouter;
  pool: WorkerPool;
  pairs: SocketPairs;
  log: Logger;
}

/**
 * The primary's side of process distribution for RTMP sessions. Each connection (after its
 * handshake, whatever the transport) is a ClientSession in the primary too, which reads and checks
 * its connect command as in one process (budgets, connect timer, refusals); its route comes here:
 * the connect names the application instance and so the worker (InstanceRouter), and the
 * connection is handed over with every byte read after the handshake, which the worker's own
 * session reads again.
 *
 * - Plain RTMP over TCP: the client's own socket goes to the worker with Node's handle passing
 *   (child_process send(message, socket)), with the bytes already read. The primary keeps a handle
 *   of the same socket (keepOpen), paused, only to tell the client if the worker dies: media never
 *   passes through the primary.
 * - RTMPS, RTMPT(S), RTMPE(TE): the primary terminates TLS, HTTP and the cipher, so it keeps the
 *   session and carries its plain RTMP over a local socket pair whose other end goes to the worker.
 *
 * A worker that dies leaves its clients with an FMS status: NetConnection.Connect.AppShutdown
 * ("the application process ended") written by the primary, then the connection closes.
 */
export class ConnectionHandoff {
  readonly #options: HandoffOptions;
  readonly #handed = new Map<number, Handed>();
  #nextId = 1;
  #seq = 0;

  constructor(options: HandoffOptions) {
    this.#options = options;
  }

  /** Connections handed over and still open, per worker. */
  countFor(worker: number): number {
    let n = 0;
    for (const handed of this.#handed.values()) if (handed.worker === worker) n++;
    return n;
  }

  /** The route of a primary's session whose connect was read: its connection goes to the worker owning the instance. */
  handOver(session: ClientSession): void {
    const { router, pool } = this.#options;
    const target = session.target!;
    const seq = ++this.#seq;
    const worker = router.route(target.app, target.instance, seq);
    if (!pool.isReady(worker)) {
      // Restarting after a crash: FMS answers a connect it cannot serve now with a rejection.
      session.decide(refused(status.connectRejected('The application process is restarting; try again.'), 'worker process restarting', 'warn'));
      return;
    }
    void this.#send(session.connection, worker, seq, target.app);
  }

  async #send(connection: RtmpConnection, worker: number, seq: number, app: string): Promise<void> {
    const { pool, log } = this.#options;
    const handOff = connection.handOff();
    const transport = handOff.transport;
    const client: HandedClient = { kind: transport.kind, encrypted: transport.encrypted, remoteAddress: transport.remoteAddress };
    const id = this.#nextId++;
    const message: ConnectionMessage = { type: 'connection', id, seq, client, bytesIn: handOff.bytesIn, bytesOut: handOff.bytesOut, replay: handOff.replay };
    const handed: Handed = { id, worker, app, socket: null, transport: null, pair: null, orphanTimer: null };
    try {
      if (transport instanceof SocketTransport && transport.kind === 'tcp' && !transport.encrypted) {
        const { socket, stoppedReading } = transport.release();
        await drained(socket);
        // Node tracks a socket of a net.Server sent to a child (server.close() then asks the child about
        // it, and waits forever if that child died): this socket is ours to track, so it leaves its server.
        (socket as unknown as { server: unknown }).server = null;
        // Kept open (a second handle of the same socket) only to tell its client if the worker dies.
        if (stoppedReading) {
          handed.socket = socket;
          this.#handed.set(id, handed);
        }
        const sent = await pool.sendConnection(worker, message, socket, stoppedReading);
        if (!stoppedReading) socket.destroy(); // its handle went to the worker: this releases the server's count
        if (!sent) throw new Error(`worker ${worker} is not running`);
      } else {
        const [kept, given] = await this.#options.pairs.pair();
        handed.transport = transport;
        handed.pair = kept;
        this.#handed.set(id, handed);
        this.#carry(handed, transport, kept);
        const sent = await pool.sendConnection(worker, message, given, false);
        if (!sent) {
          given.destroy();
          throw new Error(`worker ${worker} is not running`);
        }
      }
    } catch (error) {
      log.warn({ ip: client.remoteAddress, worker, err: (error as Error).message }, 'connection could not be handed to its worker');
      this.#finish(handed, null);
    }
  }

  /** A proxied session: the client's plain RTMP both ways between its transport and the primary's end of the pair. */
  #carry(handed: Handed, transport: RtmpTransport, kept: Socket): void {
    transport.bind({
      data: (chunk) => {
        if (!kept.destroyed) kept.write(chunk);
      },
      drain: () => kept.resume(),
      closed: () => {
        // The client left: the worker sees its end of the pair close, like a socket's.
        kept.end();
        this.#forget(handed);
      },
    });
    kept.on('data', (chunk: Buffer) => {
      transport.write([chunk]);
      if (transport.bufferedBytes > PROXY_HIGH_WATER_BYTES) kept.pause(); // resumed by the transport's drain
    });
    kept.on('error', () => kept.destroy());
    kept.on('close', () => {
      if (!this.#handed.has(handed.id)) return;
      // The worker closed the session; its 'closed' message or its exit tells which (normal end or crash).
      handed.orphanTimer = setTimeout(() => this.#finish(handed, null), ORPHAN_WAIT_MS);
    });
    kept.resume();
  }

  /** The worker says a handed connection ended normally: release what the primary kept for it. */
  closed(id: number): void {
    const handed = this.#handed.get(id);
    if (handed) this.#finish(handed, null);
  }

  /** A worker died: its clients get the FMS status the primary can still write to them, then their connections close. */
  workerExited(worker: number): void {
    const info: InfoObject = { ...status.connectAppShutdown(''), description: 'The application process ended unexpectedly.' };
    let told = 0;
    for (const handed of [...this.#handed.values()]) {
      if (handed.worker !== worker) continue;
      const description = handed.app ? `The process serving application ${handed.app} ended unexpectedly.` : info.description;
      this.#finish(handed, { ...info, description });
      told++;
    }
    if (told > 0) this.#options.log.warn({ worker, clients: told }, 'clients of the ended worker told NetConnection.Connect.AppShutdown');
  }

  /** Server shutdown: every handed connection's primary side is let go (the workers close the sessions). */
  closeAll(): void {
    for (const handed of [...this.#handed.values()]) this.#finish(handed, null);
  }

  #forget(handed: Handed): void {
    this.#handed.delete(handed.id);
    if (handed.orphanTimer) clearTimeout(handed.orphanTimer);
  }

  /** Ends the primary's part of a handed connection, first writing `info` to the client when given. */
  #finish(handed: Handed, info: InfoObject | null): void {
    this.#forget(handed);
    const bytes = info ? onStatusBytes(info) : null;
    if (handed.socket) {
      const socket = handed.socket;
      if (bytes && !socket.destroyed) {
        socket.end(bytes);
        setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
      } else socket.destroy(); // the worker ended it (its FIN went out) or it is gone: drop the primary's handle
    }
    if (handed.transport) {
      if (bytes) handed.transport.write([bytes]);
      handed.transport.end();
    }
    handed.pair?.destroy();
  }
}

/** Resolves once a socket's queued writes reached the kernel (the handshake answer and setup, before handing it over). */
function drained(socket: Socket): Promise<void> {
  if (socket.writableLength === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.once('drain', () => resolve());
    socket.once('error', reject);
  });
}

/**
 * An onStatus command on the connection's command chunk stream, as a complete message with a fmt 0
 * header (it depends on no earlier header) in our announced chunk size.
 */
function onStatusBytes(info: InfoObject): Buffer {
  const encoder = new ChunkEncoder();
  encoder.setChunkSize(OUTPUT_CHUNK_SIZE_BYTES);
  const payload = encodeAmf0(['onStatus', 0, null, info]);
  return Buffer.concat(encoder.encode({ type: MessageType.CommandAmf0, streamId: 0, timestamp: 0, payload }, 3));
}

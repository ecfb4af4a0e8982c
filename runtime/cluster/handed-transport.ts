import type { Socket } from 'node:net';
import { SocketTransport, type RtmpTransport, type TransportKind, type TransportSink } from '../rtmp/transport.ts';
import type { HandedClient } from './messages.ts';

/**
 * A worker's transport for a client the primary handed over: the socket is the client's own TCP
 * socket (plain RTMP) or the worker's end of a local pair whose other end the primary feeds (RTMPS,
 * RTMPT, RTMPE: the primary terminates TLS, HTTP and the cipher). Either way it carries plain RTMP;
 * what the session reports (client.protocol, client.secure, client.ip, per-transport counts) is how
 * the client really came, as the primary saw it.
 */
export class HandedTransport implements RtmpTransport {
  readonly kind: TransportKind;
  readonly encrypted: boolean;
  readonly remoteAddress: string;
  readonly #inner: SocketTransport;

  constructor(socket: Socket, client: HandedClient) {
    this.#inner = new SocketTransport(socket, 'tcp');
    this.kind = client.kind;
    this.encrypted = client.encrypted;
    this.remoteAddress = client.remoteAddress;
  }

  get bufferedBytes(): number {
    return this.#inner.bufferedBytes;
  }

  get socket(): Socket {
    return this.#inner.socket;
  }

  bind(sink: TransportSink): void {
    this.#inner.bind(sink);
  }

  write(pieces: readonly Buffer[], count?: number): void {
    this.#inner.write(pieces, count);
  }

  end(): void {
    this.#inner.end();
  }

  destroy(): void {
    this.#inner.destroy();
  }
}

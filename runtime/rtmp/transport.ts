import type { Socket } from 'node:net';

/**
 * The bytes beneath one RTMP session (ARCHITECTURE decision 11). The session — handshake, chunk
 * codec, FMS semantics above it — reads and writes a byte stream and never asks how it travels:
 * a TCP socket, a TLS socket (RTMPS), an RTMPT HTTP session (runtime/rtmp/rtmpt-session.ts) or any
 * of those under the RTMPE cipher (runtime/rtmp/cipher-transport.ts).
 */

/** How the bytes travel: plain TCP, TLS, RTMPT over HTTP, RTMPT over HTTPS. */
export type TransportKind = 'tcp' | 'tls' | 'http' | 'https';

/** The six ways a client reaches us; the per-transport counts (admin API, metrics) use these names. */
export type TransportName = 'rtmp' | 'rtmps' | 'rtmpt' | 'rtmpts' | 'rtmpe' | 'rtmpte';
export const TRANSPORT_NAMES: readonly TransportName[] = ['rtmp', 'rtmps', 'rtmpt', 'rtmpts', 'rtmpe', 'rtmpte'];

/** What the owner of a transport (its RtmpConnection) hears; one sink, set with bind(). */
export interface TransportSink {
  data(chunk: Buffer): void;
  /** What was written has been taken by the peer's side (the kernel, or an RTMPT poll). */
  drain(): void;
  /** The transport is gone: peer closed, error, expiry. */
  closed(reason: string, error?: Error): void;
}

export interface RtmpTransport {
  readonly kind: TransportKind;
  /** True once the RTMPE cipher is on this stream. */
  readonly encrypted: boolean;
  /** Peer address without the IPv4-mapped prefix. */
  readonly remoteAddress: string;
  /** Bytes written but not yet taken by the peer's side: the back-pressure signal for media. */
  readonly bufferedBytes: number;
  /** The TCP/TLS socket beneath, if there is one (tests pause it to play a reader that stalls). */
  readonly socket: Socket | null;
  /** Sets (or replaces, for a cipher put on top) the one receiver of this transport's events. */
  bind(sink: TransportSink): void;
  /** Pieces queued in one event-loop turn, written in order. The pieces may be shared: never modify them. */
  write(pieces: readonly Buffer[]): void;
  /** Sends what is queued, then closes; a peer that never reads is cut off after a grace period. */
  end(): void;
  destroy(): void;
}

/** The name of what a transport carries, e.g. 'rtmpte' for RTMPT under the RTMPE cipher. */
export function transportName(transport: RtmpTransport): TransportName {
  switch (transport.kind) {
    case 'tcp':
      return transport.encrypted ? 'rtmpe' : 'rtmp';
    case 'http':
      return transport.encrypted ? 'rtmpte' : 'rtmpt';
    case 'tls':
      return 'rtmps';
    case 'https':
      return 'rtmpts';
  }
}

/**
 * `client.protocol` as FMS reports it: "rtmp", "rtmps", "rtmpt", "rtmpe" or "rtmpte". FMS has no
 * "rtmpts": its "rtmps" was RTMPT over HTTPS before native TLS, and both report "rtmps".
 */
export function fmsProtocol(transport: RtmpTransport): 'rtmp' | 'rtmps' | 'rtmpt' | 'rtmpe' | 'rtmpte' {
  const name = transportName(transport);
  return name === 'rtmpts' ? 'rtmps' : name;
}

/** `client.secure`: true over TLS (RTMPS, RTMPTS). RTMPE is obfuscation, not security: false. */
export function isSecure(transport: RtmpTransport): boolean {
  return transport.kind === 'tls' || transport.kind === 'https';
}

/** Grace a closing peer gets to read what is queued before its socket is destroyed. */
export const END_GRACE_MS = 2000;

/** A TCP or TLS socket as a transport. TCP_NODELAY is on: media latency matters (decision 9). */
export class SocketTransport implements RtmpTransport {
  readonly socket: Socket;
  readonly kind: 'tcp' | 'tls';
  readonly encrypted = false;
  #sink: TransportSink | null = null;

  constructor(socket: Socket, kind: 'tcp' | 'tls' = 'tcp') {
    this.socket = socket;
    this.kind = kind;
    socket.setNoDelay(true);
  }

  get remoteAddress(): string {
    return (this.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  bind(sink: TransportSink): void {
    const first = this.#sink === null;
    this.#sink = sink;
    if (!first) return;
    const socket = this.socket;
    socket.on('data', (data: Buffer) => this.#sink!.data(data));
    socket.on('drain', () => this.#sink!.drain());
    socket.on('error', (error) => this.#sink!.closed('socket error', error));
    socket.on('close', () => this.#sink!.closed('peer closed'));
    socket.on('end', () => this.#sink!.closed('peer closed'));
  }

  write(pieces: readonly Buffer[]): void {
    const socket = this.socket;
    if (pieces.length === 1) {
      socket.write(pieces[0]!);
      return;
    }
    // One writev for everything queued this turn. Measured against one Buffer.concat + write
    // (bench:media-path): the copy costs more than it saves once a turn holds many messages
    // (a burst, fanned out to every player), and is no better for one message per turn.
    socket.cork();
    for (const piece of pieces) socket.write(piece);
    socket.uncork();
  }

  end(): void {
    this.socket.end();
    // A peer that never reads would keep the socket half-open forever; destroy after a grace period.
    setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

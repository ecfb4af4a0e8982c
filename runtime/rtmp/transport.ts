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
  /**
   * The first `count` pieces (default: all), queued in one event-loop turn, written in order. The
   * pieces may be shared: never modify them. The array is the connection's and is reused after the
   * call (its slots beyond `count` are stale): keep the pieces, not it.
   */
  write(pieces: readonly Buffer[], count?: number): void;
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
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('end', this.#onClose);
  }

  readonly #onData = (data: Buffer): void => this.#sink!.data(data);
  readonly #onDrain = (): void => this.#sink!.drain();
  readonly #onError = (error: Error): void => this.#sink!.closed('socket error', error);
  readonly #onClose = (): void => this.#sink!.closed('peer closed');

  /**
   * Gives the socket up with none of this transport's listeners (process distribution hands it to
   * another process): what the peer sends next stays in the kernel for the new owner. Returns
   * whether this process has stopped reading it; false = the socket must not be kept open here.
   */
  release(): { socket: Socket; stoppedReading: boolean } {
    const socket = this.socket;
    socket.off('data', this.#onData);
    socket.off('drain', this.#onDrain);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    socket.off('end', this.#onClose);
    this.#sink = null;
    socket.pause();
    // Upstream limitation: net.Socket.pause() only stops *emitting*; its handle keeps reading from
    // the kernel into the stream's buffer (and Readable's read-ahead calls _read(), which restarts
    // the handle's reading), which would steal the client's next bytes from the process the socket
    // was handed to. Only the handle's own readStop() (which Node's pause() calls for `onread`
    // sockets alone) stops the reads, and a no-op _read keeps Readable from restarting them. Where a
    // Node version lacks readStop, the caller must not keep the socket open (it closes its copy).
    const handle = (socket as unknown as { _handle?: { readStop?: () => number; reading?: boolean } })._handle;
    if (typeof handle?.readStop !== 'function') return { socket, stoppedReading: false };
    socket._read = () => {};
    handle.reading = false;
    return { socket, stoppedReading: handle.readStop() === 0 };
  }

  write(pieces: readonly Buffer[], count = pieces.length): void {
    const socket = this.socket;
    if (count === 1) {
      socket.write(pieces[0]!);
      return;
    }
    // One writev for everything queued this turn. Measured against one Buffer.concat + write
    // (bench:media-path): the copy costs more than it saves once a turn holds many messages
    // (a burst, fanned out to every player), and is no better for one message per turn.
    socket.cork();
    for (let i = 0; i < count; i++) socket.write(pieces[i]!);
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

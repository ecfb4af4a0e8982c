import net from 'node:net';
import type { ConnectionGate } from '../common/connection-gate.ts';
import { ErrorCode, FmsRuntimeError } from '../errors.ts';
import { RtmpConnection, type RtmpConnectionOptions } from './connection.ts';
import { END_GRACE_MS, SocketTransport, TRANSPORT_NAMES, type RtmpTransport, type TransportName } from './transport.ts';

/**
 * The one door every inbound RTMP session comes through, whatever its transport: the TCP port
 * (here), the RTMPS port (rtmps-server.ts) and RTMPT sessions on the HTTP(S) ports
 * (rtmpt-gateway.ts) all hand their transport to accept(). Each becomes a server-role
 * RtmpConnection, so per-connection budgets (handshake time, message sizes, output buffer) and
 * anything counted here apply to every transport alike. The owner gets the connection once its
 * handshake is done. Tracks connections so close() ends them all. The gate, when given, stands in
 * front of every port served here (TCP and TLS): a socket over the connection budgets is closed
 * before its TLS or RTMP handshake, with nothing allocated for it.
 */
export class RtmpListener {
  readonly #options: Omit<RtmpConnectionOptions, 'role'>;
  readonly #onReady: (connection: RtmpConnection) => void;
  readonly #onClose: (connection: RtmpConnection, reason: string, error?: Error) => void;
  readonly #gate: ConnectionGate | undefined;
  readonly #servers: net.Server[] = [];
  readonly #connections = new Set<RtmpConnection>();
  /** Every accepted socket, also those still in their TLS handshake (not yet a connection). */
  readonly #sockets = new Set<net.Socket>();

  constructor(
    options: Omit<RtmpConnectionOptions, 'role'>,
    onReady: (connection: RtmpConnection) => void,
    onClose: (connection: RtmpConnection, reason: string, error?: Error) => void,
    gate?: ConnectionGate,
  ) {
    this.#options = options;
    this.#onReady = onReady;
    this.#onClose = onClose;
    this.#gate = gate;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Open connections by transport (RTMPE counts as such once its handshake is done). */
  connectionsByTransport(): Record<TransportName, number> {
    const counts = Object.fromEntries(TRANSPORT_NAMES.map((name) => [name, 0])) as Record<TransportName, number>;
    for (const connection of this.#connections) counts[connection.transportName]++;
    return counts;
  }

  /** A new inbound session over `transport`. */
  accept(transport: RtmpTransport): RtmpConnection {
    const connection = new RtmpConnection(transport, { ...this.#options, role: 'server' });
    this.#track(connection);
    connection.once('ready', () => this.#onReady(connection));
    return connection;
  }

  /**
   * A session another process took through its handshake (process distribution, runtime/cluster/):
   * it is ready at once; the owner gets it now, then it reads `replay`, what that process read after
   * the handshake (the connect command among it). The door's budgets were applied by that process.
   */
  resume(transport: RtmpTransport, counts: { bytesIn: number; bytesOut: number }, replay: Buffer): RtmpConnection {
    const connection = new RtmpConnection(transport, { ...this.#options, role: 'server', resumed: { bytesIn: counts.bytesIn - replay.length, bytesOut: counts.bytesOut } });
    this.#track(connection);
    this.#onReady(connection);
    if (!connection.closed && replay.length > 0) connection.receive(replay);
    return connection;
  }

  #track(connection: RtmpConnection): void {
    this.#connections.add(connection);
    connection.once('close', (reason, error) => {
      this.#connections.delete(connection);
      this.#onClose(connection, reason, error);
    });
  }

  /** Plain RTMP over TCP on host:port; resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    const server = net.createServer((socket) => this.accept(new SocketTransport(socket, 'tcp')));
    return this.serve(server, port, host, 'RTMP');
  }

  /** Binds a server whose connections end up in accept() (TCP here, TLS for RTMPS); closed with the listener. */
  serve(server: net.Server, port: number, host: string, what: string): Promise<number> {
    this.#servers.push(server);
    this.#gate?.guard(server);
    server.on('connection', (socket: net.Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(new FmsRuntimeError(ErrorCode.ListenFailed, `${what} listen on ${host}:${port} failed: ${error.message}`, { cause: error }));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    const closed = this.#servers.filter((s) => s.listening).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    // Each close flushes what is queued and ends its transport (destroyed after a short grace).
    for (const connection of [...this.#connections]) connection.close('server shutting down');
    // Sockets that never became a connection (a TLS handshake under way) are cut after the same grace.
    const lingering = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, END_GRACE_MS);
    await Promise.all(closed);
    clearTimeout(lingering);
  }
}

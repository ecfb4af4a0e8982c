import net from 'node:net';
import type { ConnectionGate } from '../common/connection-gate.ts';
import { ErrorCode, FmsRuntimeError } from '../errors.ts';
import { RtmpConnection, type RtmpConnectionOptions } from './connection.ts';

/**
 * Accepts TCP connections and wraps each in a server-role RtmpConnection; the owner gets the
 * connection once its handshake is done. Tracks sockets so close() ends them all. A gate, when
 * given, refuses sockets over the connection budgets before anything is allocated for them.
 */
export class RtmpListener {
  readonly #server: net.Server;
  readonly #connections = new Set<RtmpConnection>();

  constructor(
    options: Omit<RtmpConnectionOptions, 'role'>,
    onReady: (connection: RtmpConnection) => void,
    onClose: (connection: RtmpConnection, reason: string, error?: Error) => void,
    gate?: ConnectionGate,
  ) {
    this.#server = net.createServer((socket) => {
      if (gate && !gate.admit(socket)) return;
      const connection = new RtmpConnection(socket, { ...options, role: 'server' });
      this.#connections.add(connection);
      connection.once('ready', () => onReady(connection));
      connection.once('close', (reason, error) => {
        this.#connections.delete(connection);
        onClose(connection, reason, error);
      });
    });
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(new FmsRuntimeError(ErrorCode.ListenFailed, `RTMP listen on ${host}:${port} failed: ${error.message}`, { cause: error }));
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve((this.#server.address() as net.AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) connection.close('server shutting down');
    for (const connection of this.#connections) connection.socket.destroy();
    await closed;
  }
}

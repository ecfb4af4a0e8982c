import type { Server, Socket } from 'node:net';
import { ErrorCode } from '../errors.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';

export interface ConnectionGateLimits {
  /** Open accepted connections on this port. */
  maxConnections: number;
  /** Open accepted connections from one IP address on this port. */
  maxConnectionsPerIp: number;
}

/**
 * Counts the accepted sockets of one listening port, in total and per remote address, and refuses
 * one over either budget by destroying it at once — before any handshake byte is read or any state
 * is allocated for it. Each refusal is one rate-limited log line under the budget's config key.
 */
export class ConnectionGate {
  readonly #prefix: string;
  readonly #limits: ConnectionGateLimits;
  readonly #budgetLog: RateLimitedLog;
  readonly #perIp = new Map<string, number>();
  #open = 0;

  /** `prefix`: the config section of the port ('rtmp', 'http'), which names the budgets in the log. */
  constructor(prefix: string, limits: ConnectionGateLimits, budgetLog: RateLimitedLog) {
    this.#prefix = prefix;
    this.#limits = limits;
    this.#budgetLog = budgetLog;
  }

  get open(): number {
    return this.#open;
  }

  /**
   * Puts the gate in front of a server: the 'connection' event of a refused socket never reaches the
   * server's own listeners (its TLS handshake, HTTP parser or RTMP connection), so nothing is
   * allocated and nothing but the one rate-limited line is logged for it.
   */
  guard(server: Server): void {
    const gate = this;
    const emit = server.emit;
    const guarded = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'connection' && !gate.admit(args[0] as Socket)) return false;
      return (emit as (event: string | symbol, ...args: unknown[]) => boolean).call(this, event, ...args);
    };
    server.emit = guarded as Server['emit'];
  }

  /** True when the socket may stay; otherwise it is already destroyed. */
  admit(socket: Socket): boolean {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const fromIp = this.#perIp.get(ip) ?? 0;
    const over =
      this.#open >= this.#limits.maxConnections ? 'maxConnections' : fromIp >= this.#limits.maxConnectionsPerIp ? 'maxConnectionsPerIp' : null;
    if (over) {
      socket.destroy();
      const key = `${this.#prefix}.${over}`;
      this.#budgetLog.exceeded(key, { code: ErrorCode.ConnectionLimit, ip, open: this.#open, fromIp, limit: this.#limits[over] }, `${this.#prefix} connection refused: ${key} reached`);
      return false;
    }
    this.#open++;
    this.#perIp.set(ip, fromIp + 1);
    socket.once('close', () => {
      this.#open--;
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left === 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    });
    return true;
  }
}

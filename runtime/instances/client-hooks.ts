import type { InstanceHooks } from '../../host-api/protocol.ts';
import type { Logger } from '../log/logger.ts';
import type { ClientSession } from '../sessions/client-session.ts';
import { ACCEPT, rejectedByScript } from '../sessions/connect-request.ts';
import type { CarriedAccess } from './carried-access.ts';

/** What the client hooks act on: their instance's clients, counters and life cycle. */
export interface ClientHooksHost {
  readonly name: string;
  readonly log: Logger;
  readonly stats: { totalConnects: number; totalDisconnects: number };
  session(clientId: string): ClientSession | undefined;
  sessions(): Iterable<ClientSession>;
  readonly carried: CarriedAccess;
  /** application.shutdown(): an unload with Application.Shutdown, after the current handler. */
  shutdown(): void;
}

/**
 * The instance's half of the bridge for its clients (application and Client members): each
 * operation acts only on this instance's own clients. The same for every script generation.
 */
export function clientHooks(host: ClientHooksHost) {
  const { log } = host;
  return {
    trace: (text) => log.info({ trace: true }, text),
    acceptConnection: (clientId) => {
      const session = host.session(clientId);
      if (session && host.carried.has(clientId)) {
        host.carried.accepted(session);
        session.log.info({ app: host.name }, 'client carried over to the reloaded script');
        return;
      }
      session?.decide(ACCEPT);
    },
    rejectConnection: (clientId, info) => {
      const session = host.session(clientId);
      const outcome = rejectedByScript(info);
      if (session && host.carried.forget(clientId)) {
        // Already connected, so no _error for the connect: the status FMS sends, then the close.
        session.log.info({ app: host.name }, 'client rejected by the reloaded script');
        if (!outcome.accept) session.disconnect('rejected by the reloaded script', outcome.info);
        return;
      }
      session?.decide(outcome);
    },
    disconnect: (clientId) => {
      const session = host.session(clientId);
      if (!session || session.state === 'closed') return false;
      session.disconnect('application.disconnect');
      return true;
    },
    clientCall: (clientId, method, args, onResult) => host.session(clientId)?.call(method, args, onResult) ?? false,
    broadcastMsg: (method, args) => {
      for (const session of host.sessions()) if (session.accepted) session.call(method, args);
    },
    setClientAccess: (clientId, field, value) => {
      const session = host.session(clientId);
      if (session) session.info[field] = value;
      host.carried.wrote(clientId, field);
    },
    clientStats: (clientId) => {
      const session = host.session(clientId);
      if (!session) return {} as Record<string, number>;
      const c = session.connection;
      return {
        bytes_in: c.bytesIn, bytes_out: c.bytesOut, msg_in: c.messagesIn, msg_out: c.messagesOut, msg_dropped: session.messagesDropped,
        // Same unit as application.getStats (total kilobytes): FMS 3's Client reference says "current
        // bandwidth" without a unit, and one definition for both objects is what a script can rely on.
        ping_rtt: c.lastPingRttMs, bw_in: Math.floor(c.bytesIn / 1024), bw_out: Math.floor(c.bytesOut / 1024),
      };
    },
    clientPing: (clientId) => host.session(clientId)?.connection.ping() ?? false,
    setBandwidthLimit: (clientId, serverToClient, clientToServer) => host.session(clientId)?.setBandwidthLimit(serverToClient, clientToServer),
    getBandwidthLimit: (clientId, direction) => host.session(clientId)?.getBandwidthLimit(direction) ?? 0,
    applicationStats: () => {
      let bytesIn = 0;
      let bytesOut = 0;
      let msgIn = 0;
      let msgOut = 0;
      let msgDropped = 0;
      for (const s of host.sessions()) {
        bytesIn += s.connection.bytesIn;
        bytesOut += s.connection.bytesOut;
        msgIn += s.connection.messagesIn;
        msgOut += s.connection.messagesOut;
        msgDropped += s.messagesDropped;
      }
      return {
        // Adobe's reference: bw_in/bw_out are the total kilobytes received/sent (not a rate).
        bw_in: Math.floor(bytesIn / 1024), bw_out: Math.floor(bytesOut / 1024),
        bytes_in: bytesIn, bytes_out: bytesOut, msg_in: msgIn, msg_out: msgOut, msg_dropped: msgDropped,
        server_bytes_in: bytesIn, server_bytes_out: bytesOut,
        total_connects: host.stats.totalConnects, total_disconnects: host.stats.totalDisconnects,
      };
    },
    shutdown: () => host.shutdown(),
  } satisfies Partial<InstanceHooks>;
}

export type ClientHooks = ReturnType<typeof clientHooks>;

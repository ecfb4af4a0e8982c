/**
 * The soak's trickle of hostile inputs: the attacks of issue 12, one every few seconds in turn,
 * against server A while the healthy workload runs. Each returns null when the server answered as
 * expected, or what it did instead (printed; the healthy workload's errors are what fails the soak).
 *
 * To add one: append an entry. An attack the server cannot take yet stays listed with `pending`
 * (why, and which change brings it): it is printed, not run. Remove `pending` when that change lands.
 */
import net from 'node:net';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { RawRtmpPeer } from '../helpers/raw-rtmp.ts';
import { HANDLER_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS, type SoakServer } from './soak-servers.ts';
import { sleep, within } from './tally.ts';

export interface HostileInput {
  name: string;
  /** Not run yet: the reason (the issue part that makes the server take it). */
  pending?: string;
  run(server: SoakServer): Promise<string | null>;
}

/** Calls `method` on a hostile instance: the script runs away and its instance must be ended. */
async function runaway(server: SoakServer, method: string, withinMs: number): Promise<string | null> {
  const nc = new NetConnection({ connectTimeoutMs: 10_000 });
  const statuses: string[] = [];
  nc.on('status', (info: InfoObject) => statuses.push(info.code));
  const closed = new Promise<void>((resolve) => nc.once('close', () => resolve()));
  try {
    // A fresh instance name each time: a runaway's instance is ended, others are not involved.
    await nc.connect(server.url(`hostile/${method}-${Date.now()}`));
    void nc.call(method).catch(() => undefined);
    await within(closed, withinMs, `${method}: instance not ended`);
    return statuses.includes('NetConnection.Connect.AppShutdown') ? null : `${method}: closed without AppShutdown (${statuses.join(',')})`;
  } catch (error) {
    return (error as Error).message;
  } finally {
    nc.close();
  }
}

/** `count` TCP connections that never handshake: each must be closed by the handshake timeout. */
async function idleConnections(server: SoakServer, count: number): Promise<string | null> {
  const sockets = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: server.process.rtmpPort }, () => resolve(socket));
      socket.on('error', reject);
    })),
  );
  const closed = sockets.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
  try {
    await within(Promise.all(closed), HANDSHAKE_TIMEOUT_MS + 3000, 'idle connections not closed by the handshake timeout');
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/** A message whose header declares `bytes`, of which only the first ~64 KB arrive; then silence. */
async function partialHugeMessage(server: SoakServer, bytes: number): Promise<string | null> {
  const peer = await RawRtmpPeer.open(server.process.rtmpPort);
  try {
    const header = Buffer.alloc(12);
    header[0] = 0x03; // fmt 0, chunk stream 3
    header.writeUIntBE(bytes, 4, 3);
    header[7] = 20; // AMF0 command
    const chunk = Buffer.alloc(128, 0x41);
    const parts = [header, chunk];
    for (let i = 0; i < 500; i++) parts.push(Buffer.from([0xc3]), chunk);
    peer.write(Buffer.concat(parts));
    await sleep(3000);
    return null;
  } finally {
    peer.destroy();
  }
}

/** Bytes that are no RTMP chunk stream after a good handshake: the server closes that connection. */
async function garbage(server: SoakServer): Promise<string | null> {
  const peer = await RawRtmpPeer.open(server.process.rtmpPort);
  try {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    bytes[0] = 0x02; // chunk stream 2 with a type-0 header, then nonsense lengths and types
    peer.write(bytes);
    return (await peer.closedWithin(5000)) ? null : 'garbage: connection left open';
  } finally {
    peer.destroy();
  }
}

export const HOSTILE_INPUTS: HostileInput[] = [
  { name: 'pure-JS loop in a handler', run: (s) => runaway(s, 'spin', HANDLER_TIMEOUT_MS + 5000) },
  { name: 'loop of host calls in a handler (finding 7)', run: (s) => runaway(s, 'spinHost', HANDLER_TIMEOUT_MS + 5000) },
  { name: 'OOM-in-GC dictionary bomb (finding 6)', run: (s) => runaway(s, 'bomb', 30_000) },
  { name: '20 idle TCP connections', run: (s) => idleConnections(s, 20) },
  { name: 'partial 8 MB message, then silence', run: (s) => partialHugeMessage(s, 8 * 1024 * 1024 - 1) },
  { name: 'garbage after the handshake', run: garbage },
  { name: '60,000-character stream name traced by the script (finding 1)', pending: 'part A: linear, length-bounded logging', run: async () => null },
  { name: '8 MB application names of unknown apps (finding 3)', pending: 'part A: argument budgets, live-log bytes', run: async () => null },
  { name: 'SSE live-log subscribers that stop reading (finding 5)', pending: 'part A: HTTP back-pressure', run: async () => null },
  { name: '1,500 attacker-chosen instance names', pending: 'part A: instance caps', run: async () => null },
  { name: 'connections beyond a per-IP budget', pending: 'part A: connection budgets', run: async () => null },
  { name: '7.9 M-character shared-object values (finding 2)', pending: 'part B: shared-object size budgets', run: async () => null },
  { name: 'script adding 1 MB SO slots every 10 ms (finding 4)', pending: 'part B: host memory counted against the script', run: async () => null },
  { name: '5,000 outbound NetConnections from a script', pending: 'part B: outbound NetConnection cap', run: async () => null },
];

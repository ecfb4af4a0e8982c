/**
 * The soak's trickle of hostile inputs: the attacks of issue 12, one every few seconds in turn,
 * against server A while the healthy workload runs. Each returns null when the server answered as
 * expected, or what it did instead (printed; the healthy workload's errors are what fails the soak).
 *
 * To add one: append an entry. Attacks that leave instances behind unload them (admin API), so the
 * soak's slopes measure leaks, not an attacker's idle instances.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';
import { RawRtmpPeer, rawConnect } from '../helpers/raw-rtmp.ts';
import { HANDLER_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS, MAX_INSTANCES_PER_APP, MAX_OUTBOUND_CONNECTIONS, type SoakServer } from './soak-servers.ts';
import { messageOf, sleep, within } from './tally.ts';

/**
 * Attacks that must not touch the healthy workload's per-IP connection budget come from another
 * loopback address (Linux routes all of 127.0.0.0/8 to lo).
 */
const ATTACKER_IP = '127.0.0.2';

/** Server A's resident set (MB), from /proc. */
function rssMb(server: SoakServer): number {
  const status = readFileSync(`/proc/${server.process.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** A connected client of `app`, or the error message. */
async function connected(server: SoakServer, app: string): Promise<NetConnection> {
  const nc = new NetConnection({ connectTimeoutMs: 10_000 });
  await nc.connect(server.url(app));
  return nc;
}

export interface HostileInput {
  name: string;
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

/**
 * Finding 1: a 60,000-character stream name published to an app whose onPublish traces it (refused
 * at rtmp.maxNameChars: NetStream.Publish.BadName), and 100 KB trace() lines (cut at
 * log.maxMessageChars). Each answered within a second: no quadratic log scrubbing.
 */
async function longNames(server: SoakServer): Promise<string | null> {
  const nc = await connected(server, 'hostile/names');
  try {
    const stream = await nc.createStream();
    let startedAt = performance.now();
    const published = await within(stream.publish('a'.repeat(60_000)).then(() => 'accepted', (error: Error) => error.message), 5000, 'long stream name: no answer');
    if (published !== 'NetStream.Publish.BadName') return `60,000-character stream name: ${published}`;
    const publishMs = performance.now() - startedAt;
    startedAt = performance.now();
    if ((await within(nc.call('traceLong', 100_000, 20), 5000, 'traceLong: no answer')) !== true) return 'traceLong: wrong answer';
    const traceMs = performance.now() - startedAt;
    return publishMs < 1000 && traceMs < 1000 ? null : `slow: publish refused after ${publishMs.toFixed(0)} ms, 20 × 100 KB traces took ${traceMs.toFixed(0)} ms`;
  } finally {
    nc.close();
  }
}

/** Finding 3: connects naming an unknown 1 MB application: refused before anything is kept. */
async function hugeAppNames(server: SoakServer): Promise<string | null> {
  const before = rssMb(server);
  for (let i = 0; i < 10; i++) {
    const app = `${i}${'x'.repeat(1024 * 1024)}`;
    const answer = await within(rawConnect(server.process.rtmpPort, { app, tcUrl: `rtmp://127.0.0.1/${app}` }, [], ATTACKER_IP), 10_000, 'huge app name: no answer');
    if (answer !== 'closed' && answer.name === '_result') return 'a 1 MB application name was accepted';
  }
  const grownMb = rssMb(server) - before;
  return grownMb < 64 ? null : `RSS grew ${grownMb.toFixed(0)} MB over 10 connects with 1 MB app names`;
}

/**
 * Finding 5: live-log SSE subscribers that never read, while a script logs 8 MB: each subscriber's
 * backlog is bounded (http.liveLogMaxBufferedBytes), so the server's memory is too.
 */
async function stalledLogSubscribers(server: SoakServer): Promise<string | null> {
  const before = rssMb(server);
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: server.httpPort });
      socket.on('error', () => undefined);
      socket.write(`GET /api/log/stream HTTP/1.1\r\nhost: 127.0.0.1:${server.httpPort}\r\n\r\n`);
      socket.pause(); // never reads: the kernel buffers fill, then the server's
      sockets.push(socket);
    }
    const nc = await connected(server, 'hostile/loud');
    try {
      for (let i = 0; i < 100; i++) await within(nc.call('traceLong', 8000, 20), 5000, 'traceLong: no answer');
    } finally {
      nc.close();
    }
    const grownMb = rssMb(server) - before;
    // 16 MB of log lines: unbounded, 10 subscribers would hold 160 MB.
    return grownMb < 64 ? null : `RSS grew ${grownMb.toFixed(0)} MB with 10 stalled live-log subscribers`;
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/**
 * 1,500 attacker-chosen instance names, scaled: clients holding one instance each past
 * instances.maxPerApp: the ones over the cap get NetConnection.Connect.Rejected.
 */
async function instanceNames(server: SoakServer): Promise<string | null> {
  const count = MAX_INSTANCES_PER_APP + 10;
  const stamp = Date.now();
  const outcomes = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const nc = new NetConnection({ connectTimeoutMs: 15_000 });
      try {
        await nc.connect(server.url(`hostile/many-${stamp}-${i}`));
        return { nc, code: 'NetConnection.Connect.Success' };
      } catch (error) {
        nc.close();
        return { nc: null, code: (error as { info?: InfoObject }).info?.code ?? messageOf(error) };
      }
    }),
  );
  for (const { nc } of outcomes) nc?.close();
  // The attacker's instances would idle for scripts.idleUnloadSec: unloaded now, so the soak's
  // slopes show leaks, not them.
  await Promise.all(
    outcomes.map((_, i) => fetch(server.adminUrl(`/api/instances/hostile/many-${stamp}-${i}/unload`), { method: 'POST' }).catch(() => undefined)),
  );
  const accepted = outcomes.filter((o) => o.code === 'NetConnection.Connect.Success').length;
  const rejected = outcomes.filter((o) => o.code === 'NetConnection.Connect.Rejected').length;
  if (accepted > MAX_INSTANCES_PER_APP || rejected === 0 || accepted + rejected !== count) {
    return `${count} instances asked: ${accepted} accepted, ${rejected} rejected, others: ${outcomes.filter((o) => !o.code.endsWith('Success') && !o.code.endsWith('Rejected')).map((o) => o.code).join(',')}`;
  }
  return null;
}

/** Connections from one address past rtmp.maxConnectionsPerIp (200): the extra ones are closed at once. */
async function perIpBudget(server: SoakServer): Promise<string | null> {
  const count = 230;
  const sockets: net.Socket[] = [];
  const closedFast: Promise<boolean>[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: server.process.rtmpPort, localAddress: ATTACKER_IP });
      socket.on('error', () => undefined);
      sockets.push(socket);
      closedFast.push(new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 1500);
        socket.once('close', () => (clearTimeout(timer), resolve(true)));
      }));
    }
    const closed = (await Promise.all(closedFast)).filter(Boolean).length;
    return closed >= count - 200 && closed <= count - 200 + 5 ? null : `${closed} of ${count} connections from one address closed within 1.5 s (budget 200)`;
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/** Finding 2: 7.9 M-character values written to a persistent SO: refused, the server keeps its data. */
async function hugeSoValues(server: SoakServer): Promise<string | null> {
  const nc = await connected(server, 'sink');
  try {
    const so = SharedObject.getRemote(nc, `huge-${Date.now()}`, true);
    await within(so.connect(), 5000, 'SO connect');
    // One at a time: 24 MB queued at once would trip our own client's output budget ('peer too slow').
    for (let i = 0; i < 3; i++) {
      const refused = new Promise<boolean>((resolve) => {
        const onStatus = (info: InfoObject) => {
          if (info.code !== 'SharedObject.NoWriteAccess') return;
          so.off('status', onStatus);
          resolve(true);
        };
        so.on('status', onStatus);
      });
      so.setProperty(`v${i}`, '\u0001'.repeat(7_900_000));
      await within(refused, 10_000, `7.9 M-character SO value ${i}: not refused (SharedObject.NoWriteAccess)`);
    }
    return null;
  } catch (error) {
    return messageOf(error);
  } finally {
    nc.close();
  }
}

/** Finding 4: a script that adds two 1 MB SO slots every 10 ms is shut down at scripts.hostMemoryMb. */
async function soSlotHog(server: SoakServer): Promise<string | null> {
  return runaway(server, 'hog', 15_000);
}

/** 5,000 outbound NetConnections from one handler: scripts.maxOutboundConnections are started, no more. */
async function outboundFlood(server: SoakServer): Promise<string | null> {
  const nc = await connected(server, 'hostile/dial');
  try {
    const started = await within(nc.call('dial', server.url('sink'), 5000), 10_000, 'dial: no answer');
    return started === MAX_OUTBOUND_CONNECTIONS ? null : `5,000 outbound connects: ${String(started)} started (cap ${MAX_OUTBOUND_CONNECTIONS})`;
  } finally {
    nc.close();
  }
}

export const HOSTILE_INPUTS: HostileInput[] = [
  { name: 'pure-JS loop in a handler', run: (s) => runaway(s, 'spin', HANDLER_TIMEOUT_MS + 5000) },
  { name: 'loop of host calls in a handler (finding 7)', run: (s) => runaway(s, 'spinHost', HANDLER_TIMEOUT_MS + 5000) },
  { name: 'loop of so.flush() (waiting host calls) in a handler', run: (s) => runaway(s, 'spinFlush', HANDLER_TIMEOUT_MS + 5000) },
  { name: 'OOM-in-GC dictionary bomb (finding 6)', run: (s) => runaway(s, 'bomb', 30_000) },
  { name: '20 idle TCP connections', run: (s) => idleConnections(s, 20) },
  { name: 'partial 8 MB message, then silence', run: (s) => partialHugeMessage(s, 8 * 1024 * 1024 - 1) },
  { name: 'garbage after the handshake', run: garbage },
  { name: '60,000-character stream name and 100 KB trace lines (finding 1)', run: longNames },
  { name: '1 MB application names of unknown apps (finding 3)', run: hugeAppNames },
  { name: 'SSE live-log subscribers that stop reading (finding 5)', run: stalledLogSubscribers },
  { name: `${MAX_INSTANCES_PER_APP + 10} attacker-chosen instance names (scaled from 1,500)`, run: instanceNames },
  { name: 'connections beyond the per-IP budget', run: perIpBudget },
  { name: '7.9 M-character shared-object values (finding 2)', run: hugeSoValues },
  { name: 'script adding 1 MB SO slots every 10 ms (finding 4)', run: soSlotHog },
  { name: '5,000 outbound NetConnections from a script', run: outboundFlood },
];

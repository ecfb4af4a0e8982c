import { CallError, ConnectError, NetConnection, type InfoObject } from '../client/net-connection.ts';
import type { NetStream } from '../client/net-stream.ts';
import type { Logger } from '../log/logger.ts';
import { stripCredentials } from '../log/logger.ts';
import { Relay, type RelayStats } from '../media/relay.ts';
import type { StreamRegistry } from '../media/stream-registry.ts';
import type { PacketSink } from '../media/subscriber-queue.ts';
import { MessageType } from '../rtmp/message.ts';
import type { ClientCallResult } from './script-contract.ts';
import { status } from './status-codes.ts';

/** What outbound connections report back to the script (server-side NetConnection/NetStream events). */
export interface OutboundEvents {
  ncStatus(ncId: number, info: InfoObject): void;
  /** The remote server called a method on our NetConnection (client.call on its side). */
  ncIncomingCall(ncId: number, method: string, args: unknown[]): Promise<{ ok: true; value: unknown } | { ok: false; description: string }>;
  nsStatus(nsId: number, info: InfoObject): void;
}

export interface OutboundOptions {
  /** This server's own RTMP port: the default for loopback URIs without a port. */
  ownRtmpPort: () => number;
  relayMaxBufferedBytes: number;
  agent: string;
}

interface OutboundNc {
  id: number;
  uri: string;
  client: NetConnection | null;
  connected: boolean;
  /** Publishes waiting for Connect.Success (scripts publish right after connect, as Adobe's sample does). */
  waiting: (() => void)[];
}

interface OutboundNs {
  id: number;
  ncId: number;
  relay: Relay;
  remote: NetStream | null;
  publishName: string | null;
}

const AT_SET_DATA_FRAME = Buffer.from([0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame')]);

/**
 * Server-side NetConnections and NetStreams of one instance. A NetStream is a native relay
 * (runtime/media/relay.ts): packets flow from the attached local stream to the remote server
 * without entering the isolate. Each object is keyed by an id the script side holds.
 */
export class OutboundConnections {
  readonly #ncs = new Map<number, OutboundNc>();
  readonly #nss = new Map<number, OutboundNs>();
  /** onConnected() callbacks by script NetConnection id (they outlive one connect()). */
  readonly #connectWatchers = new Map<number, Set<(client: NetConnection) => void>>();
  readonly #streams: StreamRegistry;
  readonly #events: OutboundEvents;
  readonly #options: OutboundOptions;
  readonly #log: Logger;
  #closed = false;

  constructor(streams: StreamRegistry, events: OutboundEvents, options: OutboundOptions, log: Logger) {
    this.#streams = streams;
    this.#events = events;
    this.#options = options;
    this.#log = log;
  }

  /** Resolves the port of a URI: explicit port; else our own port for loopback hosts; else 1935. */
  resolveUri(uri: string): { url: string; port: number } | null {
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      return null; // not a URI at all: connect() reports Call.BadVersion/Failed
    }
    if (parsed.protocol !== 'rtmp:') return null;
    const loopback = ['localhost', '127.0.0.1', '[::1]', '::1'].includes(parsed.hostname) || parsed.hostname.startsWith('127.');
    const port = parsed.port ? Number(parsed.port) : loopback ? this.#options.ownRtmpPort() : 1935;
    parsed.port = String(port);
    return { url: parsed.toString(), port };
  }

  connect(ncId: number, uri: string, args: unknown[]): boolean {
    if (this.#closed) return false;
    this.close(ncId, false);
    const resolved = this.resolveUri(uri);
    const nc: OutboundNc = { id: ncId, uri, client: null, connected: false, waiting: [] };
    this.#ncs.set(ncId, nc);
    if (!resolved) {
      queueMicrotask(() => this.#events.ncStatus(ncId, status.callBadVersion(`Unsupported URI: ${stripCredentials(uri)}`)));
      return false;
    }
    const client = new NetConnection({ flashVer: this.#options.agent });
    nc.client = client;
    client.client = new Proxy({}, {
      get: (_t, method) => typeof method === 'string'
        ? async (...callArgs: unknown[]) => {
            const outcome = await this.#events.ncIncomingCall(ncId, method, callArgs);
            if (!outcome.ok) throw new Error(outcome.description);
            return outcome.value;
          }
        : undefined,
    }) as NetConnection['client'];
    this.#log.info({ nc: ncId, uri: stripCredentials(resolved.url) }, 'server-side NetConnection connecting');
    client.connect(resolved.url, ...args).then(
      (info) => {
        if (this.#ncs.get(ncId) !== nc) return client.close();
        nc.connected = true;
        this.#events.ncStatus(ncId, info);
        for (const run of nc.waiting.splice(0)) run();
        for (const watch of [...(this.#connectWatchers.get(ncId) ?? [])]) watch(client);
      },
      (error: unknown) => {
        if (this.#ncs.get(ncId) !== nc) return;
        const info = error instanceof ConnectError ? error.info : status.connectFailed(String(error));
        this.#log.warn({ nc: ncId, code: info.code, uri: stripCredentials(resolved.url) }, 'server-side NetConnection failed');
        this.#fail(nc, info);
      },
    );
    client.on('status', (info) => {
      if (!nc.connected || this.#ncs.get(ncId) !== nc) return;
      if (info.code === 'NetConnection.Connect.Closed') return; // reported once by 'close' below
      this.#events.ncStatus(ncId, info);
    });
    client.on('close', () => {
      if (!nc.connected || this.#ncs.get(ncId) !== nc) return;
      nc.connected = false;
      this.#fail(nc, status.connectClosed());
    });
    return true;
  }

  #fail(nc: OutboundNc, info: InfoObject): void {
    nc.waiting = [];
    for (const ns of this.#nss.values()) {
      if (ns.ncId !== nc.id) continue;
      ns.remote = null;
      ns.relay.setTarget(null);
      ns.relay.setState('failed', `${info.code}${info.description ? `: ${info.description}` : ''}`);
    }
    this.#events.ncStatus(nc.id, info);
  }

  /**
   * Calls `run` with the client connection every time the script's NetConnection `ncId` reaches
   * Connect.Success (at once if it is connected now), across the script's later connect() calls,
   * until the returned function is called. The script may not have called connect() yet.
   */
  onConnected(ncId: number, run: (client: NetConnection) => void): () => void {
    let watchers = this.#connectWatchers.get(ncId);
    if (!watchers) {
      watchers = new Set();
      this.#connectWatchers.set(ncId, watchers);
    }
    watchers.add(run);
    const nc = this.#ncs.get(ncId);
    if (nc?.connected && nc.client) run(nc.client);
    return () => {
      watchers.delete(run);
      if (watchers.size === 0 && this.#connectWatchers.get(ncId) === watchers) this.#connectWatchers.delete(ncId);
    };
  }

  /** The client connection behind a script NetConnection (Stream.play pulls through it). */
  netConnection(ncId: number): NetConnection | null {
    const nc = this.#ncs.get(ncId);
    return nc?.connected ? nc.client : null;
  }

  call(ncId: number, method: string, args: unknown[], onResult?: (result: ClientCallResult) => void): boolean {
    const nc = this.#ncs.get(ncId);
    if (!nc?.client || !nc.connected) return false;
    const pending = nc.client.call(method, ...args);
    pending.then(
      (value) => onResult?.({ ok: true, value }),
      (error: unknown) => onResult?.({ ok: false, info: error instanceof CallError ? error.info : status.callFailed(String(error)) }),
    );
    return true;
  }

  /** nc.close(): tears down its streams; the script hears Connect.Closed. */
  close(ncId: number, notify = true): void {
    const nc = this.#ncs.get(ncId);
    if (!nc) return;
    this.#ncs.delete(ncId);
    // A NetStream lives on one connection: closed with it, its relay lets go of the local stream.
    for (const ns of this.#nss.values()) {
      if (ns.ncId !== ncId) continue;
      this.#stopRelay(ns, 'connection closed');
      ns.relay.close('connection closed');
    }
    const wasConnected = nc.connected;
    nc.connected = false;
    nc.client?.close();
    if (notify && wasConnected) queueMicrotask(() => this.#events.ncStatus(ncId, status.connectClosed()));
  }

  createStream(nsId: number, ncId: number): void {
    const nc = this.#ncs.get(ncId);
    const relay = new Relay(`relay-${nsId}`, stripCredentials(nc?.uri ?? ''), this.#options.relayMaxBufferedBytes);
    relay.on('state', (stats) => this.#log.info({ relay: stats.id, state: stats.state, destination: stats.destination, stream: stats.streamName, lastError: stats.lastError }, 'relay state'));
    this.#nss.set(nsId, { id: nsId, ncId, relay, remote: null, publishName: null });
  }

  /** ns.attach(stream) / attach(false): the local stream whose packets the relay carries. */
  attach(nsId: number, streamName: string | null): boolean {
    const ns = this.#nss.get(nsId);
    if (!ns) return false;
    ns.relay.attach(streamName === null ? null : this.#streams.getOrCreate(streamName));
    return true;
  }

  publish(nsId: number, name: string | false, type: string): boolean {
    const ns = this.#nss.get(nsId);
    if (!ns) return false;
    if (name === false) {
      this.#stopRelay(ns, 'closed');
      return true;
    }
    const nc = this.#ncs.get(ns.ncId);
    if (!nc) return false;
    ns.publishName = name;
    ns.relay.setState('connecting');
    const start = () => void this.#startPublish(ns, nc, name, type);
    if (nc.connected) start();
    else nc.waiting.push(start);
    return true;
  }

  async #startPublish(ns: OutboundNs, nc: OutboundNc, name: string, type: string): Promise<void> {
    try {
      const remote = await nc.client!.createStream();
      remote.on('status', (info) => {
        if (this.#nss.get(ns.id) === ns) this.#events.nsStatus(ns.id, info);
      });
      await remote.publish(name, type === 'record' || type === 'append' ? type : 'live');
      if (this.#nss.get(ns.id) !== ns || ns.publishName !== name) return remote.close();
      ns.remote = remote;
      ns.relay.setTarget(this.#sinkFor(nc.client!, remote), name);
      ns.relay.setState('publishing');
    } catch (error) {
      const info = (error as { info?: InfoObject }).info;
      ns.relay.setState('failed', info?.code ?? String(error));
      if (info && this.#nss.get(ns.id) === ns && !info.code.startsWith('NetStream.')) this.#events.nsStatus(ns.id, info);
    }
  }

  #sinkFor(client: NetConnection, remote: NetStream): PacketSink {
    const connection = client.connection!;
    return {
      get bufferedBytes() {
        return connection.bufferedBytes;
      },
      write: (packet) => {
        // onMetaData goes out as @setDataFrame so the remote keeps it for its own late joiners.
        const payload = packet.type === MessageType.DataAmf0 && packet.payload.subarray(3, 13).toString('latin1') === 'onMetaData'
          ? Buffer.concat([AT_SET_DATA_FRAME, packet.payload])
          : packet.payload;
        connection.sendMessage({ type: packet.type, streamId: remote.id, timestamp: packet.timestamp, payload });
      },
    };
  }

  send(nsId: number, values: unknown[]): boolean {
    const ns = this.#nss.get(nsId);
    if (!ns?.remote) return false;
    ns.remote.send(...values);
    return true;
  }

  /** ns.time: seconds of media the relay has delivered to the remote stream; 0 when not publishing. */
  timeSec(nsId: number): number {
    return (this.#nss.get(nsId)?.relay.timeMs ?? 0) / 1000;
  }

  #stopRelay(ns: OutboundNs, reason: string): void {
    ns.relay.setTarget(null);
    ns.publishName = null;
    if (ns.remote) {
      const remote = ns.remote;
      ns.remote = null;
      remote.command('closeStream');
      remote.close();
      this.#events.nsStatus(ns.id, status.unpublishSuccess(ns.relay.stats().streamName, ''));
    }
    ns.relay.setState('closed', reason === 'closed' ? undefined : reason);
  }

  relays(): RelayStats[] {
    return [...this.#nss.values()].map((ns) => ns.relay.stats());
  }

  /** Instance unload: every relay and connection closed, no events to a script that is going away. */
  closeAll(): void {
    this.#closed = true;
    for (const ns of this.#nss.values()) ns.relay.close('instance closed');
    for (const nc of this.#ncs.values()) nc.client?.close();
    this.#nss.clear();
    this.#ncs.clear();
    this.#connectWatchers.clear();
  }
}

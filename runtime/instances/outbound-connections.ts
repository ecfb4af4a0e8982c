import type { SecureContext } from 'node:tls';
import { DEFAULT_PORTS, schemeOf, type RtmpScheme } from '../client/client-transport.ts';
import { CallError, ConnectError, NetConnection, type InfoObject } from '../client/net-connection.ts';
import type { NetStream } from '../client/net-stream.ts';
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { stripCredentials } from '../log/strip-credentials.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import { isMetadata } from '../media/media-packet.ts';
import { Relay, type RelayLink, type RelayStats } from '../media/relay.ts';
import type { LiveStream } from '../media/live-stream.ts';
import type { StreamRegistry } from '../media/stream-registry.ts';
import type { PacketSink } from '../media/subscriber-queue.ts';
import { Timeline } from '../media/timeline.ts';
import type { CallResultRecord } from '../../host-api/protocol.ts';
import { status } from '../common/status-codes.ts';

/** What outbound connections report back to the script (server-side NetConnection/NetStream events). */
export interface OutboundEvents {
  ncStatus(ncId: number, info: InfoObject): void;
  /** The remote server called a method on our NetConnection (client.call on its side). */
  ncIncomingCall(ncId: number, method: string, args: unknown[]): Promise<{ ok: true; value: unknown } | { ok: false; description: string }>;
  nsStatus(nsId: number, info: InfoObject): void;
}

/** What server-side NetConnections need from the server around them. */
export interface OutboundNetwork {
  /** This server's own port for a scheme (0: that door is closed): loopback URIs without a port go there. */
  ownPort(scheme: RtmpScheme): number;
  /** TLS trust for rtmps:// and rtmpts:// (config outbound.caFiles); undefined = Node's and the system's CAs. */
  secureContext(): SecureContext | undefined;
}

export interface OutboundOptions {
  network: OutboundNetwork;
  relayMaxBufferedBytes: number;
  agent: string;
  /** scripts.maxOutboundConnections: connecting or connected at once; beyond it connect() fails. */
  maxConnections: number;
}

interface OutboundNc {
  id: number;
  uri: string;
  client: NetConnection | null;
  connected: boolean;
  /** Settles when this connect attempt succeeds or fails; relays waiting to publish wait on it. */
  ready: Promise<NetConnection>;
  settle: { resolve: (client: NetConnection) => void; reject: (error: unknown) => void };
}

interface OutboundNs {
  id: number;
  ncId: number;
  /** ns.attach(): the local stream its relays carry. */
  source: LiveStream | null;
  /** The relay of the current (or last) publish; null before the first. */
  relay: Relay | null;
  /** The remote NetStream while a relay publishes (ns.send goes there). */
  remote: NetStream | null;
  /** One clock for all its publishes: a republish continues where the last one stopped (ns.time too). */
  timeline: Timeline;
}

/** An FMS info carried as an error (what a relay that lost its connection fails with). */
function infoError(info: InfoObject): Error & { info: InfoObject } {
  return Object.assign(new Error(info.code), { info });
}

const AT_SET_DATA_FRAME = Buffer.from([0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame')]);

/**
 * Server-side NetConnections and NetStreams of one instance, keyed by ids the script side holds.
 * Each publish of a NetStream starts a native relay (runtime/media/relay.ts) that runs its own
 * life — waits for the connection, opens the remote stream, forwards packets from the attached
 * local stream without them entering the isolate, fails when the connection goes — while this
 * class only starts and stops it and passes what the remote side says on to the script, which
 * decides about reconnecting as on FMS.
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
  readonly #refusals: RateLimitedLog;
  #closed = false;

  constructor(streams: StreamRegistry, events: OutboundEvents, options: OutboundOptions, log: Logger) {
    this.#streams = streams;
    this.#events = events;
    this.#options = options;
    this.#log = log;
    this.#refusals = new RateLimitedLog(log);
  }

  /** Connections connecting or connected now (what scripts.maxOutboundConnections bounds). */
  get openCount(): number {
    let open = 0;
    for (const nc of this.#ncs.values()) if (nc.client !== null) open++;
    return open;
  }

  /** Bytes waiting in the outbound connections' send queues: host memory the script causes. */
  get bufferedBytes(): number {
    let bytes = 0;
    for (const nc of this.#ncs.values()) bytes += nc.client?.connection?.bufferedBytes ?? 0;
    return bytes;
  }

  /**
   * Resolves the port of a URI (rtmp, rtmps, rtmpt, rtmpts, rtmpe, rtmpte): explicit port; else, for
   * loopback hosts, our own port for that scheme when that door is open; else the scheme's default.
   */
  resolveUri(uri: string): { url: string; port: number } | null {
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      return null; // not a URI at all: connect() reports Call.BadVersion/Failed
    }
    const scheme = schemeOf(parsed);
    if (!scheme) return null;
    const loopback = ['localhost', '127.0.0.1', '[::1]', '::1'].includes(parsed.hostname) || parsed.hostname.startsWith('127.');
    const own = loopback ? this.#options.network.ownPort(scheme) : 0;
    const port = parsed.port ? Number(parsed.port) : own > 0 ? own : DEFAULT_PORTS[scheme];
    parsed.port = String(port);
    return { url: parsed.toString(), port };
  }

  connect(ncId: number, uri: string, args: unknown[]): boolean {
    if (this.#closed) return false;
    this.close(ncId, false);
    const resolved = this.resolveUri(uri);
    const nc = this.#newNc(ncId, uri);
    this.#ncs.set(ncId, nc);
    if (!resolved) {
      const info = status.callBadVersion(`Unsupported URI: ${stripCredentials(uri)}`);
      nc.settle.reject(infoError(info));
      queueMicrotask(() => this.#events.ncStatus(ncId, info));
      return false;
    }
    // Over the budget: what FMS answers when a connection cannot be made — connect() false and
    // NetConnection.Connect.Failed in onStatus (a script that reconnects on Failed keeps trying).
    if (this.openCount >= this.#options.maxConnections) {
      const description = `Too many server-side connections (scripts.maxOutboundConnections = ${this.#options.maxConnections}).`;
      this.#refusals.exceeded('scripts.maxOutboundConnections', { code: ErrorCode.ScriptOutboundLimit, nc: ncId, open: this.openCount, uri: stripCredentials(resolved.url) }, 'server-side NetConnection refused: too many open');
      const info = status.connectFailed(description);
      nc.settle.reject(infoError(info)); // a relay waiting for it fails with the reason
      queueMicrotask(() => this.#events.ncStatus(ncId, info));
      return false;
    }
    const secureContext = this.#options.network.secureContext();
    const client = new NetConnection({ flashVer: this.#options.agent, ...(secureContext ? { secureContext } : {}) });
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
        nc.settle.resolve(client);
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

  #newNc(id: number, uri: string): OutboundNc {
    let settle: OutboundNc['settle'] = { resolve: () => undefined, reject: () => undefined };
    const ready = new Promise<NetConnection>((resolve, reject) => {
      settle = { resolve, reject };
    });
    ready.catch(() => undefined); // observed by the relays waiting on it, if any
    return { id, uri, client: null, connected: false, ready, settle };
  }

  /** The connection failed or closed: relays waiting for it fail with its info; the script hears it. */
  #fail(nc: OutboundNc, info: InfoObject): void {
    nc.settle.reject(infoError(info));
    nc.client?.close();
    nc.client = null; // no longer open: it does not count against scripts.maxOutboundConnections
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

  call(ncId: number, method: string, args: unknown[], onResult?: (result: CallResultRecord) => void): boolean {
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
    for (const ns of this.#nss.values()) if (ns.ncId === ncId) this.#stopRelay(ns, 'connection closed');
    const wasConnected = nc.connected;
    nc.connected = false;
    nc.settle.reject(infoError(status.connectClosed()));
    nc.client?.close();
    if (notify && wasConnected) queueMicrotask(() => this.#events.ncStatus(ncId, status.connectClosed()));
  }

  createStream(nsId: number, ncId: number): void {
    this.#nss.set(nsId, { id: nsId, ncId, source: null, relay: null, remote: null, timeline: new Timeline() });
  }

  /** ns.attach(stream) / attach(false): the local stream its relays carry (a running one switches). */
  attach(nsId: number, streamName: string | null): boolean {
    const ns = this.#nss.get(nsId);
    if (!ns) return false;
    ns.source = streamName === null ? null : this.#streams.getOrCreate(streamName);
    ns.relay?.attach(ns.source);
    return true;
  }

  /** ns.publish(name, type) starts a relay to the remote server; publish(false) stops it. */
  publish(nsId: number, name: string | false, type: string): boolean {
    const ns = this.#nss.get(nsId);
    if (!ns) return false;
    if (name === false) {
      this.#stopRelay(ns, 'closed');
      return true;
    }
    const nc = this.#ncs.get(ns.ncId);
    if (!nc) return false;
    this.#stopRelay(ns, 'republished', false); // a publish while publishing replaces the relay
    const relay = new Relay({
      id: `relay-${nsId}`,
      kind: 'republish',
      destination: stripCredentials(nc.uri),
      streamName: name,
      maxBufferedBytes: this.#options.relayMaxBufferedBytes,
      timeline: ns.timeline,
      log: this.#log,
    });
    ns.relay = relay;
    relay.attach(ns.source);
    relay.start((lost) => this.#openRemote(ns, nc, relay, name, type === 'record' || type === 'append' ? type : 'live', lost));
    return true;
  }

  /**
   * The far end of a republish: once the NetConnection is connected, a remote stream that accepted
   * the publish. What the remote stream says goes to the script's NetStream.onStatus; a failure
   * that is not a NetStream status of the remote (a createStream the server refused) too.
   */
  async #openRemote(ns: OutboundNs, nc: OutboundNc, relay: Relay, name: string, type: 'live' | 'record' | 'append', lost: (error: unknown) => void): Promise<RelayLink> {
    const client = await nc.ready;
    let remote: NetStream;
    try {
      remote = await client.createStream();
      remote.on('status', (info) => {
        if (this.#nss.get(ns.id) === ns) this.#events.nsStatus(ns.id, info);
      });
      await remote.publish(name, type);
    } catch (error) {
      const info = (error as { info?: InfoObject }).info;
      if (info && ns.relay === relay && !info.code.startsWith('NetStream.')) this.#events.nsStatus(ns.id, info);
      throw error;
    }
    const onClose = () => lost(infoError(status.connectClosed()));
    client.once('close', onClose);
    ns.remote = remote;
    return {
      sink: this.#sinkFor(client, remote),
      close: () => {
        client.off('close', onClose);
        if (ns.remote === remote) ns.remote = null;
        remote.command('closeStream');
        remote.close();
      },
    };
  }

  #sinkFor(client: NetConnection, remote: NetStream): PacketSink {
    const connection = client.connection!;
    return {
      get bufferedBytes() {
        return connection.bufferedBytes;
      },
      write: (packet, timestamp) => {
        // onMetaData goes out as @setDataFrame so the remote keeps it for its own late joiners.
        const payload = isMetadata(packet) ? Buffer.concat([AT_SET_DATA_FRAME, packet.payload]) : packet.payload;
        connection.sendMedia(packet.type, remote.id, timestamp, payload); // no message object per packet
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
    return (this.#nss.get(nsId)?.relay?.timeMs ?? 0) / 1000;
  }

  /** Stops the NetStream's relay; the script hears Unpublish.Success when it was publishing. */
  #stopRelay(ns: OutboundNs, reason: string, notify = true): void {
    const relay = ns.relay;
    if (!relay || relay.ended) return;
    const wasPublishing = relay.state === 'publishing';
    relay.close(reason);
    if (notify && wasPublishing) this.#events.nsStatus(ns.id, status.unpublishSuccess(relay.stats().streamName, ''));
  }

  /** The relay of each NetStream that has published (running or ended), for the admin API. */
  relays(): RelayStats[] {
    return [...this.#nss.values()].flatMap((ns) => (ns.relay ? [ns.relay.stats()] : []));
  }

  /** Instance unload: every relay and connection closed, no events to a script that is going away. */
  closeAll(): void {
    this.#closed = true;
    for (const ns of this.#nss.values()) ns.relay?.close('instance closed');
    for (const nc of this.#ncs.values()) {
      nc.settle.reject(infoError(status.connectClosed()));
      nc.client?.close();
    }
    this.#nss.clear();
    this.#ncs.clear();
    this.#connectWatchers.clear();
  }
}

import type http from 'node:http';
import { createRequire } from 'node:module';
import type { Gauge, Histogram, Registry } from 'prom-client';
import type { LiveLog } from '../log/live-log.ts';
import type { Logger } from '../log/logger.ts';
import { admitAdminRequest } from './admin-access.ts';
import type { AdminSource } from './admin-api.ts';

/*
 * Prometheus exposition at GET /metrics (same access rule as the admin API: loopback only, or a
 * bearer token — Prometheus sends one with `authorization: { credentials: ... }`).
 *
 * Gauges are read from the live objects at scrape time. Byte counters must not go down when a
 * connection closes, so closed connections' bytes are folded into a running total
 * (`connectionClosed`) and added to the bytes of the connections still open. Script errors are
 * counted from the log records the instances already write once per error
 * (code "Application.Script.Error"), via the live log, so nothing is lost when an instance unloads.
 *
 * Metrics (all prefixed fms_):
 *   rtmp_connections, clients{instance}, instances{state}, streams{instance},
 *   stream_subscribers{instance}, relays{state}, rtmp_received_bytes_total, rtmp_sent_bytes_total,
 *   http_flv_players, http_flv_sent_bytes_total, http_flv_dropped_packets_total,
 *   script_errors_total{instance}, script_dispatch_seconds{instance,event} (histogram),
 *   isolates, isolates_lost_total,
 *   plus prom-client's process/Node.js defaults (once per process).
 *
 * Dispatch latency is the time one event (connect, call, timer tick, …) spent in the isolate, as
 * the sandbox measures it around its dispatch; queueing in the instance's FIFO is not included.
 *
 * prom-client is loaded at the first scrape or the first script dispatch, whichever comes first:
 * loading it (and starting its process metrics) costs ~12 MiB of RSS that a server nobody scrapes
 * and no script has run in does not need. Counters that must not miss anything before then (bytes,
 * script errors) are plain numbers read at scrape time, so nothing is lost; the process defaults
 * (GC, event-loop lag) start counting when it loads.
 */

type PromClient = typeof import('prom-client');
let promClient: PromClient | null = null;
function loadPromClient(): PromClient {
  return (promClient ??= createRequire(import.meta.url)('prom-client') as PromClient);
}

export interface MetricsOptions {
  token: string | null;
  liveLog: LiveLog;
  log: Logger;
  /**
   * What GET /metrics answers instead of this process's metrics: process distribution's primary
   * gives every process's, aggregated (runtime/cluster/cluster-primary.ts).
   */
  exposition?: () => Promise<{ contentType: string; text: string }>;
}

/** Process-wide default metrics (CPU, memory, event-loop lag, GC): one registry per process. */
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (!processRegistry) {
    const prom = loadPromClient();
    processRegistry = new prom.Registry();
    prom.collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  readonly #source: AdminSource;
  readonly #options: MetricsOptions;
  /** This server's metrics; made with prom-client when it loads (#prom). */
  #registry: Registry | null = null;
  #dispatch: Histogram | null = null;
  readonly #closedBytes = { in: 0, out: 0 };
  /** Script errors per instance label, counted from the start (the counter reads these). */
  readonly #scriptErrors = new Map<string, number>();
  readonly #unsubscribe: () => void;

  constructor(source: AdminSource, options: MetricsOptions) {
    this.#source = source;
    this.#options = options;
    this.#unsubscribe = options.liveLog.subscribe({ minLevel: 50 }, (record) => {
      if (record['code'] !== 'Application.Script.Error') return;
      const instance = typeof record.app === 'string' ? record.app : '';
      this.#scriptErrors.set(instance, (this.#scriptErrors.get(instance) ?? 0) + 1);
    });
  }

  /** Loads prom-client and defines every metric, once. */
  #prom(): { registry: Registry; dispatch: Histogram } {
    if (this.#registry && this.#dispatch) return { registry: this.#registry, dispatch: this.#dispatch };
    const prom = loadPromClient();
    const registry = new prom.Registry();
    this.#registry = registry;
    this.#dispatch = new prom.Histogram({
      name: 'fms_script_dispatch_seconds',
      help: 'Time one script event dispatch (connect, call, timer, status, …) ran in the isolate, per application instance',
      labelNames: ['instance', 'event'],
      // Handlers usually take well under a millisecond; the top buckets catch ones near the handler timeout.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    const scriptErrors = this.#scriptErrors;
    new prom.Counter({
      name: 'fms_script_errors_total',
      help: 'Script errors (thrown, syntax, timeout, out of memory) per application instance',
      labelNames: ['instance'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [instance, count] of scriptErrors) this.inc({ instance }, count);
      },
    });
    this.#define(prom, registry);
    return { registry, dispatch: this.#dispatch };
  }

  /** An RTMP connection ended: its bytes move from the open connections into the running total. */
  connectionClosed(bytesIn: number, bytesOut: number): void {
    this.#closedBytes.in += bytesIn;
    this.#closedBytes.out += bytesOut;
  }

  /** Events observed per instance label: the dispatch series that exist, so they can be removed. */
  readonly #dispatchSeries = new Map<string, Set<string>>();

  /** A script event dispatch into an instance's isolate took `seconds`. */
  observeDispatch(instance: string, event: string, seconds: number): void {
    let events = this.#dispatchSeries.get(instance);
    if (events === undefined) {
      // A new instance: a good moment to drop the series of unloaded ones (see #pruneDispatch).
      this.#pruneDispatch();
      events = new Set();
      this.#dispatchSeries.set(instance, events);
    }
    events.add(event);
    this.#prom().dispatch.observe({ instance, event }, seconds);
  }

  /**
   * Instance names come from clients (rtmp://host/app/<any name> loads an instance), so series
   * kept after their instance unloads would let any client grow memory and every scrape without
   * bound: only loaded instances keep theirs. Runs per new instance label and per scrape.
   */
  #pruneDispatch(): void {
    const loaded = new Set(this.#source.instances().map((i) => i.name));
    for (const [instance, events] of this.#dispatchSeries) {
      if (loaded.has(instance)) continue;
      for (const event of events) this.#dispatch?.remove({ instance, event });
      this.#dispatchSeries.delete(instance);
    }
  }

  /** Handles GET /metrics; returns false for other paths. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (new URL(req.url ?? '/', 'http://host').pathname !== '/metrics') return false;
    if (!admitAdminRequest(req, res, this.#options.token, this.#options.log)) return true;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return true;
    }
    const exposition = this.#options.exposition ?? (async () => ({ contentType: this.#prom().registry.contentType, text: await this.text() }));
    exposition().then(
      ({ contentType, text }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(text);
      },
      (error: unknown) => {
        this.#options.log.error({ err: (error as Error)?.message }, 'metrics collection failed');
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics collection failed\n');
      },
    );
    return true;
  }

  /**
   * This process's metrics as prom-client JSON (process distribution: the primary aggregates every
   * worker's with its own, runtime/cluster/cluster-metrics.ts).
   */
  async json(): Promise<import('prom-client').MetricObjectWithValues<import('prom-client').MetricValue<string>>[]> {
    const { registry } = this.#prom();
    this.#pruneDispatch();
    return loadPromClient().Registry.merge([registry, processMetrics()]).getMetricsAsJSON();
  }

  /** The exposition text (this server's metrics, then the process defaults). */
  async text(): Promise<string> {
    const { registry } = this.#prom();
    this.#pruneDispatch();
    return loadPromClient().Registry.merge([registry, processMetrics()]).metrics();
  }

  close(): void {
    this.#unsubscribe();
  }

  #define(prom: PromClient, registry: Registry): void {
    const source = this.#source;
    const registers = [registry];
    const closed = this.#closedBytes;
    const openSessions = () => source.instances().flatMap((i) => i.sessions);
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge) => void) =>
      new prom.Gauge({ name, help, labelNames, registers, collect() { this.reset(); fill(this); } });
    const total = (name: string, help: string, value: () => number) =>
      new prom.Counter({ name, help, registers, collect() { this.reset(); this.inc(value()); } });

    gauge('fms_rtmp_connections', 'Open inbound RTMP connections (including ones still handshaking)', [], (g) => g.set(source.rtmpConnections()));
    gauge('fms_rtmp_connections_by_transport', 'Open inbound RTMP connections per transport (rtmp, rtmps, rtmpt, rtmpts, rtmpe, rtmpte)', ['transport'], (g) => {
      for (const [transport, count] of Object.entries(source.connectionsByTransport())) g.set({ transport }, count);
    });
    gauge('fms_rtmpt_sessions', 'Open RTMPT/RTMPTS sessions', [], (g) => g.set(source.rtmptSessions()));
    gauge('fms_clients', 'Clients connected to each application instance', ['instance'], (g) => {
      for (const i of source.instances()) g.set({ instance: i.name }, i.sessions.length);
    });
    gauge('fms_instances', 'Loaded application instances by state', ['state'], (g) => {
      for (const state of ['starting', 'running', 'stopping']) g.set({ state }, 0);
      for (const i of source.instances()) g.inc({ state: i.state });
    });
    gauge('fms_streams', 'Live streams being published, per instance', ['instance'], (g) => {
      for (const i of source.instances()) g.set({ instance: i.name }, i.streams.all().filter((s) => s.isPublishing).length);
    });
    gauge('fms_stream_subscribers', 'Players, relays and recorders attached to live streams, per instance', ['instance'], (g) => {
      for (const i of source.instances()) g.set({ instance: i.name }, i.streams.all().reduce((n, s) => n + s.subscribers.size, 0));
    });
    gauge('fms_relays', 'Native relays by state', ['state'], (g) => {
      for (const state of ['connecting', 'publishing', 'retrying']) g.set({ state }, 0);
      for (const i of source.instances()) for (const relay of i.relays()) g.inc({ state: relay.state });
    });
    total('fms_rtmp_received_bytes_total', 'Bytes received on inbound RTMP connections', () => closed.in + openSessions().reduce((n, s) => n + s.connection.bytesIn, 0));
    total('fms_rtmp_sent_bytes_total', 'Bytes sent on inbound RTMP connections', () => closed.out + openSessions().reduce((n, s) => n + s.connection.bytesOut, 0));
    gauge('fms_http_flv_players', 'Open HTTP-FLV players', [], (g) => g.set(source.httpFlv().players));
    total('fms_http_flv_sent_bytes_total', 'Bytes sent to HTTP-FLV players', () => source.httpFlv().bytesSent);
    total('fms_http_flv_dropped_packets_total', 'Packets dropped for slow HTTP-FLV players', () => source.httpFlv().packetsDropped);
    gauge('fms_isolates', 'Script isolates alive in the process (every generation of every instance, hot-reload trials included)', [], (g) => g.set(source.isolates().live));
    total('fms_isolates_lost_total', 'Isolates lost to an isolated-vm catastrophic error: their thread and heap stay parked until the process restarts', () => source.isolates().lost);
  }
}

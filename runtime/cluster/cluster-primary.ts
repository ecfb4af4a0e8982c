import { mkdtempSync, rmSync } from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Config } from '../config.ts';
import type { Logger } from '../log/logger.ts';
import { parseFlvPath } from '../media/flv-egress.ts';
import { parseHlsPath } from '../media/hls/hls-request.ts';
import type { ClientSession } from '../sessions/client-session.ts';
import { instanceOfRoute, mergeAdmin, mergeReloads, type AdminReply } from './admin-merge.ts';
import { ConnectionHandoff } from './connection-handoff.ts';
import { proxyRequest, proxyUpgrade } from './http-proxy.ts';
import { InstanceRouter } from './instance-router.ts';
import type { WorkerMessage } from './messages.ts';
import { SocketPairs } from './socket-pair.ts';
import { WorkerPool } from './worker-pool.ts';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** What the primary needs from the Server it runs in (server.ts implements it). */
export interface PrimaryHost {
  readonly config: Config;
  readonly log: Logger;
  /** A worker's log record (one JSON line): to stdout and the live log, as the primary's own. */
  writeLogLine(line: string): void;
  /** The primary's own admin answer (ports, doors, catalog; it has no instances). */
  localAdmin(method: string, path: string): Promise<AdminReply>;
  /** The primary's own metrics (connections still in their handshake, RTMPT, its process). */
  localMetrics(): Promise<MetricsJson>;
  /** The access rule of the admin routes and /metrics: false = already answered 401/403. */
  admit(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  ports(): { rtmp: number; http: number; rtmps: number; https: number };
  /** Apps whose Application.xml asks for LoadOnStartup. */
  loadOnStartupApps(): string[];
}

/**
 * FMS-style process distribution (config `distribute`, `--processes n`), the primary's side. The
 * primary keeps every door: the RTMP, RTMPS, HTTP(S) ports, RTMPT sessions, the admin API, console,
 * metrics and live log. Application instances run in `processes` worker processes; an instance (or,
 * with scope 'app', every instance of an app) always lives in one worker, which gets its clients
 * after their connect (ConnectionHandoff) and its HTTP-FLV/HLS/WS-FLV players (passed on over a
 * local socket). Admin answers and metrics are merged from every process, worker logs go to the
 * primary's stdout and live log, a script change reloads the app in every worker that has it, and
 * a worker that dies is restarted (its clients get NetConnection.Connect.AppShutdown).
 */
export class ClusterPrimary {
  readonly #host: PrimaryHost;
  readonly #dir = mkdtempSync(path.join(os.tmpdir(), 'fms-runtime-workers-'));
  readonly #router: InstanceRouter;
  readonly #pool: WorkerPool;
  readonly #pairs = new SocketPairs();
  readonly #handoff: ConnectionHandoff;
  /** Instance names each worker reported loaded (the live log's per-instance rings use them). */
  readonly #loaded: Set<string>[];

  constructor(host: PrimaryHost) {
    this.#host = host;
    const { distribute } = host.config;
    this.#router = new InstanceRouter(distribute.scope, distribute.processes);
    this.#loaded = Array.from({ length: distribute.processes }, () => new Set<string>());
    const workerConfig: Config = { ...host.config, reload: { ...host.config.reload, watch: false } };
    this.#pool = new WorkerPool({
      processes: distribute.processes,
      restartDelayMs: distribute.restartDelayMs,
      settings: (index) => ({ index, httpSocketPath: this.#socketPath(index), ports: host.ports(), config: workerConfig }),
      onLogLine: (line) => host.writeLogLine(line),
      log: host.log.child({ component: 'cluster' }),
    });
    this.#handoff = new ConnectionHandoff({ router: this.#router, pool: this.#pool, pairs: this.#pairs, log: host.log.child({ component: 'cluster' }) });
    this.#pool.on('message', (index, message) => this.#onWorkerMessage(index, message));
    this.#pool.on('exit', (index, expected, code, signal) => {
      this.#router.forget(index);
      this.#loaded[index]!.clear();
      if (!expected) {
        this.#host.log.error({ worker: index, code, signal }, 'worker process died');
        this.#handoff.workerExited(index);
      }
    });
    this.#pool.on('ready', (index) => this.#host.log.info({ worker: index, workerPid: this.#pool.pid(index) }, "worker process ready"));
  }

  #socketPath(index: number): string {
    return path.join(this.#dir, `worker-${index}.sock`);
  }

  /** Starts the workers (after the primary's ports are bound: they need them), then LoadOnStartup apps. */
  async start(): Promise<void> {
    await this.#pool.start();
    for (const app of this.#host.loadOnStartupApps()) {
      const worker = this.#router.route(app, '_definst_', 0);
      this.#pool.request(worker, { op: 'loadOnStartup', app }).catch((error: unknown) => this.#host.log.warn({ app, err: (error as Error).message }, 'load on startup failed'));
    }
  }

  /** The route of a session whose connect the primary read: to the worker owning its instance. */
  handOver(session: ClientSession): void {
    this.#handoff.handOver(session);
  }

  /** Whether an instance of this name is loaded in some worker. */
  hasInstance(name: string): boolean {
    return this.#loaded.some((names) => names.has(name));
  }

  /** What the processes are now, for /api/server. */
  processes(): { index: number; pid: number | null; ready: boolean; instances: string[]; connections: number }[] {
    return this.#loaded.map((names, index) => ({ index, pid: this.#pool.pid(index), ready: this.#pool.isReady(index), instances: [...names].sort(), connections: this.#handoff.countFor(index) }));
  }

  #onWorkerMessage(index: number, message: WorkerMessage): void {
    if (message.type === 'closed') this.#handoff.closed(message.id);
    else if (message.type === 'instances') {
      this.#loaded[index] = new Set(message.names);
      this.#router.report(index, message.names, message.lastSeq);
    }
  }

  /** Hot reload of an app (or one instance) in every worker; the results together. */
  async reload(app: string, mode: 'carry' | 'restart', instance?: string): Promise<{ reloaded: string[]; failed: string[] }> {
    const results = await this.#pool.requestAll({ op: 'reload', app, mode, ...(instance !== undefined ? { instance } : {}) });
    for (const result of results) if (result instanceof Error) this.#host.log.warn({ app, err: result.message }, 'reload in a worker failed');
    return mergeReloads(results);
  }

  /** A script library changed: every worker reloads its apps that use it. */
  async reloadLibrary(file: string, mode: 'carry' | 'restart'): Promise<void> {
    await this.#pool.requestAll({ op: 'reloadLibrary', file, mode });
  }

  /** Routes the primary answers for the whole server: the admin API, and egress passed on to a worker (/metrics: metrics()). */
  handleHttp(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://host');
    const pathname = url.pathname;
    if (pathname.startsWith('/api/') || pathname.startsWith('/admin/')) {
      if (this.#host.admit(req, res)) void this.#admin(req.method ?? 'GET', url).then((reply) => sendJson(res, reply));
      return true;
    }
    const worker = this.#egressWorker(pathname);
    if (worker === undefined) return false;
    if (worker === null) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('stream not found or not published\n');
      return true;
    }
    proxyRequest(req, res, this.#socketPath(worker));
    return true;
  }

  /** WS-FLV upgrades go to the worker that owns the stream. */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const worker = this.#egressWorker(new URL(req.url ?? '/', 'http://host').pathname);
    if (worker === undefined) return false;
    if (worker === null) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nstream not found or not published\n');
      return true;
    }
    proxyUpgrade(req, socket, head, this.#socketPath(worker));
    return true;
  }

  /**
   * The worker for an egress path (HTTP-FLV, HLS): the owner of the first app/instance reading of
   * the path that has one; VOD HLS (recorded files, no instance needed) to any worker; null when no
   * worker has the instance (nothing is published there); undefined for a path that is no egress route.
   */
  #egressWorker(pathname: string): number | null | undefined {
    const hls = parseHlsPath(pathname);
    const routes = parseFlvPath(pathname) ?? hls?.routes ?? null;
    if (!routes) return undefined;
    for (const route of routes) {
      const owner = this.#router.ownerOf(route.app, route.instance);
      if (owner !== null && this.#pool.isReady(owner)) return owner;
    }
    if (hls && hls.object.kind.startsWith('vod')) return this.#router.leastLoaded();
    return null;
  }

  async #admin(method: string, url: URL): Promise<AdminReply> {
    const target = `${url.pathname}${url.search}`;
    const local = await this.#host.localAdmin(method, target);
    if (local.status === 405 || local.status === 400) return local;
    const one = instanceOfRoute(url.pathname, url.searchParams);
    if (one) {
      const owner = this.#router.ownerOf(one.app, one.instance);
      return owner === null ? local : this.#ask(owner, method, target);
    }
    if (method === 'POST' && (/^\/api\/apps\/[^/]+\/reload$/.test(url.pathname) || url.pathname === '/admin/reloadApp')) {
      // The primary's AdminApi has no reload of its own: past its checks (bad name, no such app) it answers 501.
      if (local.status !== 501) return local;
      const answers = await this.#askAll(method, target);
      return { status: answers.some((a) => a.status !== 200) ? 500 : 200, body: reloadBody(url.pathname, answers) };
    }
    if (method !== 'GET' && method !== 'HEAD') return local;
    const merged = mergeAdmin(url.pathname, local, await this.#askAll(method, target), this.processes());
    return merged ?? local;
  }

  #ask(worker: number, method: string, target: string): Promise<AdminReply> {
    return this.#pool.request<AdminReply>(worker, { op: 'admin', method, path: target }).catch((error: unknown) => ({ status: 503, body: { error: (error as Error).message } }));
  }

  async #askAll(method: string, target: string): Promise<AdminReply[]> {
    const answers = await this.#pool.requestAll<AdminReply>({ op: 'admin', method, path: target });
    return answers.filter((a): a is AdminReply => !(a instanceof Error));
  }

  /** /metrics for the whole server (the primary's Metrics answers with it): every process's metrics, aggregated by prom-client's own rules. */
  async metrics(): Promise<{ contentType: string; text: string }> {
    const prom = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
    const workers = (await this.#pool.requestAll<MetricsJson>({ op: 'metrics' })).filter((m): m is MetricsJson => !(m instanceof Error));
    const registry = prom.AggregatorRegistry.aggregate([await this.#host.localMetrics(), ...workers]);
    return { contentType: registry.contentType, text: await registry.metrics() };
  }

  /** Server shutdown: workers close their instances and clients and exit; then the primary lets go of the rest. */
  async close(): Promise<void> {
    // Stragglers are killed a second before the primary's own deadline (shutdownTimeoutMs) would end it.
    await this.#pool.stop(Math.max(1000, this.#host.config.shutdownTimeoutMs - 1000));
    this.#handoff.closeAll();
    this.#pairs.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** The reload routes' body from every worker's answer (API shape, or FMS result shape for /admin/reloadApp). */
function reloadBody(pathname: string, answers: AdminReply[]): unknown {
  const fms = pathname === '/admin/reloadApp';
  const results = answers.map((a) => {
    const body = a.body as Record<string, unknown> | null;
    return fms ? body?.['data'] : body;
  });
  const merged = mergeReloads(results);
  if (!fms) return merged;
  return { level: 'status', code: 'NetConnection.Call.Success', timestamp: new Date().toISOString(), data: merged };
}

function sendJson(res: http.ServerResponse, reply: AdminReply): void {
  if (res.headersSent) return;
  res.writeHead(reply.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(reply.body));
}

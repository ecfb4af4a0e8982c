import type http from 'node:http';
import os from 'node:os';
import type { AppInstance } from '../instances/app-instance.ts';
import type { Logger } from '../log/logger.ts';
import { streamCodecs } from '../media/codec-names.ts';
import type { FlvEgressStats } from '../media/flv-egress.ts';
import { HlsEgress, type HlsEgressStats } from '../media/hls/hls-egress.ts';
import type { TransportName } from '../rtmp/transport.ts';
import { admitAdminRequest } from './admin-access.ts';

/*
 * Admin API: JSON over the server's own HTTP port.
 *
 *   GET  /api/server                                   ports, connections, apps, instances (superset of the first shape)
 *   GET  /api/apps                                     application catalog with loaded instances
 *   GET  /api/instances                                loaded instances with counters
 *   GET  /api/instances/<app>/<inst>/clients           clients of one instance
 *   POST /api/instances/<app>/<inst>/unload            onAppStop(Application.Shutdown), clients disconnected
 *   POST /api/instances/<app>/<inst>/reload            hot reload of that instance only (like a script change)
 *   GET  /api/streams                                  live streams of every instance (publisher, codecs, bitrate)
 *   GET  /api/relays                                   relay states and counters
 *
 * FMS Administration API aliases (the HTTP commands users' tools call on FMS port 1111):
 *   GET /admin/getApps  /admin/getAppStats?app=  /admin/getLiveStreams?appInst=app/inst  /admin/getServerStats
 * answer FMS's result object {level, code, timestamp, data} (errors: level "error", description),
 * always as JSON: FMS answers XML over HTTP, but JSON is what scripts and dashboards parse today,
 * and one format keeps one code path. `auser`/`apswd` are ignored; access is admin-access.ts's rule.
 */

/** What the admin layer reads; the composition root implements it. */
export interface AdminSource {
  readonly startedAt: number;
  rtmpPort(): number;
  httpPort(): number;
  rtmpConnections(): number;
  /** Open inbound connections per transport (rtmp, rtmps, rtmpt, rtmpts, rtmpe, rtmpte). */
  connectionsByTransport(): Record<TransportName, number>;
  /** Bound ports; 0 for a door that is closed (RTMPS/HTTPS without a certificate). */
  ports(): { rtmp: number; http: number; rtmps: number; https: number };
  /** Open RTMPT sessions (RTMPT and RTMPTS). */
  rtmptSessions(): number;
  /** Application names in the catalog (applications folder). */
  apps(): string[];
  instances(): AppInstance[];
  httpFlv(): FlvEgressStats;
  /** Script isolates of the process: alive now, and lost for good to isolated-vm catastrophic errors. */
  isolates(): { live: number; lost: number };
  hls(): HlsEgressStats;
}

export interface AdminApiOptions {
  /** Bearer token; null = loopback clients only. */
  token: string | null;
  log: Logger;
  /**
   * Hot reload of one loaded instance, or of every loaded instance of an app when `instance` is
   * omitted (the same path as a file change); without it the reload routes answer 501.
   */
  reload?: (app: string, instance?: string) => Promise<ReloadResult>;
}

export interface ReloadResult {
  reloaded: string[];
  failed: string[];
}

type Reply = { status: number; body: unknown };
const ok = (body: unknown): Reply => ({ status: 200, body });
const notFound = (error: string): Reply => ({ status: 404, body: { error } });

export class AdminApi {
  readonly #source: AdminSource;
  readonly #options: AdminApiOptions;

  constructor(source: AdminSource, options: AdminApiOptions) {
    this.#source = source;
    this.#options = options;
  }

  /** Handles `/api/*` and `/admin/*`; returns false for other paths. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://host');
    if (!url.pathname.startsWith('/api/') && !url.pathname.startsWith('/admin/')) return false;
    if (!admitAdminRequest(req, res, this.#options.token, this.#options.log)) return true;
    this.#route(req.method ?? 'GET', url).then(
      (reply) => send(res, reply),
      (error: unknown) => {
        this.#options.log.error({ err: (error as Error)?.message, path: url.pathname }, 'admin request failed');
        send(res, { status: 500, body: { error: 'internal error' } });
      },
    );
    return true;
  }

  /**
   * The answer to one admin request, already admitted (process distribution: the primary asks each
   * worker over IPC and merges the answers, runtime/cluster/admin-merge.ts).
   */
  reply(method: string, pathAndQuery: string): Promise<{ status: number; body: unknown }> {
    return this.#route(method, new URL(pathAndQuery, 'http://host'));
  }

  async #route(method: string, url: URL): Promise<Reply> {
    const path = url.pathname;
    const appReload = /^\/api\/apps\/([^/]+)\/reload$/.exec(path);
    if (appReload) return this.#appReload(method, appReload[1]!);
    const instanceRoute = /^\/api\/instances\/([^/]+)\/(.+)\/(clients|unload|reload)$/.exec(path);
    if (instanceRoute) {
      const [, app, inst, action] = instanceRoute as unknown as [string, string, string, string];
      const wanted = action === 'clients' ? 'GET' : 'POST';
      if (method !== wanted) return { status: 405, body: { error: `use ${wanted}` } };
      const instance = this.#instance(safeDecode(app), safeDecode(inst));
      if (!instance) return notFound('instance not loaded');
      if (action === 'clients') return ok({ instance: instance.name, clients: clientsOf(instance) });
      if (action === 'reload') {
        const reload = this.#options.reload;
        if (!reload) return { status: 501, body: { error: 'reload is not available' } };
        this.#options.log.info({ app: instance.name }, 'instance reload requested by admin');
        const result = await reload(instance.def.name, instance.instanceName);
        if (result.failed.length) return { status: 500, body: { error: 'reload failed; the previous version keeps serving (its error is in the log)', ...result } };
        return ok(result);
      }
      await instance.unload('Application.Shutdown');
      this.#options.log.info({ app: instance.name }, 'instance unloaded by admin request');
      return ok({ unloaded: instance.name, state: instance.state });
    }
    if (path === '/admin/reloadApp') return this.#fmsReloadApp(method, url.searchParams.get('appInst') ?? '');
    const handler = this.#getRoutes[path];
    if (!handler) return notFound('no such admin route');
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, body: { error: 'use GET' } };
    return handler(url.searchParams);
  }

  readonly #getRoutes: Record<string, (query: URLSearchParams) => Reply> = {
    '/api/server': () => ok(this.#server()),
    '/api/apps': () => ok({ apps: this.#apps() }),
    '/api/instances': () => ok({ instances: this.#source.instances().map(instanceSummary) }),
    '/api/streams': () => ok({ streams: this.#source.instances().flatMap(streamsOf) }),
    '/api/relays': () => ok({ relays: this.#source.instances().flatMap((i) => i.relays().map((r) => ({ instance: i.name, ...r }))) }),
    '/admin/getApps': () => ok(fmsResult(this.#source.apps())),
    '/admin/getAppStats': (query) => ok(this.#fmsAppStats(query.get('app') ?? '')),
    '/admin/getLiveStreams': (query) => ok(this.#fmsLiveStreams(query.get('appInst') ?? '')),
    '/admin/getServerStats': () => ok(fmsResult(this.#fmsServerStats())),
  };

  /**
   * FMS Admin API reloadApp(appInst): `app/inst` reloads that instance, `app` every loaded one.
   * POST only (FMS tools used GET): a GET with side effects could be fired by any web page
   * through an <img> tag, and a cross-site GET carries no Origin for the access rule to refuse.
   */
  async #fmsReloadApp(method: string, appInst: string): Promise<Reply> {
    if (method !== 'POST') return { status: 405, body: fmsError('reloadApp changes state: use POST') };
    const [app = '', ...rest] = appInst.split('/');
    const reload = this.#options.reload;
    if (!app) return { status: 400, body: fmsError('appInst is required (app or app/instance)') };
    if (!reload) return { status: 501, body: fmsError('reload is not available') };
    if (!this.#source.apps().includes(app)) return notFound(`no application ${app}`);
    this.#options.log.info({ app: appInst }, 'reloadApp requested by admin');
    const result = await reload(app, rest.length > 0 ? rest.join('/') : undefined);
    if (result.failed.length) return { status: 500, body: fmsError(`reload failed for ${result.failed.join(', ')}; the previous version keeps serving (its error is in the log)`) };
    return ok(fmsResult(result));
  }

  /** `POST /api/apps/<app>/reload`: every loaded instance of the app; the result as it is, failures listed. */
  async #appReload(method: string, encodedApp: string): Promise<Reply> {
    if (method !== 'POST') return { status: 405, body: { error: 'use POST' } };
    const reload = this.#options.reload;
    if (!reload) return { status: 501, body: { error: 'reload is not available' } };
    // A malformed name is the caller's error; safeDecode's fall-back to the raw text would hide it.
    let app: string;
    try {
      app = decodeURIComponent(encodedApp);
    } catch {
      return { status: 400, body: { error: 'app name is not valid percent-encoding' } };
    }
    return ok(await reload(app));
  }

  #instance(app: string, inst: string): AppInstance | undefined {
    const name = `${app}/${inst}`;
    return this.#source.instances().find((i) => i.name === name);
  }

  #server() {
    const source = this.#source;
    return {
      rtmpPort: source.rtmpPort(),
      httpPort: source.httpPort(),
      rtmpsPort: source.ports().rtmps,
      httpsPort: source.ports().https,
      connections: source.rtmpConnections(),
      connectionsByTransport: source.connectionsByTransport(),
      rtmptSessions: source.rtmptSessions(),
      apps: source.apps(),
      instances: source.instances().map((i) => ({
        name: i.name,
        state: i.state,
        clients: i.sessions.length,
        streams: i.streams.all().map((s) => ({ name: s.name, publishing: s.isPublishing, subscribers: s.subscribers.size })),
      })),
      startedAt: new Date(source.startedAt).toISOString(),
      uptimeSec: Math.round((Date.now() - source.startedAt) / 1000),
      httpFlv: source.httpFlv(),
      isolates: source.isolates(),
      hls: source.hls(),
    };
  }

  #apps() {
    const instances = this.#source.instances();
    return this.#source.apps().map((name) => {
      const loaded = instances.filter((i) => i.def.name === name);
      return { name, instances: loaded.map((i) => i.instanceName), clients: loaded.reduce((n, i) => n + i.sessions.length, 0) };
    });
  }

  #fmsAppStats(app: string) {
    if (!this.#source.apps().includes(app)) return fmsError(`Application ${app || '(none)'} does not exist.`);
    const instances = this.#source.instances().filter((i) => i.def.name === app);
    const sessions = instances.flatMap((i) => i.sessions);
    const launch = instances.length ? Math.min(...instances.map((i) => i.startedAt)) : null;
    const sum = (pick: (i: AppInstance) => number) => instances.reduce((n, i) => n + pick(i), 0);
    return fmsResult({
      launch_time: launch === null ? null : new Date(launch).toISOString(),
      up_time: launch === null ? 0 : Math.round((Date.now() - launch) / 1000),
      connected: sessions.length,
      // Totals cover the instances loaded now (an unloaded instance takes its counters with it).
      total_connects: sum((i) => i.stats.totalConnects),
      total_disconnects: sum((i) => i.stats.totalDisconnects),
      bytes_in: sessions.reduce((n, s) => n + s.connection.bytesIn, 0),
      bytes_out: sessions.reduce((n, s) => n + s.connection.bytesOut, 0),
      msg_in: sessions.reduce((n, s) => n + s.connection.messagesIn, 0),
      msg_out: sessions.reduce((n, s) => n + s.connection.messagesOut, 0),
      msg_dropped: sessions.reduce((n, s) => n + s.messagesDropped, 0),
      instances_loaded: instances.length,
      script_errors: sum((i) => i.stats.scriptErrors),
    });
  }

  #fmsLiveStreams(appInst: string) {
    const slash = appInst.indexOf('/');
    const [app, inst] = slash < 0 ? [appInst, '_definst_'] : [appInst.slice(0, slash), appInst.slice(slash + 1)];
    const instance = this.#instance(app, inst);
    if (!instance) return fmsError(`Application instance ${app}/${inst} is not loaded.`);
    return fmsResult(instance.streams.all().filter((s) => s.isPublishing).map((s) => s.name));
  }

  #fmsServerStats() {
    const source = this.#source;
    const sessions = source.instances().flatMap((i) => i.sessions);
    const uptimeMs = Math.max(1, Date.now() - source.startedAt);
    const cpu = process.cpuUsage();
    return {
      launchTime: new Date(source.startedAt).toISOString(),
      up_time: Math.round(uptimeMs / 1000),
      // Like FMS: CPU time of this process over wall time since launch, all cores summed (may exceed 100).
      cpu_Usage: Math.round(((cpu.user + cpu.system) / 1000 / uptimeMs) * 100),
      memory_Usage: Math.round((1 - os.freemem() / os.totalmem()) * 100),
      physical_Mem: process.memoryUsage().rss,
      // CPUs this process may run on (affinity and container limits included), what an operator sizes by.
      num_cores: os.availableParallelism(),
      io: {
        connected: source.rtmpConnections(),
        bytes_in: sessions.reduce((n, s) => n + s.connection.bytesIn, 0),
        bytes_out: sessions.reduce((n, s) => n + s.connection.bytesOut, 0) + source.httpFlv().bytesSent,
        msg_in: sessions.reduce((n, s) => n + s.connection.messagesIn, 0),
        msg_out: sessions.reduce((n, s) => n + s.connection.messagesOut, 0),
        http_flv_players: source.httpFlv().players,
      },
    };
  }
}

function instanceSummary(i: AppInstance) {
  return {
    name: i.name,
    app: i.def.name,
    instance: i.instanceName,
    state: i.state,
    startedAt: new Date(i.startedAt).toISOString(),
    /** 1, plus one per hot reload that carried the clients over. */
    generation: i.generation,
    clients: i.sessions.length,
    streams: i.streams.all().filter((s) => s.isPublishing).length,
    relays: i.relays().length,
    totalConnects: i.stats.totalConnects,
    totalDisconnects: i.stats.totalDisconnects,
    scriptErrors: i.stats.scriptErrors,
  };
}

function clientsOf(i: AppInstance) {
  return i.sessions.map((s) => ({
    id: s.id,
    state: s.state,
    ip: s.info.ip,
    agent: s.info.agent,
    protocol: s.info.protocol,
    secure: s.info.secure,
    transport: s.connection.transportName,
    referrer: s.info.referrer,
    pageUrl: s.info.pageUrl,
    connectedAt: new Date(s.connectedAt).toISOString(),
    bytesIn: s.connection.bytesIn,
    bytesOut: s.connection.bytesOut,
  }));
}

function streamsOf(i: AppInstance) {
  const now = Date.now();
  return i.streams.all().map((s) => ({
    instance: i.name,
    name: s.name,
    publishing: s.isPublishing,
    publisher: s.publisher ? publisherOf(i, s.publisher) : null,
    /** Players, relays and recorders attached (the console's "viewers"). */
    subscribers: s.subscribers.size,
    hasVideo: s.videoConfig !== null,
    hasAudio: s.audioConfig !== null,
    codecs: streamCodecs(s),
    // Average since this publish began: steady for a console polling every few seconds.
    bitrateKbps: s.publisher ? Math.round(((s.bytesIn - s.bytesInAtPublish) * 8) / Math.max(1, now - s.publisher.startedAt)) : 0,
    bytesIn: s.bytesIn,
    packetsIn: s.packetsIn,
    lastTimestamp: s.lastTimestamp,
    flvPath: `/${[i.def.name, i.instanceName, s.name].map(encodeURIComponent).join('/')}.flv`,
    /** Live HLS/LL-HLS playlist (packaged from its first request); null when HLS is off for the app. */
    hlsPath: i.def.settings?.hls.enabled === false ? null : HlsEgress.playlistPath(i.def.name, i.instanceName, s.name),
  }));
}

/** Who publishes: a client of the instance (with its address and agent) or a server-side publisher. */
function publisherOf(i: AppInstance, publisher: { id: string; startedAt: number }) {
  const client = i.sessions.find((s) => s.id === publisher.id);
  return {
    id: publisher.id,
    startedAt: new Date(publisher.startedAt).toISOString(),
    ip: client?.info.ip ?? null,
    agent: client?.info.agent ?? null,
  };
}

function fmsResult(data: unknown) {
  return { level: 'status', code: 'NetConnection.Call.Success', timestamp: new Date().toISOString(), data };
}

function fmsError(description: string) {
  return { level: 'error', code: 'NetConnection.Call.Failed', description, timestamp: new Date().toISOString() };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function send(res: http.ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  res.writeHead(reply.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(reply.body));
}

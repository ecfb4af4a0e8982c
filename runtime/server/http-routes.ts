import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { admitAdminRequest } from '../admin/admin-access.ts';
import { AdminApi, type AdminSource } from '../admin/admin-api.ts';
import type { ClusterPrimary } from '../cluster/cluster-primary.ts';
import { clientAddressFromPrimary } from '../cluster/http-proxy.ts';
import { ConsoleRoutes } from '../admin/console-routes.ts';
import { LiveLogRoutes } from '../admin/live-log-routes.ts';
import { Metrics } from '../admin/metrics.ts';
import type { Config } from '../config.ts';
import type { AppCatalog } from '../instances/app-catalog.ts';
import { recordedFileOf } from '../instances/recorded-streams.ts';
import type { InstanceManager } from '../instances/instance-manager.ts';
import type { LiveLog } from '../log/live-log.ts';
import type { Logger } from '../log/logger.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';
import { FlvEgress } from '../media/flv-egress.ts';
import { HlsEgress } from '../media/hls/hls-egress.ts';
import type { HlsSettings } from '../media/hls/hls-settings.ts';
import { VodHls } from '../media/hls/vod-hls.ts';
import { parseStreamName } from '../media/stream-registry.ts';
import type { RtmptGateway } from '../rtmp/rtmpt-gateway.ts';
import { liveIsolateCount, lostIsolateThreadCount } from '../sandbox/isolate-counters.ts';

/** What the routes need from the server around them. */
export interface HttpRoutesDeps {
  config: Config;
  log: Logger;
  liveLog: LiveLog;
  budgetLog: RateLimitedLog;
  catalog: AppCatalog;
  instances: InstanceManager;
  /** HLS settings of apps whose Application.xml says nothing (config `hls`). */
  hlsDefaults: HlsSettings;
  rtmpt: RtmptGateway;
  /** The server's ports and connection counts, for the admin API and /metrics. */
  server: Pick<AdminSource, 'rtmpPort' | 'httpPort' | 'rtmpConnections' | 'connectionsByTransport' | 'ports' | 'rtmptSessions'>;
  /**
   * Process distribution (runtime/cluster/): a primary answers the admin API and /metrics for every
   * process and passes egress on to the worker owning the stream; a worker (`behindPrimary`) serves
   * only what its primary passes on, the client's address in X-Forwarded-For.
   */
  cluster?: ClusterPrimary | null;
  behindPrimary?: boolean;
}

/**
 * Everything the HTTP and HTTPS ports serve, in order: RTMPT (POST /open|send|idle|close|fcs),
 * HTTP-FLV and HLS playback, the live log, admin JSON (/api/*, /admin/*), /metrics, then the
 * console page (and / → /console); WS-FLV is the only WebSocket route.
 */
export class HttpRoutes {
  readonly flv: FlvEgress;
  readonly hls: HlsEgress;
  readonly admin: AdminApi;
  readonly metrics: Metrics;
  readonly #console: ConsoleRoutes;
  readonly #logRoutes: LiveLogRoutes;
  readonly #rtmpt: RtmptGateway;
  readonly #log: Logger;
  readonly #cluster: ClusterPrimary | null;
  readonly #behindPrimary: boolean;
  readonly #token: string | null;

  constructor(deps: HttpRoutesDeps) {
    const { config, log, instances, catalog, hlsDefaults, budgetLog } = deps;
    this.#rtmpt = deps.rtmpt;
    this.#log = log;
    this.#cluster = deps.cluster ?? null;
    this.#behindPrimary = deps.behindPrimary ?? false;
    const instance = (app: string, name: string) => instances.instances.find((i) => i.name === `${app}/${name}`);
    this.flv = new FlvEgress({
      maxBufferedBytes: config.media.playerMaxBufferedBytes,
      maxOutputBytes: config.http.playerMaxOutputBytes,
      budgetLog,
      log: log.child({ component: 'http-flv' }),
      lookup: (app, instanceName, streamName) => {
        const found = instance(app, instanceName);
        const stream = found?.streams.get(streamName);
        return found && stream ? { stream, release: () => found.streams.release(stream) } : null;
      },
    });
    // HLS/LL-HLS of live streams and VOD HLS of recordings (runtime/media/hls/README.md).
    const { hls } = config;
    this.hls = new HlsEgress({
      budgets: hls,
      log: log.child({ component: 'hls' }),
      lookup: (app, instanceName, streamName) => {
        const found = instance(app, instanceName);
        const stream = found?.streams.get(parseStreamName(streamName).name);
        return found && stream ? { stream, settings: found.def.settings?.hls ?? hlsDefaults, release: () => found.streams.release(stream) } : null;
      },
      vod: new VodHls(
        (app, instanceName, streamName) => {
          const def = catalog.lookup(app);
          const file = def ? recordedFileOf(def, instanceName, parseStreamName(streamName).name) : null;
          return def && file ? { file, settings: def.settings?.hls ?? hlsDefaults } : null;
        },
        { maxIndexedFiles: hls.vodMaxIndexedFiles, maxIndexing: hls.vodMaxIndexing, maxSegmentBytes: hls.vodMaxSegmentBytes },
        log.child({ component: 'hls' }),
      ),
    });
    const adminSource: AdminSource = {
      startedAt: Date.now(),
      ...deps.server,
      apps: () => catalog.list(),
      instances: () => instances.instances,
      httpFlv: () => this.flv.stats,
      hls: () => this.hls.stats,
      isolates: () => ({ live: liveIsolateCount(), lost: lostIsolateThreadCount() }),
    };
    // Empty = loopback clients only; set http.adminToken to open the admin routes to token holders.
    const token: string | null = config.http.adminToken || null;
    this.#token = token;
    const adminLog = log.child({ component: 'admin' });
    this.admin = new AdminApi(adminSource, {
      token,
      log: adminLog,
      // A primary has no instances: its cluster sends reloads to the workers (and merges their answers).
      ...(this.#cluster ? {} : { reload: (app: string, instanceName?: string) => instances.reloadApp(app, config.reload.mode, instanceName) }),
    });
    const cluster = this.#cluster;
    this.metrics = new Metrics(adminSource, { token, liveLog: deps.liveLog, log: adminLog, ...(cluster ? { exposition: () => cluster.metrics() } : {}) });
    this.#console = new ConsoleRoutes({ token, log: adminLog });
    this.#logRoutes = new LiveLogRoutes(deps.liveLog, { token, log: adminLog, maxBufferedBytes: config.http.liveLogMaxBufferedBytes, budgetLog });
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse, kind: 'http' | 'https'): void {
    if (this.#behindPrimary) clientAddressFromPrimary(req);
    if (!this.#validTarget(req)) {
      res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' });
      res.end('bad request target\n');
      return;
    }
    if (this.#rtmpt.handle(req, res, kind)) return;
    // A primary serves the live log itself (its workers' records come to it), then the whole-server routes.
    if (this.#cluster && (this.#logRoutes.handle(req, res) || this.#cluster.handleHttp(req, res))) return;
    if (this.flv.handle(req, res) || this.hls.handle(req, res) || this.#logRoutes.handle(req, res) || this.admin.handle(req, res) || this.metrics.handle(req, res) || this.#console.handle(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }

  /** WS-FLV playback is the only WebSocket route; any other upgrade is refused. */
  readonly upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy()); // a reset before or during the handshake is no server error
    if (this.#behindPrimary) clientAddressFromPrimary(req);
    if (!this.#validTarget(req)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    if (this.#cluster?.handleUpgrade(req, socket, head)) return;
    if (!this.flv.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
  };

  /**
   * Every route reads the path with `new URL(req.url, base)`, which throws for targets Node's HTTP
   * parser lets through ("//", "//a:b"); a throw in the request or upgrade listener is uncaught and
   * ends the process, so such a request is answered 400 (one log line) before any route sees it.
   */
  #validTarget(req: http.IncomingMessage): boolean {
    try {
      new URL(req.url ?? '/', 'http://host');
      return true;
    } catch {
      this.#log.warn({ ip: req.socket.remoteAddress, target: (req.url ?? '').slice(0, 200) }, 'HTTP request refused: bad request target');
      return false;
    }
  }

  /** The access rule of the admin routes and /metrics (a primary applies it before asking its workers). */
  admit(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    return admitAdminRequest(req, res, this.#token, this.#log.child({ component: 'admin' }));
  }

  /** Ends what holds HTTP connections open: FLV players and WS-FLV sockets, blocked HLS requests, live-log streams. */
  close(): void {
    this.flv.close();
    this.hls.close(); // answers blocked HLS requests, stops packaging
    this.metrics.close();
    this.#logRoutes.close();
  }
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { ErrorCode, FmsRuntimeError } from './errors.ts';
import { LiveLog } from './log/live-log.ts';
import { createRootLogger, type Logger } from './log/logger.ts';
import { AppCatalog } from './instances/app-catalog.ts';
import { AppSettingsReader } from './instances/application-xml.ts';
import type { ScriptFactory } from './instances/app-instance.ts';
import { InstanceManager } from './instances/instance-manager.ts';
import { NoScript } from './instances/no-script.ts';
import { RtmpListener } from './rtmp/listener.ts';
import { AppWatcher } from './reload/app-watcher.ts';
import { LiveLogRoutes } from './admin/live-log-routes.ts';
import { AdminApi, type AdminSource } from './admin/admin-api.ts';
import { Metrics } from './admin/metrics.ts';
import { ConsoleRoutes } from './admin/console-routes.ts';
import { FlvEgress } from './media/flv-egress.ts';
import { findAppScript } from './sandbox/script-loader.ts';
import { liveIsolateCount, lostIsolateThreadCount, Sandbox } from './sandbox/sandbox.ts';

export interface ServerOptions {
  config: Config;
  /** Where log lines go (default stdout); tests pass a stream they parse. */
  logDestination?: NodeJS.WritableStream;
}

/**
 * Composition root: the only module that wires protocol, instances and sandbox together.
 * Starts subsystems in order and closes them in reverse.
 */
export class Server {
  readonly config: Config;
  readonly log: Logger;
  /** Every log record, in a bounded ring per instance, for the live-log endpoints. */
  readonly liveLog = new LiveLog();
  readonly catalog: AppCatalog;
  readonly instances: InstanceManager;
  readonly #rtmp: RtmpListener;
  readonly #http: http.Server;
  readonly #watcher: AppWatcher | null;
  readonly #logRoutes: LiveLogRoutes;
  // HTTP routes besides /api/server's old home: browser egress, admin API, Prometheus metrics.
  readonly #flv: FlvEgress;
  readonly #admin: AdminApi;
  readonly #metrics: Metrics;
  readonly #console: ConsoleRoutes;
  rtmpPort = 0;
  httpPort = 0;
  #closing: Promise<void> | null = null;

  constructor(options: ServerOptions) {
    this.config = options.config;
    this.log = createRootLogger(this.config.logLevel, options.logDestination, this.liveLog);
    // Application.xml / Vhost.xml: per-app script limits, idle time, load on startup, stream folders.
    const settings = new AppSettingsReader(this.config.appsDir, this.config.scripts, (issue) =>
      this.log.warn({ file: issue.file, element: issue.element }, `Application.xml: ${issue.reason}`),
    );
    this.catalog = new AppCatalog(this.config.appsDir, findAppScript, (dir) => settings.read(dir));
    const { rtmp, media, scripts } = this.config;
    this.instances = new InstanceManager(
      this.catalog,
      {
        connectTimeoutMs: rtmp.connectTimeoutMs,
        ownRtmpPort: () => this.rtmpPort,
        sharedObjectsDir: this.config.sharedObjects.dataDir,
        idleUnloadSec: scripts.idleUnloadSec,
        unloadTimeoutMs: scripts.unloadTimeoutMs,
        gopCacheMaxBytes: media.gopCacheMaxBytes,
        playerMaxBufferedBytes: media.playerMaxBufferedBytes,
      },
      this.#scriptFactory,
      this.log,
    );
    const adopted = new WeakSet<object>();
    this.#rtmp = new RtmpListener(
      rtmp,
      (connection) => {
        adopted.add(connection);
        this.instances.adopt(connection, rtmp.connectTimeoutMs);
      },
      (connection, reason, error) => {
        this.#metrics.connectionClosed(connection.bytesIn, connection.bytesOut); // byte counters never go down
        // Sessions log their own end; this covers connections that failed during the handshake.
        if (!adopted.has(connection)) this.log.warn({ ip: connection.remoteAddress, reason, err: error?.message }, 'connection closed during handshake');
      },
    );
    this.#http = http.createServer((req, res) => this.#onHttp(req, res));
    // WS-FLV playback is the only WebSocket route; any other upgrade is refused.
    this.#http.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy()); // a reset before or during the handshake is no server error
      if (!this.#validTarget(req)) {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
        return;
      }
      if (!this.#flv.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    });
    // --- HTTP egress and admin (flv-egress, admin-api, metrics) ---
    this.#flv = new FlvEgress({
      maxBufferedBytes: media.playerMaxBufferedBytes,
      log: this.log.child({ component: 'http-flv' }),
      lookup: (app, instanceName, streamName) => {
        const instance = this.instances.instances.find((i) => i.name === `${app}/${instanceName}`);
        const stream = instance?.streams.get(streamName);
        return instance && stream ? { stream, release: () => instance.streams.release(stream) } : null;
      },
    });
    const startedAt = Date.now();
    const adminSource: AdminSource = {
      startedAt,
      rtmpPort: () => this.rtmpPort,
      httpPort: () => this.httpPort,
      rtmpConnections: () => this.#rtmp.connectionCount,
      apps: () => this.catalog.list(),
      instances: () => this.instances.instances,
      httpFlv: () => this.#flv.stats,
      isolates: () => ({ live: liveIsolateCount(), lost: lostIsolateThreadCount() }),
    };
    // Empty = loopback clients only; set http.adminToken to open the admin routes to token holders.
    const adminToken: string | null = this.config.http.adminToken || null;
    const adminLog = this.log.child({ component: 'admin' });
    this.#admin = new AdminApi(adminSource, {
      token: adminToken,
      log: adminLog,
      reload: (app, instanceName) => this.instances.reloadApp(app, this.config.reload.mode, instanceName),
    });
    this.#metrics = new Metrics(adminSource, { token: adminToken, liveLog: this.liveLog, log: adminLog });
    this.#console = new ConsoleRoutes({ token: adminToken, log: adminLog });
    this.#logRoutes = new LiveLogRoutes(this.liveLog, { token: adminToken, log: adminLog });
    // --- end HTTP egress and admin ---
    this.#watcher = this.config.reload.watch ? new AppWatcher(this.config.appsDir, this.config.reload.debounceMs, this.config.scripts.libPaths) : null;
    this.#watcher?.on('changed', (appName) => {
      this.log.info({ appName }, 'application scripts changed; reloading');
      this.#watchedReload(appName);
    });
    this.#watcher?.on('libraryChanged', (file) => {
      for (const appName of this.instances.appsUsing(file)) {
        this.log.info({ appName, file }, 'script library changed; reloading');
        this.#watchedReload(appName);
      }
    });
    this.#watcher?.on('error', (error) => this.log.warn({ err: error.message }, 'application watcher error'));
  }

  /** A reload the watcher started: nobody awaits it, so a host bug in it is logged, never unhandled. */
  #watchedReload(appName: string): void {
    this.instances.reloadApp(appName, this.config.reload.mode).catch((error: unknown) => {
      this.log.error({ appName, err: (error as Error)?.message }, 'hot reload failed unexpectedly');
    });
  }

  readonly #scriptFactory: ScriptFactory = (def, instanceName, hooks, onFatal) => {
    if (!def.scriptPath) return new NoScript();
    const { scripts } = this.config;
    const app = def.settings; // Application.xml wins over the server-wide scripts.* values
    return new Sandbox({
      appName: def.name,
      instanceName,
      appDir: def.dir,
      scriptPath: def.scriptPath,
      scriptLibPaths: app?.libPaths ?? scripts.libPaths,
      memoryLimitMb: app?.memoryLimitMb ?? scripts.memoryLimitMb,
      handlerTimeoutMs: app?.handlerTimeoutMs ?? scripts.handlerTimeoutMs,
      ...(app ? { config: app.config } : {}),
      exposeJson: scripts.exposeJson,
      exposeSetTimeout: scripts.exposeSetTimeout,
      // Application.xml JSEngine/FileObject first: on the same prefix the app's own mapping wins.
      fileVirtualDirectories: [...(app?.fileDirs ?? []), ...scripts.fileVirtualDirectories],
      http: scripts.http,
      refusedHttpPorts: () => [this.httpPort],
      hooks,
      onFatal,
      logger: this.log.child({ app: `${def.name}/${instanceName}` }),
      onDispatch: (event, seconds) => this.#metrics.observeDispatch(`${def.name}/${instanceName}`, event, seconds),
    });
  };

  async start(): Promise<void> {
    this.rtmpPort = await this.#rtmp.listen(this.config.rtmp.port, this.config.rtmp.host);
    this.httpPort = await new Promise<number>((resolve, reject) => {
      this.#http.once('error', (error) =>
        reject(new FmsRuntimeError(ErrorCode.ListenFailed, `HTTP listen on ${this.config.http.host}:${this.config.http.port} failed: ${error.message}`, { cause: error })),
      );
      this.#http.listen(this.config.http.port, this.config.http.host, () => resolve((this.#http.address() as AddressInfo).port));
    });
    await this.#watcher?.start();
    for (const appName of this.catalog.list()) {
      if (this.catalog.lookup(appName)?.settings?.loadOnStartup) void this.instances.loadOnStartup(appName);
    }
    this.log.info(
      { rtmpPort: this.rtmpPort, httpPort: this.httpPort, apps: this.catalog.list(), appsDir: this.catalog.appsDir },
      'server listening',
    );
  }

  #onHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!this.#validTarget(req)) {
      res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' });
      res.end('bad request target\n');
      return;
    }
    // HTTP-FLV playback, then admin JSON (/api/*, /admin/*, incl. /api/server), then /metrics, then the console page.
    if (this.#flv.handle(req, res) || this.#logRoutes.handle(req, res) || this.#admin.handle(req, res) || this.#metrics.handle(req, res) || this.#console.handle(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }

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
      this.log.warn({ ip: req.socket.remoteAddress, target: (req.url ?? '').slice(0, 200) }, 'HTTP request refused: bad request target');
      return false;
    }
  }

  /** Idempotent: instances get onAppStop(Application.Shutdown), clients are closed, ports released. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.log.info('server closing');
      await this.#watcher?.close();
      await this.instances.closeAll();
      await this.#rtmp.close();
      this.#flv.close(); // ends HTTP-FLV responses and WS-FLV sockets so the HTTP server can close
      this.#metrics.close();
      this.#logRoutes.close(); // ends live-log streams
      const httpClosed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
      this.#http.closeAllConnections(); // keep-alive sockets would hold close() open
      await httpClosed;
      this.log.info('server closed');
      this.log.flush();
    })();
    return this.#closing;
  }
}

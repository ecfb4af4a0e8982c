import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { RtmpScheme } from './client/client-transport.ts';
import type { ClusterPrimary } from './cluster/cluster-primary.ts';
import { HandedTransport } from './cluster/handed-transport.ts';
import type { ConnectionMessage, WorkerSettings } from './cluster/messages.ts';
import type { CertificateFiles } from './common/certificate-files.ts';
import { ConnectionGate } from './common/connection-gate.ts';
import type { Config } from './config.ts';
import { ErrorCode, FmsRuntimeError } from './errors.ts';
import type { AppCatalog } from './instances/app-catalog.ts';
import type { InstanceManager } from './instances/instance-manager.ts';
import { LiveLog } from './log/live-log.ts';
import { createRootLogger, type LineSink, type Logger } from './log/logger.ts';
import { RateLimitedLog } from './log/rate-limited-log.ts';
import { createStdoutSink } from './log/stdout-sink.ts';
import { AppWatcher } from './reload/app-watcher.ts';
import { AssemblyBudget } from './rtmp/assembly-budget.ts';
import { HANDED_OVER, type RtmpConnection } from './rtmp/connection.ts';
import { RtmpListener } from './rtmp/listener.ts';
import { RtmpeGate } from './rtmp/rtmpe.ts';
import { RtmptGateway } from './rtmp/rtmpt-gateway.ts';
import { SocketTransport } from './rtmp/transport.ts';
import { buildApplications } from './server/build-applications.ts';
import { clusterPrimary, listenWorkerHttp } from './server/distribution.ts';
import { HttpRoutes } from './server/http-routes.ts';
import { scriptFactory } from './server/script-factory.ts';
import { TlsDoors } from './server/tls-doors.ts';
import { checkSharedObjectFolders } from './shared-objects/data-dir-check.ts';

export interface ServerOptions {
  config: Config;
  /** Where log lines go (default stdout); tests pass a stream they parse. */
  logDestination?: NodeJS.WritableStream;
  /**
   * Process distribution: this server is a worker (runtime/server/worker-main.ts). It opens no
   * port; the primary hands it connections and HTTP egress requests, and watches the files.
   */
  worker?: WorkerSettings;
}

/**
 * Composition root: the only module (with its builders in runtime/server/) that wires protocol,
 * sessions, instances and sandbox together. Starts subsystems in order and closes them in reverse.
 */
export class Server {
  readonly config: Config;
  readonly log: Logger;
  /** Every log record, in byte-bounded rings (one per loaded instance, one shared), for the live-log endpoints. */
  readonly liveLog: LiveLog;
  /** The one rate-limited log of budgets hit (CONVENTIONS "Budgets"): one line per budget per interval. */
  readonly budgetLog: RateLimitedLog;
  readonly catalog: AppCatalog;
  readonly instances: InstanceManager;
  readonly #tls: TlsDoors;
  readonly #rtmp: RtmpListener;
  /** RTMPT on the HTTP port, RTMPTS on the HTTPS port. */
  readonly #rtmpt: RtmptGateway;
  readonly #routes: HttpRoutes;
  readonly #http: http.Server;
  /** Connections of the HTTP and HTTPS ports together (http.maxConnections, http.maxConnectionsPerIp). */
  readonly #httpGate: ConnectionGate;
  /** HTTPS, when configured (start()); the RTMPS server belongs to the RTMP listener. */
  #https: https.Server | null = null;
  readonly #watcher: AppWatcher | null;
  rtmpPort = 0;
  httpPort = 0;
  /** 0 while that door is closed. */
  rtmpsPort = 0;
  httpsPort = 0;
  #closing: Promise<void> | null = null;
  /** Process distribution, the primary's side (config distribute.processes > 1); null in one process or a worker. */
  readonly #cluster: ClusterPrimary | null;
  readonly #worker: WorkerSettings | null;

  constructor(options: ServerOptions) {
    this.config = options.config;
    this.#worker = options.worker ?? null;
    const limits = this.config.log;
    this.liveLog = new LiveLog(
      { ringBytes: limits.liveRingBytes, sharedRingBytes: limits.liveSharedRingBytes, recordMaxBytes: limits.liveRecordMaxBytes },
      // Records of names that are no loaded instance share one ring (a primary's instances live in its workers).
      (name) => (this.#cluster ? this.#cluster.hasInstance(name) : (this.instances?.has(name) ?? false)),
    );
    const logSink: LineSink = options.logDestination ?? createStdoutSink(limits.stdoutMaxBufferedBytes);
    this.log = createRootLogger(this.config.logLevel, logSink, this.liveLog, limits);
    this.budgetLog = new RateLimitedLog(this.log);
    this.#tls = new TlsDoors(this.config, this.log, this.budgetLog);
    const { catalog, instances, hlsDefaults } = buildApplications({
      config: this.config,
      log: this.log,
      budgetLog: this.budgetLog,
      createScript: scriptFactory({
        config: this.config,
        log: this.log,
        refusedHttpPorts: () => [this.httpPort],
        onDispatch: (instance, event, seconds) => this.#routes.metrics.observeDispatch(instance, event, seconds),
      }),
      ownPort: (scheme) => this.#ownPort(scheme),
      outboundTrust: () => this.#tls.outboundTrust,
      hls: () => this.#routes.hls,
    });
    this.catalog = catalog;
    this.instances = instances;
    this.#cluster = this.#worker
      ? null
      : clusterPrimary({
          config: this.config,
          log: this.log,
          catalog,
          liveLog: this.liveLog,
          logSink,
          routes: () => this.#routes,
          ports: () => ({ rtmp: this.rtmpPort, http: this.httpPort, rtmps: this.rtmpsPort, https: this.httpsPort }),
        });
    this.#rtmp = this.#rtmpListener();
    this.#rtmpt = new RtmptGateway(this.config.rtmpt, (transport) => this.#rtmp.accept(transport), this.log.child({ component: 'rtmpt' }));
    this.#routes = new HttpRoutes({
      config: this.config,
      log: this.log,
      liveLog: this.liveLog,
      budgetLog: this.budgetLog,
      catalog,
      instances,
      hlsDefaults,
      rtmpt: this.#rtmpt,
      server: {
        rtmpPort: () => this.rtmpPort,
        httpPort: () => this.httpPort,
        rtmpConnections: () => this.#rtmp.connectionCount,
        connectionsByTransport: () => this.#rtmp.connectionsByTransport(),
        ports: () => ({ rtmp: this.rtmpPort, http: this.httpPort, rtmps: this.rtmpsPort, https: this.httpsPort }),
        rtmptSessions: () => this.#rtmpt.sessionCount,
      },
      cluster: this.#cluster,
      behindPrimary: this.#worker !== null,
    });
    this.#http = http.createServer((req, res) => this.#routes.handle(req, res, 'http'));
    // One HTTP connection budget for the HTTP and HTTPS ports (players, RTMPT sessions, console, API).
    this.#httpGate = new ConnectionGate('http', this.config.http, this.budgetLog);
    // A worker's HTTP server takes only what its primary passes on (one local peer; the primary's gate counted the clients).
    if (!this.#worker) this.#httpGate.guard(this.#http);
    this.#http.on('upgrade', this.#routes.upgrade);
    this.#watcher = this.#appWatcher();
  }

  /** The RTMP and RTMPS ports (and RTMPT/RTMPE transports): a connection whose handshake is done becomes a client session. */
  #rtmpListener(): RtmpListener {
    const { rtmp } = this.config;
    const adopted = new WeakSet<object>();
    const assemblyBudget = new AssemblyBudget({ maxPerConnection: rtmp.maxAssemblyBytesPerConnection, maxTotal: rtmp.maxAssemblyBytesTotal }, this.budgetLog);
    const cluster = this.#cluster;
    return new RtmpListener(
      {
        ...rtmp,
        assemblyBudget,
        ...(this.config.rtmpe.enabled ? { rtmpe: new RtmpeGate(this.config.rtmpe.maxHandshakesPerSec) } : {}),
        // A primary hands each connection to a worker with what it read after the handshake: the
        // connect command (budget rtmp.maxConnectBytes) and the few protocol messages around it.
        ...(cluster ? { keepInputForHandOffBytes: rtmp.maxConnectBytes + 64 * 1024 } : {}),
      },
      (connection) => {
        adopted.add(connection);
        // A primary's sessions read and check their connect as in one process, then go to the worker owning the instance.
        this.instances.adopt(connection, cluster ? (session) => cluster.handOver(session) : undefined);
      },
      (connection, reason, error) => {
        if (reason === HANDED_OVER) return; // a worker goes on with it (and counts its bytes)
        this.#routes.metrics.connectionClosed(connection.bytesIn, connection.bytesOut); // byte counters never go down
        // A client session logs its own end; this is the one line of a connection that never got one.
        if (!adopted.has(connection)) {
          const code = (error as { code?: string } | undefined)?.code;
          this.log.warn({ ip: connection.remoteAddress, transport: connection.transportName, reason, code, err: error?.message }, 'connection closed during handshake');
        }
      },
      new ConnectionGate('rtmp', rtmp, this.budgetLog),
    );
  }

  /** Hot reload on script changes (reload.watch): the changed app, or every app that ran a changed library. */
  #appWatcher(): AppWatcher | null {
    if (!this.config.reload.watch) return null;
    const watcher = new AppWatcher(this.config.appsDir, this.config.reload.debounceMs, this.config.scripts.libPaths);
    watcher.on('changed', (appName) => {
      this.log.info({ appName }, 'application scripts changed; reloading');
      this.#watchedReload(appName);
    });
    watcher.on('libraryChanged', (file) => {
      if (this.#cluster) {
        this.log.info({ file }, 'script library changed; reloading the apps that use it in every worker');
        this.#cluster.reloadLibrary(file, this.config.reload.mode).catch((error: unknown) => this.log.error({ file, err: (error as Error)?.message }, 'hot reload failed unexpectedly'));
        return;
      }
      for (const appName of this.instances.appsUsing(file)) {
        this.log.info({ appName, file }, 'script library changed; reloading');
        this.#watchedReload(appName);
      }
    });
    watcher.on('error', (error) => this.log.warn({ err: error.message }, 'application watcher error'));
    return watcher;
  }

  /** A reload the watcher started: nobody awaits it, so a host bug in it is logged, never unhandled. */
  #watchedReload(appName: string): void {
    const mode = this.config.reload.mode;
    (this.#cluster ? this.#cluster.reload(appName, mode) : this.instances.reloadApp(appName, mode)).catch((error: unknown) => {
      this.log.error({ appName, err: (error as Error)?.message }, 'hot reload failed unexpectedly');
    });
  }

  /** A worker: the answer of this process's admin API to one route (the primary merges them). */
  adminReply(method: string, path: string): Promise<{ status: number; body: unknown }> {
    return this.#routes.admin.reply(method, path);
  }

  /** A worker: this process's metrics as prom-client JSON (the primary aggregates them). */
  metricsJson(): Promise<unknown> {
    return this.#routes.metrics.json();
  }

  /**
   * A worker: a client the primary handed over after its connect (its socket, or the worker's end
   * of a local pair for a session the primary terminates), with the bytes the primary read.
   */
  adoptHanded(socket: Socket, message: ConnectionMessage): RtmpConnection {
    return this.#rtmp.resume(new HandedTransport(socket, message.client), message, message.replay);
  }

  async start(): Promise<void> {
    // Certificates and CA files first: a bad one is a start-up error listing every problem, before any port is bound.
    const { rtmpsCert, httpsCert } = this.#tls.load();
    // Where persistent shared objects go: one folder with --data, else each app's own (FMS layout).
    const soFolders = this.config.dataDir ? [path.join(this.config.dataDir, 'sharedobjects')] : this.catalog.list().map((app) => path.join(this.catalog.appsDir, app, 'sharedobjects'));
    if (this.#worker) return this.#startWorker(this.#worker); // the primary checked the folders
    checkSharedObjectFolders(soFolders, this.log);
    this.rtmpPort = await this.#rtmp.listen(this.config.rtmp.port, this.config.rtmp.host);
    if (rtmpsCert) this.rtmpsPort = await this.#startRtmps(rtmpsCert);
    this.httpPort = await listenHttp(this.#http, this.config.http.port, this.config.http.host, 'HTTP');
    if (httpsCert) {
      const server = https.createServer({ ...this.#tls.options(httpsCert.pair) }, (req, res) => this.#routes.handle(req, res, 'https'));
      this.#httpGate.guard(server); // one budget for both HTTP ports
      server.on('upgrade', this.#routes.upgrade);
      this.#tls.serve(httpsCert, server, 'https');
      this.#https = server;
      this.httpsPort = await listenHttp(server, this.config.https.port, this.config.https.host, 'HTTPS');
    }
    await this.#watcher?.start();
    if (this.#cluster) await this.#cluster.start(); // the workers start LoadOnStartup instances
    else {
      for (const appName of this.catalog.list()) {
        if (this.catalog.lookup(appName)?.settings?.loadOnStartup) void this.instances.loadOnStartup(appName);
      }
    }
    this.log.info(
      {
        rtmpPort: this.rtmpPort,
        httpPort: this.httpPort,
        ...(this.rtmpsPort ? { rtmpsPort: this.rtmpsPort } : {}),
        ...(this.httpsPort ? { httpsPort: this.httpsPort } : {}),
        rtmpt: this.config.rtmpt.enabled,
        rtmpe: this.config.rtmpe.enabled,
        ...(this.#cluster ? { processes: this.config.distribute.processes, scope: this.config.distribute.scope } : {}),
        apps: this.catalog.list(),
        appsDir: this.catalog.appsDir,
      },
      'server listening',
    );
  }

  /**
   * A worker opens no port: it knows the primary's (loopback NetConnection URIs without a port go
   * there) and serves the egress requests the primary passes on over a Unix socket of its own.
   */
  async #startWorker(settings: WorkerSettings): Promise<void> {
    ({ rtmp: this.rtmpPort, http: this.httpPort, rtmps: this.rtmpsPort, https: this.httpsPort } = settings.ports);
    await listenWorkerHttp(this.#http, settings.httpSocketPath);
    this.log.info({ worker: settings.index }, 'worker started');
  }

  /** RTMPS: a TLS server whose sockets become 'tls' transports of the one RTMP listener. */
  async #startRtmps(certificate: CertificateFiles): Promise<number> {
    const { host, port } = this.config.rtmps;
    const server = tls.createServer(this.#tls.options(certificate.pair), (socket) => {
      this.#rtmp.accept(new SocketTransport(socket, 'tls'));
    });
    this.#tls.serve(certificate, server, 'rtmps');
    return this.#rtmp.serve(server, port, host, 'RTMPS');
  }

  /** This server's port for a scheme (loopback NetConnection URIs without a port); 0 = not served. */
  #ownPort(scheme: RtmpScheme): number {
    switch (scheme) {
      case 'rtmp':
        return this.rtmpPort;
      case 'rtmpe':
        return this.config.rtmpe.enabled ? this.rtmpPort : 0;
      case 'rtmps':
        return this.rtmpsPort;
      case 'rtmpt':
        return this.config.rtmpt.enabled ? this.httpPort : 0;
      case 'rtmpte':
        return this.config.rtmpt.enabled && this.config.rtmpe.enabled ? this.httpPort : 0;
      case 'rtmpts':
        return this.config.rtmpt.enabled ? this.httpsPort : 0;
    }
  }

  /** Idempotent: instances get onAppStop(Application.Shutdown), clients are closed, ports released. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.log.info('server closing');
      await this.#watcher?.close();
      await this.instances.closeAll();
      await this.#cluster?.close(); // workers shut their instances down (onAppStop) and close their clients
      this.#tls.close();
      await this.#rtmp.close(); // the RTMPS server too
      this.#rtmpt.close();
      this.#routes.close(); // ends FLV players, blocked HLS requests and live-log streams so the HTTP servers can close
      const httpServers = [this.#http, ...(this.#https ? [this.#https] : [])].filter((server) => server.listening);
      const httpClosed = httpServers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
      for (const server of httpServers) server.closeAllConnections(); // keep-alive sockets would hold close() open
      await Promise.all(httpClosed);
      this.log.info('server closed');
      this.log.flush();
    })();
    return this.#closing;
  }
}

function listenHttp(server: http.Server, port: number, host: string, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', (error) => reject(new FmsRuntimeError(ErrorCode.ListenFailed, `${what} listen on ${host}:${port} failed: ${error.message}`, { cause: error })));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

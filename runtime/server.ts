import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { RtmpScheme } from './client/client-transport.ts';
import { readCaFiles, trustedContext } from './client/tls-trust.ts';
import { CertificateFiles, type CertificatePair } from './common/certificate-files.ts';
import type { Config } from './config.ts';
import { ErrorCode, FmsRuntimeError } from './errors.ts';
import { ConnectionGate } from './common/connection-gate.ts';
import { LiveLog } from './log/live-log.ts';
import { RateLimitedLog } from './log/rate-limited-log.ts';
import { AssemblyBudget } from './rtmp/assembly-budget.ts';
import { createRootLogger, type Logger } from './log/logger.ts';
import { createStdoutSink } from './log/stdout-sink.ts';
import { AppCatalog } from './instances/app-catalog.ts';
import { AppSettingsReader } from './instances/application-xml.ts';
import type { ScriptFactory } from './instances/app-instance.ts';
import { InstanceManager } from './instances/instance-manager.ts';
import { NoScript } from './instances/no-script.ts';
import { RtmpListener } from './rtmp/listener.ts';
import { RtmpeGate } from './rtmp/rtmpe.ts';
import { RtmptGateway } from './rtmp/rtmpt-gateway.ts';
import { SocketTransport } from './rtmp/transport.ts';
import { AppWatcher } from './reload/app-watcher.ts';
import { LiveLogRoutes } from './admin/live-log-routes.ts';
import { AdminApi, type AdminSource } from './admin/admin-api.ts';
import { Metrics } from './admin/metrics.ts';
import { ConsoleRoutes } from './admin/console-routes.ts';
import { FlvEgress } from './media/flv-egress.ts';
import { HlsEgress } from './media/hls/hls-egress.ts';
import { hlsSettingsOf } from './media/hls/hls-settings.ts';
import { VodHls } from './media/hls/vod-hls.ts';
import { parseStreamName } from './media/stream-registry.ts';
import { recordedFileOf } from './instances/app-instance.ts';
import { findAppScript } from './sandbox/script-loader.ts';
import { Sandbox } from './sandbox/sandbox.ts';

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
  /** Every log record, in byte-bounded rings (one per loaded instance, one shared), for the live-log endpoints. */
  readonly liveLog: LiveLog;
  /** The one rate-limited log of budgets hit (CONVENTIONS "Budgets"): one line per budget per interval. */
  readonly budgetLog: RateLimitedLog;
  readonly catalog: AppCatalog;
  readonly instances: InstanceManager;
  readonly #rtmp: RtmpListener;
  /** RTMPT on the HTTP port, RTMPTS on the HTTPS port. */
  readonly #rtmpt: RtmptGateway;
  readonly #http: http.Server;
  /** Connections of the HTTP and HTTPS ports together (http.maxConnections, http.maxConnectionsPerIp). */
  readonly #httpGate: ConnectionGate;
  /** HTTPS, when configured (start()); the RTMPS server belongs to the RTMP listener. */
  #https: https.Server | null = null;
  readonly #certificates: CertificateFiles[] = [];
  /** Trust for server-side rtmps:// and rtmpts:// NetConnections (outbound.caFiles), set in start(). */
  #outboundTrust: tls.SecureContext | undefined;
  readonly #watcher: AppWatcher | null;
  readonly #logRoutes: LiveLogRoutes;
  // HTTP routes besides /api/server's old home: browser egress, admin API, Prometheus metrics.
  readonly #flv: FlvEgress;
  readonly #hls: HlsEgress;
  readonly #admin: AdminApi;
  readonly #metrics: Metrics;
  readonly #console: ConsoleRoutes;
  rtmpPort = 0;
  httpPort = 0;
  /** 0 while that door is closed. */
  rtmpsPort = 0;
  httpsPort = 0;
  #closing: Promise<void> | null = null;

  constructor(options: ServerOptions) {
    this.config = options.config;
    const limits = this.config.log;
    this.liveLog = new LiveLog(
      { ringBytes: limits.liveRingBytes, sharedRingBytes: limits.liveSharedRingBytes, recordMaxBytes: limits.liveRecordMaxBytes },
      (name) => this.instances?.has(name) ?? false, // records of names that are no loaded instance share one ring
    );
    this.log = createRootLogger(this.config.logLevel, options.logDestination ?? createStdoutSink(limits.stdoutMaxBufferedBytes), this.liveLog, limits);
    this.budgetLog = new RateLimitedLog(this.log);
    // Application.xml / Vhost.xml: per-app script limits, idle time, load on startup, stream folders.
    const hlsDefaults = hlsSettingsOf(this.config.hls);
    const settings = new AppSettingsReader(this.config.appsDir, { ...this.config.scripts, hls: hlsDefaults }, (issue) =>
      this.log.warn({ file: issue.file, element: issue.element }, `Application.xml: ${issue.reason}`),
    );
    this.catalog = new AppCatalog(this.config.appsDir, findAppScript, (dir) => settings.read(dir));
    const { rtmp, media, scripts, http: httpConfig, instances: instanceCaps } = this.config;
    this.instances = new InstanceManager(
      this.catalog,
      {
        network: {
          ownPort: (scheme) => this.#ownPort(scheme),
          secureContext: () => this.#outboundTrust,
        },
        // FMS keeps them in the application's folder; --data gathers every app's under one folder
        // (app names are plain folder names: AppCatalog refuses anything else).
        sharedObjectsDir: (app) => (this.config.dataDir ? path.join(this.config.dataDir, 'sharedobjects', app.name) : path.join(app.dir, 'sharedobjects')),
        idleUnloadSec: scripts.idleUnloadSec,
        gopCacheMaxBytes: media.gopCacheMaxBytes,
        playerMaxBufferedBytes: media.playerMaxBufferedBytes,
        onStreamPublish: (instance, stream) => this.#hls.streamPublished({ app: instance.def.name, instance: instance.instanceName, stream: stream.name }),
        packageHls: (instance, name, on) => this.#hls.pin({ app: instance.def.name, instance: instance.instanceName, stream: name }, on),
      },
      {
        arguments: { maxNameChars: rtmp.maxNameChars, maxUrlChars: rtmp.maxUrlChars, maxConnectBytes: rtmp.maxConnectBytes },
        connectTimeoutMs: rtmp.connectTimeoutMs,
        idleTimeoutMs: rtmp.idleTimeoutSec * 1000,
        maxInstancesPerApp: instanceCaps.maxPerApp,
        maxInstancesTotal: instanceCaps.maxTotal,
        budgetLog: this.budgetLog,
      },
      this.#scriptFactory,
      this.log,
    );
    const adopted = new WeakSet<object>();
    const assemblyBudget = new AssemblyBudget({ maxPerConnection: rtmp.maxAssemblyBytesPerConnection, maxTotal: rtmp.maxAssemblyBytesTotal }, this.budgetLog);
    this.#rtmp = new RtmpListener(
      { ...rtmp, assemblyBudget, ...(this.config.rtmpe.enabled ? { rtmpe: new RtmpeGate(this.config.rtmpe.maxHandshakesPerSec) } : {}) },
      (connection) => {
        adopted.add(connection);
        this.instances.adopt(connection);
      },
      (connection, reason, error) => {
        this.#metrics.connectionClosed(connection.bytesIn, connection.bytesOut); // byte counters never go down
        // Sessions log their own end; this covers connections that failed during the handshake.
        if (!adopted.has(connection)) {
          const code = (error as { code?: string } | undefined)?.code;
          this.log.warn({ ip: connection.remoteAddress, transport: connection.transportName, reason, code, err: error?.message }, 'connection closed during handshake');
        }
      },
      new ConnectionGate('rtmp', rtmp, this.budgetLog),
    );
    this.#rtmpt = new RtmptGateway(this.config.rtmpt, (transport) => this.#rtmp.accept(transport), this.log.child({ component: 'rtmpt' }));
    this.#http = http.createServer((req, res) => this.#onHttp(req, res, 'http'));
    // One HTTP connection budget for the HTTP and HTTPS ports (players, RTMPT sessions, console, API).
    this.#httpGate = new ConnectionGate('http', httpConfig, this.budgetLog);
    this.#httpGate.guard(this.#http);
    this.#http.on('upgrade', this.#onUpgrade);
    // --- HTTP egress and admin (flv-egress, admin-api, metrics) ---
    this.#flv = new FlvEgress({
      maxBufferedBytes: media.playerMaxBufferedBytes,
      maxOutputBytes: httpConfig.playerMaxOutputBytes,
      budgetLog: this.budgetLog,
      log: this.log.child({ component: 'http-flv' }),
      lookup: (app, instanceName, streamName) => {
        const instance = this.instances.instances.find((i) => i.name === `${app}/${instanceName}`);
        const stream = instance?.streams.get(streamName);
        return instance && stream ? { stream, release: () => instance.streams.release(stream) } : null;
      },
    });
    // HLS/LL-HLS of live streams and VOD HLS of recordings (runtime/media/hls/README.md).
    const { hls } = this.config;
    this.#hls = new HlsEgress({
      budgets: hls,
      log: this.log.child({ component: 'hls' }),
      lookup: (app, instanceName, streamName) => {
        const instance = this.instances.instances.find((i) => i.name === `${app}/${instanceName}`);
        const stream = instance?.streams.get(parseStreamName(streamName).name);
        return instance && stream ? { stream, settings: instance.def.settings?.hls ?? hlsDefaults, release: () => instance.streams.release(stream) } : null;
      },
      vod: new VodHls(
        (app, instanceName, streamName) => {
          const def = this.catalog.lookup(app);
          const file = def ? recordedFileOf(def, instanceName, parseStreamName(streamName).name) : null;
          return def && file ? { file, settings: def.settings?.hls ?? hlsDefaults } : null;
        },
        { maxIndexedFiles: hls.vodMaxIndexedFiles, maxIndexing: hls.vodMaxIndexing, maxSegmentBytes: hls.vodMaxSegmentBytes },
        this.log.child({ component: 'hls' }),
      ),
    });
    const startedAt = Date.now();
    const adminSource: AdminSource = {
      startedAt,
      rtmpPort: () => this.rtmpPort,
      httpPort: () => this.httpPort,
      rtmpConnections: () => this.#rtmp.connectionCount,
      connectionsByTransport: () => this.#rtmp.connectionsByTransport(),
      ports: () => ({ rtmp: this.rtmpPort, http: this.httpPort, rtmps: this.rtmpsPort, https: this.httpsPort }),
      rtmptSessions: () => this.#rtmpt.sessionCount,
      apps: () => this.catalog.list(),
      instances: () => this.instances.instances,
      httpFlv: () => this.#flv.stats,
      hls: () => this.#hls.stats,
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
    this.#logRoutes = new LiveLogRoutes(this.liveLog, { token: adminToken, log: adminLog, maxBufferedBytes: httpConfig.liveLogMaxBufferedBytes, budgetLog: this.budgetLog });
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
      remoting: scripts.remoting,
      refusedHttpPorts: () => [this.httpPort],
      hooks,
      onFatal,
      logger: this.log.child({ app: `${def.name}/${instanceName}` }),
      maxTextChars: this.config.log.maxMessageChars,
      onDispatch: (event, seconds) => this.#metrics.observeDispatch(`${def.name}/${instanceName}`, event, seconds),
    });
  };

  async start(): Promise<void> {
    // Certificates and CA files first: a bad one is a start-up error listing every problem, before any port is bound.
    const { rtmpsCert, httpsCert } = this.#loadCertificates();
    this.rtmpPort = await this.#rtmp.listen(this.config.rtmp.port, this.config.rtmp.host);
    if (rtmpsCert) this.rtmpsPort = await this.#startRtmps(rtmpsCert);
    this.httpPort = await listenHttp(this.#http, this.config.http.port, this.config.http.host, 'HTTP');
    if (httpsCert) {
      const server = https.createServer({ ...this.#tlsOptions(httpsCert.pair) }, (req, res) => this.#onHttp(req, res, 'https'));
      this.#httpGate.guard(server); // one budget for both HTTP ports
      server.on('upgrade', this.#onUpgrade);
      server.on('tlsClientError', (error, socket) => this.#tlsFailed('https', error, socket));
      this.#followCertificate(httpsCert, server, 'https');
      this.#https = server;
      this.httpsPort = await listenHttp(server, this.config.https.port, this.config.https.host, 'HTTPS');
    }
    await this.#watcher?.start();
    for (const appName of this.catalog.list()) {
      if (this.catalog.lookup(appName)?.settings?.loadOnStartup) void this.instances.loadOnStartup(appName);
    }
    this.log.info(
      {
        rtmpPort: this.rtmpPort,
        httpPort: this.httpPort,
        ...(this.rtmpsPort ? { rtmpsPort: this.rtmpsPort } : {}),
        ...(this.httpsPort ? { httpsPort: this.httpsPort } : {}),
        rtmpt: this.config.rtmpt.enabled,
        rtmpe: this.config.rtmpe.enabled,
        apps: this.catalog.list(),
        appsDir: this.catalog.appsDir,
      },
      'server listening',
    );
  }

  /** Reads rtmps/https certificates and outbound CA files; throws listing every problem. */
  #loadCertificates(): { rtmpsCert: CertificateFiles | null; httpsCert: CertificateFiles | null } {
    const problems: string[] = [];
    const { rtmps, https: httpsConfig, outbound } = this.config;
    const rtmpsCert = rtmps.cert && rtmps.key ? new CertificateFiles(rtmps.cert, rtmps.key, 'rtmps') : null;
    const ownHttpsCert = httpsConfig.enabled && httpsConfig.cert && httpsConfig.key ? new CertificateFiles(httpsConfig.cert, httpsConfig.key, 'https') : null;
    const httpsCert = httpsConfig.enabled ? (ownHttpsCert ?? rtmpsCert) : null;
    if (httpsConfig.enabled && !httpsCert) problems.push('https.enabled: needs a certificate (https.cert/https.key or rtmps.cert/rtmps.key)');
    for (const files of [rtmpsCert, ownHttpsCert]) {
      if (!files) continue;
      files.load(problems);
      this.#certificates.push(files);
    }
    const caPems = readCaFiles(outbound.caFiles, problems, 'outbound.caFiles');
    if (problems.length > 0) throw new FmsRuntimeError(ErrorCode.TlsCertificateInvalid, `TLS configuration:\n  - ${problems.join('\n  - ')}`);
    this.#outboundTrust = caPems.length > 0 ? trustedContext(caPems) : undefined;
    for (const files of this.#certificates) {
      const { subject, validTo, fingerprint256 } = files.pair;
      if (Date.parse(validTo) < Date.now()) this.log.warn({ cert: files.certPath, subject, validTo, code: ErrorCode.TlsCertificateInvalid }, 'TLS certificate has expired');
      else this.log.info({ cert: files.certPath, subject, validTo, fingerprint256 }, 'TLS certificate loaded');
    }
    return { rtmpsCert, httpsCert };
  }

  /** RTMPS: a TLS server whose sockets become 'tls' transports of the one RTMP listener. */
  async #startRtmps(certificate: CertificateFiles): Promise<number> {
    const { host, port } = this.config.rtmps;
    const server = tls.createServer(this.#tlsOptions(certificate.pair), (socket) => {
      this.#rtmp.accept(new SocketTransport(socket, 'tls'));
    });
    server.on('tlsClientError', (error, socket) => this.#tlsFailed('rtmps', error, socket));
    this.#followCertificate(certificate, server, 'rtmps');
    return this.#rtmp.serve(server, port, host, 'RTMPS');
  }

  #tlsOptions(pair: CertificatePair): tls.TlsOptions {
    return { cert: pair.cert, key: pair.key, handshakeTimeout: this.config.tls.handshakeTimeoutMs, maxVersion: this.config.tls.maxVersion };
  }

  /** New connections get a renewed certificate; established ones keep theirs. */
  #followCertificate(files: CertificateFiles, server: tls.Server, door: 'rtmps' | 'https'): void {
    files.on('changed', (pair: CertificatePair) => {
      server.setSecureContext({ cert: pair.cert, key: pair.key, maxVersion: this.config.tls.maxVersion });
      this.log.info({ door, cert: files.certPath, subject: pair.subject, validTo: pair.validTo, fingerprint256: pair.fingerprint256 }, 'TLS certificate reloaded');
    });
    files.on('invalid', (reason) => this.log.warn({ door, cert: files.certPath, code: ErrorCode.TlsCertificateInvalid, reason }, 'TLS certificate change refused; keeping the previous one'));
    files.watch();
  }

  /** A TLS handshake failed or timed out; Node leaves the socket open once 'tlsClientError' has a listener. */
  #tlsFailed(door: 'rtmps' | 'https', error: Error, socket: tls.TLSSocket): void {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    socket.destroy();
    // At most once per 10 s per port: scanners send plenty.
    this.budgetLog.warn(`tls.${door}`, { door, ip, code: ErrorCode.TlsHandshakeFailed, err: (error as { code?: string }).code ?? error.message }, 'TLS handshake failed');
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

  /** WS-FLV playback is the only WebSocket route; any other upgrade is refused. */
  readonly #onUpgrade = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy()); // a reset before or during the handshake is no server error
    if (!this.#validTarget(req)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    if (!this.#flv.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
  };

  #onHttp(req: http.IncomingMessage, res: http.ServerResponse, kind: 'http' | 'https'): void {
    if (!this.#validTarget(req)) {
      res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' });
      res.end('bad request target\n');
      return;
    }
    // RTMPT (POST /open|send|idle|close|fcs), HTTP-FLV and HLS playback, then admin JSON (/api/*,
    // /admin/*, incl. /api/server), then /metrics, then the console page (and / → /console).
    if (this.#rtmpt.handle(req, res, kind)) return;
    if (this.#flv.handle(req, res) || this.#hls.handle(req, res) || this.#logRoutes.handle(req, res) || this.#admin.handle(req, res) || this.#metrics.handle(req, res) || this.#console.handle(req, res)) return;
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
      for (const files of this.#certificates) files.close();
      await this.#rtmp.close(); // the RTMPS server too
      this.#rtmpt.close();
      this.#flv.close(); // ends HTTP-FLV responses and WS-FLV sockets so the HTTP server can close
      this.#hls.close(); // answers blocked HLS requests, stops packaging
      this.#metrics.close();
      this.#logRoutes.close(); // ends live-log streams
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

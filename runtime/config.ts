import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.ts';
import { LOG_LEVELS } from './log/logger.ts';
import type { HlsBudgets } from './media/hls/hls-egress.ts';
import { PACKAGING_MODES, type HlsSettings } from './media/hls/hls-settings.ts';
import type { LevelWithSilent } from 'pino';

/** Every setting, with units in the names. Embedded defaults make a config file optional. */
export interface Config {
  appsDir: string;
  /**
   * Where the server writes what must outlive it (persistent shared objects:
   * <dataDir>/sharedobjects/<app>/<instance>/<name>.fso.json). '' = FMS's layout, inside each
   * application's own folder: <appsDir>/<app>/sharedobjects/<instance>/<name>.fso.json.
   */
  dataDir: string;
  logLevel: LevelWithSilent;
  /**
   * SIGTERM/SIGINT: the longest a clean stop (instances unloaded, shared objects written, sockets
   * closed) may take; past it the process logs that and ends itself anyway.
   */
  shutdownTimeoutMs: number;
  rtmp: {
    host: string;
    port: number;
    handshakeTimeoutMs: number;
    /** How long a connect may stay pending (script undecided) before it is rejected. */
    connectTimeoutMs: number;
    maxMessageBytes: number;
    maxChunkStreams: number;
    windowAckSizeBytes: number;
    maxOutputBufferBytes: number;
    /** Open accepted connections in total, and from one IP address (over: the socket is closed at once). */
    maxConnections: number;
    maxConnectionsPerIp: number;
    /** A connected client that sends nothing this long, even after a ping, gets NetConnection.Connect.IdleTimeout. */
    idleTimeoutSec: number;
    /** Bytes of partly received messages held for one connection, and for all of them. */
    maxAssemblyBytesPerConnection: number;
    maxAssemblyBytesTotal: number;
    /** App, instance, stream and method names (with their query strings). */
    maxNameChars: number;
    /** tcUrl, swfUrl, pageUrl and every other string of the connect object. */
    maxUrlChars: number;
    /** The whole connect command (object and extra arguments), checked before it is decoded. */
    maxConnectBytes: number;
  };
  /** RTMPS: RTMP inside TLS on its own port; off until `cert` and `key` name PEM files. */
  rtmps: {
    host: string;
    port: number;
    /** PEM certificate (chain) file; re-read when it changes on disk (new connections get the new one). */
    cert: string;
    /** PEM private key file of `cert`. */
    key: string;
  };
  /** What the TLS doors (RTMPS and HTTPS ports) share. */
  tls: {
    /** A TLS handshake not done within this long is dropped. */
    handshakeTimeoutMs: number;
    /**
     * Highest TLS version offered. 'TLSv1.2' by default: librtmp with GnuTLS (rtmpdump and the apps
     * built on it) breaks on TLS 1.3's post-handshake messages, and FMS-era clients speak 1.2 at most.
     * 'TLSv1.3' when none of your clients needs that.
     */
    maxVersion: 'TLSv1.2' | 'TLSv1.3';
  };
  http: {
    /** Browser egress (HTTP-FLV), RTMPT and, on 127.0.0.1 unless configured, admin endpoints. */
    host: string;
    port: number;
    /** Bearer token for the admin API, live log and /metrics; '' = loopback clients only. */
    adminToken: string;
    /** Open connections in total, and from one IP address (over: the socket is closed at once). */
    maxConnections: number;
    maxConnectionsPerIp: number;
    /** An HTTP-FLV / WS-FLV player with more than this unsent is cut off. */
    playerMaxOutputBytes: number;
    /** A live-log (SSE) subscriber with more than this unsent gets records dropped, then a `dropped` event. */
    liveLogMaxBufferedBytes: number;
  };
  instances: {
    /** Loaded instances of one application, and of all; a connect beyond it is rejected (idle ones are unloaded first). */
    maxPerApp: number;
    maxTotal: number;
  };
  log: {
    /** Every log message (trace() text, script errors) is cut here, with a "…[truncated N chars]" marker. */
    maxMessageChars: number;
    /** Every string field of a log record, likewise. */
    maxFieldChars: number;
    /** Live-log memory: JSON bytes kept per loaded instance, for all other records, and per record. */
    liveRingBytes: number;
    liveSharedRingBytes: number;
    liveRecordMaxBytes: number;
    /** Log bytes a pipe/socket stdout (a log collector) may fall behind before lines are dropped and counted. */
    stdoutMaxBufferedBytes: number;
  };
  /** The HTTP routes (egress, RTMPTS, admin) over TLS on a second port; needs a certificate. */
  https: {
    enabled: boolean;
    host: string;
    port: number;
    /** PEM files; empty = RTMPS's certificate (rtmps.cert/rtmps.key). */
    cert: string;
    key: string;
  };
  /** RTMPT (RTMP tunnelled in HTTP POSTs) on the HTTP port, RTMPTS on the HTTPS port. */
  rtmpt: {
    enabled: boolean;
    /** Open RTMPT sessions at most; /open beyond it is answered 503. */
    maxSessions: number;
    /** A session without a request for this long is closed. */
    idleTimeoutMs: number;
    /** An idle poll with nothing to send waits up to this long for server bytes before an empty answer. */
    pollHoldMs: number;
    /** Largest request body (one /send); larger is answered 413 and ends that session. */
    maxRequestBytes: number;
  };
  /** RTMPE / RTMPTE (Adobe's encrypted RTMP: obfuscation, not security — prefer RTMPS). */
  rtmpe: {
    enabled: boolean;
    /** RTMPE handshakes admitted per second (each costs two 1024-bit exponentiations); more are closed. */
    maxHandshakesPerSec: number;
  };
  /** Server-side NetConnections to other servers. */
  outbound: {
    /** PEM CA certificates trusted for rtmps:// and rtmpts:// besides Node's and the system's. */
    caFiles: string[];
  };
  /**
   * FMS-style process distribution (Server.xml `Distribute numprocs`): application instances run in
   * `processes` worker processes; the primary process keeps every port and hands each client to the
   * worker that owns its instance. 1 = everything in one process (the default).
   */
  distribute: {
    processes: number;
    /** What one worker owns: single instances ('instance'), or every instance of an app ('app'). */
    scope: 'app' | 'instance';
    /** A worker that died is started again after this long, doubled for each crash in a row (up to 30 s). */
    restartDelayMs: number;
  };
  media: {
    gopCacheMaxBytes: number;
    /** A player whose unsent backlog exceeds this drops media until the next keyframe. */
    playerMaxBufferedBytes: number;
  };
  sharedObjects: {
    /** Largest slot (name and value, as stored); a bigger change is refused (client: reject; script: false). */
    maxSlotBytes: number;
    /**
     * Largest shared object, as stored: a change that would make it bigger is refused. Loading uses
     * the same figure, so what was accepted can always be loaded back.
     */
    maxObjectBytes: number;
    /** Shared-object data clients may hold in one instance; beyond it their changes and new SOs are refused. */
    maxInstanceBytes: number;
  };
  /**
   * HLS / LL-HLS packaging and routes (runtime/media/hls/README.md): the per-app settings (Application.xml
   * <HLS> overrides them), the egress budgets and timers, the VOD budgets as `vod<Name>`.
   */
  hls: HlsSettings & HlsBudgets & { vodMaxIndexedFiles: number; vodMaxIndexing: number; vodMaxSegmentBytes: number };
  reload: {
    /** Watch the applications folder and hot-reload apps whose scripts change (--no-watch turns it off). */
    watch: boolean;
    debounceMs: number;
    /**
     * 'carry' (default): connected clients and live streams stay; the new script gets onAppStart,
     * then onConnect/onPublish replayed for them. 'restart': FMS-style, clients get
     * NetConnection.Connect.AppShutdown and reconnect to the new version.
     */
    mode: 'carry' | 'restart';
  };
  scripts: {
    memoryLimitMb: number;
    handlerTimeoutMs: number;
    /** FMS MaxAppIdleTime: unload an instance this long after its last client left. */
    idleUnloadSec: number;
    /**
     * The longest an unload (idle GC, application.shutdown(), admin unload, reload restart, server
     * stop) waits for the script: its queued events, onAppStop and onDisconnect together. Then the
     * isolate is disposed and the unload completes.
     */
    unloadTimeoutMs: number;
    exposeJson: boolean;
    exposeSetTimeout: boolean;
    libPaths: string[];
    /**
     * FMS `<FileObject><VirtualDirectory>` entries, "/virtual;/native/dir": a script's File path under
     * /virtual resolves in that (absolute) native folder instead of the application folder.
     */
    fileVirtualDirectories: string[];
    /**
     * Host memory one instance's script causes outside its isolate: shared-object slots it wrote,
     * open-file buffers, outbound connection queues, timers. Over it the instance is shut down like
     * an isolate out of memory (clients get NetConnection.Connect.AppShutdown).
     */
    hostMemoryMb: number;
    /** Largest script file (main.asc, a load()ed file) read; a bigger one fails to load. */
    maxScriptBytes: number;
    /** Largest read or write of one File call; a bigger one fails (null / false). */
    fileMaxIoBytes: number;
    /** Most entries File.list() returns; a bigger folder answers null. */
    fileMaxListEntries: number;
    /**
     * Longest a script waits for file work the host does off its event loop while the script sees a
     * synchronous call (so.flush(), File.list/remove/copyTo/renameTo/mkdir, load() from a handler);
     * then the call answers its failure value.
     */
    ioWaitMs: number;
    /** Server-side NetConnections one instance may have open (connecting or connected) at once. */
    maxOutboundConnections: number;
    /** LoadVars / XML HTTP requests made by scripts. */
    http: {
      /** Host names (or "*.example.com") scripts may reach besides loopback, which is always allowed. */
      allowHosts: string[];
      timeoutMs: number;
      /** Largest response body a script may receive; bigger ones fail with onLoad(false). */
      maxBytes: number;
    };
    /**
     * Flash Remoting (server-side NetConnection to an http(s):// gateway): the HTTP rules are
     * scripts.http's (hosts, timeout); these bound what a script can queue and receive.
     */
    remoting: {
      /** Gateway requests (AMF packets) in flight per instance; later packets wait their turn. */
      maxRequestsInFlight: number;
      /** Calls waiting to be sent per instance; beyond it nc.call returns false and the responder hears Call.Failed. */
      maxQueuedCalls: number;
      /** Calls batched into one packet (one script turn's calls on one connection). */
      maxCallsPerPacket: number;
      /** Largest gateway answer; a bigger one fails every call of its packet. */
      maxResponseBytes: number;
    };
  };
}

const RELOAD_MODES: readonly string[] = ['carry', 'restart'];
const DISTRIBUTE_SCOPES: readonly string[] = ['app', 'instance'];
/** More worker processes than this is surely a typo (FMS capped numprocs too). */
const MAX_PROCESSES = 64;
const TLS_VERSIONS: readonly string[] = ['TLSv1.2', 'TLSv1.3'];

export const DEFAULT_CONFIG: Config = {
  appsDir: 'applications',
  dataDir: '',
  logLevel: 'info',
  shutdownTimeoutMs: 10_000,
  rtmp: {
    host: '0.0.0.0',
    port: 1935,
    handshakeTimeoutMs: 5000,
    connectTimeoutMs: 30_000,
    maxMessageBytes: 8 * 1024 * 1024,
    maxChunkStreams: 64,
    windowAckSizeBytes: 2_500_000,
    maxOutputBufferBytes: 16 * 1024 * 1024,
    maxConnections: 10_000,
    maxConnectionsPerIp: 200,
    idleTimeoutSec: 600,
    maxAssemblyBytesPerConnection: 16 * 1024 * 1024,
    maxAssemblyBytesTotal: 256 * 1024 * 1024,
    maxNameChars: 1024,
    maxUrlChars: 4096,
    maxConnectBytes: 64 * 1024,
  },
  http: {
    host: '127.0.0.1',
    port: 8000,
    adminToken: '',
    maxConnections: 2000,
    maxConnectionsPerIp: 200,
    playerMaxOutputBytes: 16 * 1024 * 1024,
    liveLogMaxBufferedBytes: 1024 * 1024,
  },
  instances: { maxPerApp: 250, maxTotal: 500 },
  log: {
    maxMessageChars: 8192,
    maxFieldChars: 2048,
    liveRingBytes: 256 * 1024,
    liveSharedRingBytes: 1024 * 1024,
    liveRecordMaxBytes: 16 * 1024,
    stdoutMaxBufferedBytes: 16 * 1024 * 1024,
  },
  rtmps: { host: '0.0.0.0', port: 443, cert: '', key: '' },
  tls: { handshakeTimeoutMs: 10_000, maxVersion: 'TLSv1.2' },
  https: { enabled: false, host: '127.0.0.1', port: 8443, cert: '', key: '' },
  rtmpt: { enabled: true, maxSessions: 1000, idleTimeoutMs: 30_000, pollHoldMs: 100, maxRequestBytes: 4 * 1024 * 1024 },
  rtmpe: { enabled: true, maxHandshakesPerSec: 200 },
  outbound: { caFiles: [] },
  distribute: { processes: 1, scope: 'instance', restartDelayMs: 1000 },
  media: { gopCacheMaxBytes: 16 * 1024 * 1024, playerMaxBufferedBytes: 2 * 1024 * 1024 },
  sharedObjects: { maxSlotBytes: 4 * 1024 * 1024, maxObjectBytes: 16 * 1024 * 1024, maxInstanceBytes: 64 * 1024 * 1024 },
  hls: {
    enabled: true,
    packaging: 'on-request',
    lowLatency: true,
    partTargetMs: 334,
    segmentTargetMs: 2000,
    windowSegments: 6,
    idleTimeoutMs: 30_000,
    republishGraceMs: 5000,
    maxPackagedStreams: 100,
    maxBytesPerStream: 64 * 1024 * 1024,
    maxBlockedPerClient: 64,
    maxBlockedTotal: 4096,
    blockTimeoutMs: 10_000,
    maxTargetBytes: 1024,
    vodMaxIndexedFiles: 32,
    vodMaxIndexing: 2,
    vodMaxSegmentBytes: 16 * 1024 * 1024,
  },
  reload: { watch: true, debounceMs: 100, mode: 'carry' },
  scripts: {
    memoryLimitMb: 64,
    handlerTimeoutMs: 5000,
    idleUnloadSec: 1200,
    unloadTimeoutMs: 5000,
    exposeJson: false,
    exposeSetTimeout: false,
    libPaths: [],
    fileVirtualDirectories: [],
    hostMemoryMb: 128,
    maxScriptBytes: 8 * 1024 * 1024,
    fileMaxIoBytes: 16 * 1024 * 1024,
    fileMaxListEntries: 10_000,
    ioWaitMs: 3000,
    maxOutboundConnections: 64,
    http: { allowHosts: [], timeoutMs: 10_000, maxBytes: 1024 * 1024 },
    remoting: { maxRequestsInFlight: 8, maxQueuedCalls: 256, maxCallsPerPacket: 32, maxResponseBytes: 1024 * 1024 },
  },
};

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deep-merges `override` into the defaults, checking every key and type against them.
 * Collects all problems so the operator fixes everything in one go.
 */
export function mergeConfig(override: unknown, problems: string[], base: Config = DEFAULT_CONFIG): Config {
  const out = structuredClone(base) as unknown as Plain;
  walk(out, override, '', problems);
  const config = out as unknown as Config;
  validate(config, problems);
  return config;
}

function walk(target: Plain, override: unknown, prefix: string, problems: string[]): void {
  if (!isPlain(override)) {
    problems.push(`${prefix || 'config'}: expected an object`);
    return;
  }
  for (const [key, value] of Object.entries(override)) {
    const where = prefix ? `${prefix}.${key}` : key;
    if (!(key in target)) {
      problems.push(`${where}: unknown setting`);
      continue;
    }
    const current = target[key];
    if (isPlain(current)) walk(current, value, where, problems);
    else if (Array.isArray(current)) {
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) target[key] = value;
      else problems.push(`${where}: expected an array of strings`);
    } else if (typeof value !== typeof current) problems.push(`${where}: expected a ${typeof current}, got ${JSON.stringify(value)}`);
    else target[key] = value;
  }
}

function validate(config: Config, problems: string[]): void {
  const port = (where: string, value: number) => {
    if (!Number.isInteger(value) || value < 0 || value > 65535) problems.push(`${where}: ${value} is not a port (0-65535)`);
  };
  const positive = (where: string, value: number) => {
    if (!Number.isFinite(value) || value <= 0) problems.push(`${where}: must be a positive number, got ${value}`);
  };
  port('rtmp.port', config.rtmp.port);
  port('http.port', config.http.port);
  port('rtmps.port', config.rtmps.port);
  port('https.port', config.https.port);
  positive('tls.handshakeTimeoutMs', config.tls.handshakeTimeoutMs);
  if (!TLS_VERSIONS.includes(config.tls.maxVersion)) problems.push(`tls.maxVersion: "${config.tls.maxVersion}" is not one of ${TLS_VERSIONS.join(', ')}`);
  if (Boolean(config.rtmps.cert) !== Boolean(config.rtmps.key)) problems.push('rtmps.cert and rtmps.key: give both (or neither: RTMPS off)');
  if (Boolean(config.https.cert) !== Boolean(config.https.key)) problems.push('https.cert and https.key: give both (or neither: RTMPS\'s certificate)');
  if (config.https.enabled && !config.https.cert && !config.rtmps.cert) problems.push('https.enabled: needs a certificate (https.cert/https.key or rtmps.cert/rtmps.key)');
  for (const [key, value] of Object.entries(config.rtmpt)) if (typeof value === 'number') positive(`rtmpt.${key}`, value);
  positive('rtmpe.maxHandshakesPerSec', config.rtmpe.maxHandshakesPerSec);
  if (!LOG_LEVELS.includes(config.logLevel)) problems.push(`logLevel: "${config.logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  const wholePositive = (where: string, value: number) => {
    if (!Number.isInteger(value) || value <= 0) problems.push(`${where}: must be a positive whole number, got ${value}`);
  };
  for (const [key, value] of Object.entries(config.rtmp)) if (typeof value === 'number' && key !== 'port') positive(`rtmp.${key}`, value);
  for (const [key, value] of Object.entries(config.http)) if (typeof value === 'number' && key !== 'port') wholePositive(`http.${key}`, value);
  for (const [key, value] of Object.entries(config.instances)) wholePositive(`instances.${key}`, value);
  for (const [key, value] of Object.entries(config.log)) wholePositive(`log.${key}`, value);
  for (const key of ['maxConnections', 'maxConnectionsPerIp', 'maxNameChars', 'maxUrlChars', 'maxConnectBytes'] as const) {
    if (Number.isFinite(config.rtmp[key]) && !Number.isInteger(config.rtmp[key])) problems.push(`rtmp.${key}: must be a whole number, got ${config.rtmp[key]}`);
  }
  // Budgets that only make sense in order: a message of the largest allowed size must fit a
  // connection's reassembly budget, which must fit the total; a record must fit a live-log ring.
  if (config.rtmp.maxAssemblyBytesPerConnection < config.rtmp.maxMessageBytes) {
    problems.push(`rtmp.maxAssemblyBytesPerConnection: ${config.rtmp.maxAssemblyBytesPerConnection} is below rtmp.maxMessageBytes (${config.rtmp.maxMessageBytes})`);
  }
  if (config.rtmp.maxAssemblyBytesTotal < config.rtmp.maxAssemblyBytesPerConnection) {
    problems.push(`rtmp.maxAssemblyBytesTotal: ${config.rtmp.maxAssemblyBytesTotal} is below rtmp.maxAssemblyBytesPerConnection (${config.rtmp.maxAssemblyBytesPerConnection})`);
  }
  if (config.log.liveRecordMaxBytes > Math.min(config.log.liveRingBytes, config.log.liveSharedRingBytes)) {
    problems.push(`log.liveRecordMaxBytes: ${config.log.liveRecordMaxBytes} is above log.liveRingBytes or log.liveSharedRingBytes`);
  }
  for (const [key, value] of Object.entries(config.media)) positive(`media.${key}`, value);
  const { processes, scope, restartDelayMs } = config.distribute;
  if (!Number.isInteger(processes) || processes < 1 || processes > MAX_PROCESSES) problems.push(`distribute.processes: must be a whole number from 1 to ${MAX_PROCESSES}, got ${processes}`);
  if (!DISTRIBUTE_SCOPES.includes(scope)) problems.push(`distribute.scope: "${scope}" is not one of ${DISTRIBUTE_SCOPES.join(', ')}`);
  positive('distribute.restartDelayMs', restartDelayMs);
  for (const [key, value] of Object.entries(config.hls)) if (typeof value === 'number') positive(`hls.${key}`, value);
  if (!PACKAGING_MODES.includes(config.hls.packaging)) problems.push(`hls.packaging: "${config.hls.packaging}" is not one of ${PACKAGING_MODES.join(', ')}`);
  if (config.hls.partTargetMs < 100 || config.hls.partTargetMs * 2 > config.hls.segmentTargetMs) problems.push('hls.partTargetMs: must be at least 100 and at most half of hls.segmentTargetMs');
  positive('reload.debounceMs', config.reload.debounceMs);
  if (!RELOAD_MODES.includes(config.reload.mode)) problems.push(`reload.mode: "${config.reload.mode}" is not one of ${RELOAD_MODES.join(', ')}`);
  positive('scripts.memoryLimitMb', config.scripts.memoryLimitMb);
  positive('scripts.handlerTimeoutMs', config.scripts.handlerTimeoutMs);
  positive('scripts.idleUnloadSec', config.scripts.idleUnloadSec);
  positive('scripts.unloadTimeoutMs', config.scripts.unloadTimeoutMs);
  positive('shutdownTimeoutMs', config.shutdownTimeoutMs);
  if (config.scripts.memoryLimitMb < 8) problems.push('scripts.memoryLimitMb: isolated-vm needs at least 8');
  for (const key of ['maxSlotBytes', 'maxObjectBytes', 'maxInstanceBytes'] as const) positive(`sharedObjects.${key}`, config.sharedObjects[key]);
  const so = config.sharedObjects;
  if (so.maxSlotBytes > so.maxObjectBytes) problems.push('sharedObjects.maxSlotBytes: must not exceed sharedObjects.maxObjectBytes');
  if (so.maxObjectBytes > so.maxInstanceBytes) problems.push('sharedObjects.maxObjectBytes: must not exceed sharedObjects.maxInstanceBytes');
  for (const key of ['hostMemoryMb', 'maxScriptBytes', 'fileMaxIoBytes', 'fileMaxListEntries', 'ioWaitMs', 'maxOutboundConnections'] as const) {
    positive(`scripts.${key}`, config.scripts[key]);
  }
  // A script may write one whole shared object before its budget is checked against the rest.
  if (config.scripts.hostMemoryMb * 1024 * 1024 < so.maxObjectBytes) problems.push('scripts.hostMemoryMb: must hold at least one sharedObjects.maxObjectBytes');
  positive('scripts.http.timeoutMs', config.scripts.http.timeoutMs);
  positive('scripts.http.maxBytes', config.scripts.http.maxBytes);
  for (const [key, value] of Object.entries(config.scripts.remoting)) {
    if (!Number.isInteger(value) || value <= 0) problems.push(`scripts.remoting.${key}: must be a positive integer, got ${value}`);
  }
  for (const entry of config.scripts.fileVirtualDirectories) {
    const [virtual, native, extra] = entry.split(';');
    if (extra !== undefined || !virtual?.startsWith('/') || virtual === '/' || !native || !path.isAbsolute(native)) {
      problems.push(`scripts.fileVirtualDirectories: "${entry}" is not "/virtual;/absolute/native/dir"`);
    }
  }
}

export interface CliOptions {
  config: Config;
  help: boolean;
}

export const USAGE = `Usage: fms-runtime [options]                      (in a checkout: npm start -- [options])
       fms-runtime check [--json] <app folder>...   (FMS API compatibility report; fms-runtime check --help)
  --apps <dir>          applications folder (default: ./applications)
  --data <dir>          where persistent shared objects are written, as <dir>/sharedobjects/<app>/<instance>/
                        (default: inside each application's folder, FMS layout: <apps>/<app>/sharedobjects/<instance>/)
  --rtmp-port <n>       RTMP listen port (default: 1935; 0 = any free port)
  --http-port <n>       HTTP port for FLV egress, HLS, RTMPT, console and admin (default: 8000; 0 = any free port)
  --rtmps-port <n>      RTMPS (TLS) port (default: 443; needs rtmps.cert and rtmps.key in the config)
  --https-port <n>      HTTPS port (FLV egress, HLS, RTMPTS, admin over TLS); turns https.enabled on
  --config <file>       JSON config file (keys as in DEFAULT_CONFIG, runtime/config.ts; flags override it)
  --log-level <level>   fatal|error|warn|info|debug|trace|silent (default: info)
  --processes <n>       run application instances in n worker processes (distribute.processes; default: 1)
  --no-watch            do not hot-reload apps when their scripts change
  --help                this text
Relative paths: given as flags, against the current folder; in a config file (appsDir, dataDir,
scripts.libPaths), against the config file's folder. Recorded streams live in <apps>/<app>/streams/<instance>/
unless Application.xml says otherwise. Nothing else depends on the folder the server is started from.
Environment: FMS_ADMIN_TOKEN=<token> sets http.adminToken (admin API, console, live log, metrics).`;

/** Parses argv (`fms-runtime …`, or after `npm start --`). Throws ConfigError listing every problem. */
export function parseCli(argv: string[], cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): CliOptions {
  const problems: string[] = [];
  const flags = new Map<string, string>();
  let help = false;
  const known = new Set(['--apps', '--data', '--rtmp-port', '--http-port', '--rtmps-port', '--https-port', '--config', '--log-level', '--processes']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--no-watch') {
      flags.set(arg, 'true');
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!known.has(name)) {
      problems.push(`${arg}: unknown option`);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value.startsWith('--')) {
      problems.push(`${name}: needs a value`);
      if (value !== undefined) i--;
      continue;
    }
    flags.set(name, value);
  }
  let fileConfig: unknown = {};
  const configPath = flags.get('--config');
  // Paths written in a config file mean the same wherever the server is started from.
  const configDir = configPath ? path.dirname(path.resolve(cwd, configPath)) : cwd;
  if (configPath) {
    try {
      fileConfig = JSON.parse(readFileSync(path.resolve(cwd, configPath), 'utf8'));
    } catch (error) {
      problems.push(`--config ${configPath}: ${(error as Error).message}`);
    }
  }
  const config = mergeConfig(fileConfig, problems);
  config.appsDir = path.resolve(configDir, config.appsDir);
  if (config.dataDir) config.dataDir = path.resolve(configDir, config.dataDir);
  config.scripts.libPaths = config.scripts.libPaths.map((dir) => path.resolve(configDir, dir));
  const int = (name: string, apply: (n: number) => void) => {
    const raw = flags.get(name);
    if (raw === undefined) return;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n > 65535) problems.push(`${name}: "${raw}" is not a port (0-65535)`);
    else apply(n);
  };
  int('--rtmp-port', (n) => (config.rtmp.port = n));
  int('--http-port', (n) => (config.http.port = n));
  int('--rtmps-port', (n) => (config.rtmps.port = n));
  int('--https-port', (n) => {
    config.https.port = n;
    config.https.enabled = true;
  });
  const processesFlag = flags.get('--processes');
  if (processesFlag !== undefined) {
    if (/^\d{1,3}$/.test(processesFlag)) config.distribute.processes = Number(processesFlag);
    else problems.push(`--processes: "${processesFlag}" is not a number of processes`);
    if (config.distribute.processes < 1 || config.distribute.processes > MAX_PROCESSES) problems.push(`--processes: must be from 1 to ${MAX_PROCESSES}`);
  }
  const level = flags.get('--log-level');
  if (level !== undefined) {
    if (LOG_LEVELS.includes(level as LevelWithSilent)) config.logLevel = level as LevelWithSilent;
    else problems.push(`--log-level: "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const apps = flags.get('--apps');
  if (apps !== undefined) config.appsDir = path.resolve(cwd, apps);
  const data = flags.get('--data');
  if (data !== undefined) config.dataDir = path.resolve(cwd, data);
  if (flags.has('--no-watch')) config.reload.watch = false;
  // The environment beats the file: a secret need not be written into a config file.
  if (env['FMS_ADMIN_TOKEN']) config.http.adminToken = env['FMS_ADMIN_TOKEN'];
  // Certificate and CA files are only ever named in a config file: relative to its folder, like every path there.
  const file = (name: string) => (name ? path.resolve(configDir, name) : '');
  for (const tlsDoor of [config.rtmps, config.https]) {
    tlsDoor.cert = file(tlsDoor.cert);
    tlsDoor.key = file(tlsDoor.key);
  }
  config.outbound.caFiles = config.outbound.caFiles.map(file);
  if (flags.has('--https-port') && !config.https.cert && !config.rtmps.cert) problems.push('--https-port: needs a certificate (https.cert/https.key or rtmps.cert/rtmps.key)');
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, help };
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.ts';
import { LOG_LEVELS } from './log/logger.ts';
import type { LevelWithSilent } from 'pino';

/** Every setting, with units in the names. Embedded defaults make a config file optional. */
export interface Config {
  appsDir: string;
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
  };
  http: {
    /** Browser egress (HTTP-FLV) and, on 127.0.0.1 unless configured, admin endpoints. */
    host: string;
    port: number;
    /** Bearer token for the admin API, live log and /metrics; '' = loopback clients only. */
    adminToken: string;
  };
  media: {
    gopCacheMaxBytes: number;
    /** A player whose unsent backlog exceeds this drops media until the next keyframe. */
    playerMaxBufferedBytes: number;
  };
  sharedObjects: {
    /** Persistent shared objects live in <dataDir>/<app>/<instance>/<name>.fso.json. */
    dataDir: string;
  };
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
    /** LoadVars / XML HTTP requests made by scripts. */
    http: {
      /** Host names (or "*.example.com") scripts may reach besides loopback, which is always allowed. */
      allowHosts: string[];
      timeoutMs: number;
      /** Largest response body a script may receive; bigger ones fail with onLoad(false). */
      maxBytes: number;
    };
  };
}

const RELOAD_MODES: readonly string[] = ['carry', 'restart'];

export const DEFAULT_CONFIG: Config = {
  appsDir: 'applications',
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
  },
  http: { host: '127.0.0.1', port: 8000, adminToken: '' },
  media: { gopCacheMaxBytes: 16 * 1024 * 1024, playerMaxBufferedBytes: 2 * 1024 * 1024 },
  sharedObjects: { dataDir: 'data/sharedobjects' },
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
    http: { allowHosts: [], timeoutMs: 10_000, maxBytes: 1024 * 1024 },
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
  if (!LOG_LEVELS.includes(config.logLevel)) problems.push(`logLevel: "${config.logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  for (const [key, value] of Object.entries(config.rtmp)) if (typeof value === 'number' && key !== 'port') positive(`rtmp.${key}`, value);
  for (const [key, value] of Object.entries(config.media)) positive(`media.${key}`, value);
  positive('reload.debounceMs', config.reload.debounceMs);
  if (!RELOAD_MODES.includes(config.reload.mode)) problems.push(`reload.mode: "${config.reload.mode}" is not one of ${RELOAD_MODES.join(', ')}`);
  positive('scripts.memoryLimitMb', config.scripts.memoryLimitMb);
  positive('scripts.handlerTimeoutMs', config.scripts.handlerTimeoutMs);
  positive('scripts.idleUnloadSec', config.scripts.idleUnloadSec);
  positive('scripts.unloadTimeoutMs', config.scripts.unloadTimeoutMs);
  positive('shutdownTimeoutMs', config.shutdownTimeoutMs);
  if (config.scripts.memoryLimitMb < 8) problems.push('scripts.memoryLimitMb: isolated-vm needs at least 8');
  positive('scripts.http.timeoutMs', config.scripts.http.timeoutMs);
  positive('scripts.http.maxBytes', config.scripts.http.maxBytes);
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

export const USAGE = `Usage: npm start -- [options]
       npm start -- check [--json] <app folder>...   (FMS API compatibility report; see npm run check -- --help)
  --apps <dir>          applications folder (default: applications)
  --rtmp-port <n>       RTMP listen port (default: 1935; 0 = any free port)
  --http-port <n>       HTTP port for FLV egress and admin (default: 8000; 0 = any free port)
  --config <file>       JSON config file (keys as in runtime/config.ts; flags override it)
  --log-level <level>   fatal|error|warn|info|debug|trace|silent (default: info)
  --no-watch            do not hot-reload apps when their scripts change
  --help                this text
Environment: FMS_ADMIN_TOKEN=<token> sets http.adminToken (admin API, console, live log, metrics).`;

/** Parses argv (flags after `npm start --`). Throws ConfigError listing every problem. */
export function parseCli(argv: string[], cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): CliOptions {
  const problems: string[] = [];
  const flags = new Map<string, string>();
  let help = false;
  const known = new Set(['--apps', '--rtmp-port', '--http-port', '--config', '--log-level']);
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
  if (configPath) {
    try {
      fileConfig = JSON.parse(readFileSync(path.resolve(cwd, configPath), 'utf8'));
    } catch (error) {
      problems.push(`--config ${configPath}: ${(error as Error).message}`);
    }
  }
  const config = mergeConfig(fileConfig, problems);
  const int = (name: string, apply: (n: number) => void) => {
    const raw = flags.get(name);
    if (raw === undefined) return;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n > 65535) problems.push(`${name}: "${raw}" is not a port (0-65535)`);
    else apply(n);
  };
  int('--rtmp-port', (n) => (config.rtmp.port = n));
  int('--http-port', (n) => (config.http.port = n));
  const level = flags.get('--log-level');
  if (level !== undefined) {
    if (LOG_LEVELS.includes(level as LevelWithSilent)) config.logLevel = level as LevelWithSilent;
    else problems.push(`--log-level: "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  config.appsDir = path.resolve(cwd, flags.get('--apps') ?? config.appsDir);
  if (flags.has('--no-watch')) config.reload.watch = false;
  // The environment beats the file: a secret need not be written into a config file.
  if (env['FMS_ADMIN_TOKEN']) config.http.adminToken = env['FMS_ADMIN_TOKEN'];
  config.sharedObjects.dataDir = path.resolve(cwd, config.sharedObjects.dataDir);
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, help };
}

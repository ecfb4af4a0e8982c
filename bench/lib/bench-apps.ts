/**
 * The applications folder the sandbox bench runs against, and an in-process server on it.
 * Every scripted app has a script-less twin so each figure has a "same path, no sandbox" reference.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { DEFAULT_CONFIG, mergeConfig, type Config } from '../../runtime/config.ts';
import { Server } from '../../runtime/server.ts';

/** A typical small FMS 2-era app in ES3: globals, onAppStart, onConnect that accepts, one client method. */
export const SMALL_ES3_SCRIPT = `var startedAt = 0;
var connected = 0;
application.onAppStart = function () {
  startedAt = new Date().getTime();
};
application.onConnect = function (client, name) {
  connected++;
  client.joinedAt = new Date().getTime();
  client.nick = name ? String(name) : "guest" + connected;
  return true;
};
application.onDisconnect = function (client) {
  connected--;
};
Client.prototype.add = function (a, b) {
  return a + b;
};
`;

/** Never returns: with scripts.handlerTimeoutMs it burns one isolate thread for that long per connect. */
export const SPIN_SCRIPT = 'application.onConnect = function (client) {\n  while (true) {}\n};\n';

export const APPS = { scripted: 'scripted', plain: 'plain', spinner: 'spinner' } as const;

export interface BenchApps {
  dir: string;
  remove(): void;
}

export function writeBenchApps(): BenchApps {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fms-bench-apps-'));
  const app = (name: string, script: string | null) => {
    mkdirSync(path.join(dir, name));
    if (script !== null) writeFileSync(path.join(dir, name, 'main.asc'), script);
  };
  app(APPS.scripted, SMALL_ES3_SCRIPT);
  app(APPS.plain, null); // no main.asc: the NoScript path, which accepts everyone
  app(APPS.spinner, SPIN_SCRIPT);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Log records are serialised at the operator's default level (info) but thrown away: the cost of
 * producing them is part of what the server does, printing them to the bench's stdout is not.
 */
class DiscardSink extends Writable {
  override _write(_chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    done();
  }
}

export interface InProcessServer {
  server: Server;
  url(pathPart: string): string;
  close(): Promise<void>;
}

/** Our Server on loopback ports chosen by the kernel, with config overrides (keys as in DEFAULT_CONFIG). */
export async function startInProcessServer(appsDir: string, overrides: Record<string, unknown> = {}): Promise<InProcessServer> {
  const problems: string[] = [];
  // Every bench client comes from 127.0.0.1: the per-IP connection budget is lifted.
  const base: Config = mergeConfig({ rtmp: { host: '127.0.0.1', port: 0, maxConnectionsPerIp: 100_000 }, http: { host: '127.0.0.1', port: 0 } }, problems, DEFAULT_CONFIG);
  const config = mergeConfig(overrides, problems, base);
  if (problems.length) throw new Error(problems.join('; '));
  config.appsDir = appsDir;
  const server = new Server({ config, logDestination: new DiscardSink() });
  await server.start();
  return { server, url: (p) => `rtmp://127.0.0.1:${server.rtmpPort}/${p}`, close: () => server.close() };
}

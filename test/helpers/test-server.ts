import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { DEFAULT_CONFIG, mergeConfig, type Config } from '../../runtime/config.ts';
import { Server } from '../../runtime/server.ts';

export type LogRecord = Record<string, unknown> & { msg?: string; level?: number; app?: string };

/** Collects the server's JSON log lines so tests can assert on records (never on pretty text). */
export class LogCapture extends Writable {
  readonly records: LogRecord[] = [];
  #waiters: { predicate: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }[] = [];
  #partial = '';

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const text = this.#partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      const record = JSON.parse(line) as LogRecord;
      this.records.push(record);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.predicate(record)) return true;
        w.resolve(record);
        return false;
      });
    }
    done();
  }

  /** Resolves with the first record (past or future) matching the predicate. */
  waitFor(predicate: (r: LogRecord) => boolean, timeoutMs = 10_000): Promise<LogRecord> {
    const existing = this.records.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`log record not seen within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({ predicate, resolve: (r) => (clearTimeout(timer), resolve(r)) });
    });
  }

  traces(app?: string): string[] {
    return this.records.filter((r) => r['trace'] === true && (!app || r.app === app)).map((r) => String(r.msg));
  }
}

export interface TestServer {
  server: Server;
  logs: LogCapture;
  rtmpPort: number;
  url(pathPart: string): string;
  close(): Promise<void>;
}

/** Starts the real server on free loopback ports with the given apps folder and config overrides. */
export async function startTestServer(appsDir: string, overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const problems: string[] = [];
  const base: Config = mergeConfig(
    { rtmp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, logLevel: 'debug', dataDir: tempDir('data') },
    problems,
    DEFAULT_CONFIG,
  );
  const config = mergeConfig(overrides, problems, base);
  if (problems.length) throw new Error(problems.join('; '));
  config.appsDir = appsDir;
  const logs = new LogCapture();
  const server = new Server({ config, logDestination: logs });
  await server.start();
  return {
    server,
    logs,
    rtmpPort: server.rtmpPort,
    url: (p) => `rtmp://127.0.0.1:${server.rtmpPort}/${p}`,
    close: () => server.close(),
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `fms-${prefix}-`));
}

/** A fresh applications folder: one sub-folder per app, with its main.asc when a script is given (null: script-less). */
export function appsFolder(apps: Record<string, string | null>): string {
  const dir = tempDir('apps');
  for (const [name, script] of Object.entries(apps)) {
    mkdirSync(path.join(dir, name));
    if (script !== null) writeFileSync(path.join(dir, name, 'main.asc'), script);
  }
  return dir;
}

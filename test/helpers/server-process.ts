import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LogCapture } from './test-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ServerProcess {
  child: ChildProcess;
  rtmpPort: number;
  logs: LogCapture;
  url(pathPart: string): string;
  /** HTTP port the server listens on. */
  httpPort: number;
  /** Resident set size of the server process now (VmRSS), in bytes. */
  rss(): number;
  /** SIGTERM (clean) or SIGKILL; resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `npm start`'s command as a separate process (the CLI exactly as users run it).
 * `nodeArgs` go to node itself (benches pass --cpu-prof, which NODE_OPTIONS does not allow).
 */
export async function startServerProcess(appsDir: string, extraArgs: string[] = [], rtmpPort = 0, nodeArgs: string[] = []): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', ...nodeArgs, '--import', 'tsx', 'runtime/main.ts', '--apps', appsDir, '--rtmp-port', String(rtmpPort), '--http-port', '0', '--log-level', 'debug', ...extraArgs],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs = new LogCapture();
  child.stdout!.pipe(logs);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = await Promise.race([
    logs.waitFor((r) => r.msg === 'server listening', 20_000),
    exited.then(() => {
      throw new Error(`server exited before listening: ${stderr}`);
    }),
  ]);
  const port = listening['rtmpPort'] as number;
  return {
    child,
    rtmpPort: port,
    logs,
    url: (p) => `rtmp://127.0.0.1:${port}/${p}`,
    httpPort: listening['httpPort'] as number,
    rss: () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

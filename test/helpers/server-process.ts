import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { LogCapture, tempDir } from './test-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ServerProcess {
  child: ChildProcess;
  rtmpPort: number;
  httpPort: number;
  logs: LogCapture;
  url(pathPart: string): string;
  /** Resident set size of the server process now (VmRSS), in bytes. */
  rss(): number;
  /** SIGTERM (clean) or SIGKILL; resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts the CLI as a separate process, from the sources (`npm start` runs the same main.ts compiled;
 * test/integration/fms-runtime-command.test.ts and package-install.test.ts cover the compiled command).
 * `nodeArgs` go to node itself (benches pass --cpu-prof, which NODE_OPTIONS does not allow).
 */
export function startServerProcess(appsDir: string, extraArgs: string[] = [], rtmpPort = 0, nodeArgs: string[] = []): Promise<ServerProcess> {
  // Persistent shared objects go to a fresh folder, not into the (fixture) apps folder, unless the caller chose.
  const data = extraArgs.includes('--data') || extraArgs.includes('--config') ? [] : ['--data', tempDir('data')];
  const child = spawn(
    process.execPath,
    [...SOURCE_NODE_FLAGS, ...nodeArgs, 'runtime/main.ts', '--apps', appsDir, '--rtmp-port', String(rtmpPort), '--http-port', '0', '--log-level', 'debug', ...data, ...extraArgs],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return serverListening(child);
}

/**
 * A server child (stdout = its JSON log, stderr piped): resolves once it logged "server listening",
 * rejects with its stderr if it exits before.
 */
export async function serverListening(child: ChildProcess, timeoutMs = 20_000): Promise<ServerProcess> {
  const logs = new LogCapture();
  child.stdout!.pipe(logs);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = await Promise.race([
    logs.waitFor((r) => r.msg === 'server listening', timeoutMs),
    exited.then(() => {
      throw new Error(`server exited before listening: ${stderr}`);
    }),
  ]);
  const port = listening['rtmpPort'] as number;
  return {
    child,
    rtmpPort: port,
    httpPort: listening['httpPort'] as number,
    logs,
    url: (p) => `rtmp://127.0.0.1:${port}/${p}`,
    rss: () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Child processes of a process (Linux; [] elsewhere): an esbuild service would show up here. */
export function childrenOf(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

import { existsSync } from 'node:fs';
import { parseCli, USAGE } from './config.ts';
import { ConfigError, FmsRuntimeError } from './errors.ts';
import { Server } from './server.ts';
import { exitWith, shutDown } from './server/process-end.ts';
import { WORKER_COMMAND } from './cluster/messages.ts';

/** CLI entry: `fms-runtime --apps <dir> --rtmp-port <n> --http-port <n> [--data d] [--config f] [--log-level l]` (or `npm start -- …`). */
async function main(): Promise<number> {
  // `check <app folder>...`: static compatibility report, no server (runtime/check/, loaded only here).
  // A worker process of process distribution (distribute.processes > 1): started by the server, never by hand.
  if (process.argv[2] === WORKER_COMMAND) {
    const { runWorker } = await import('./server/worker-main.ts');
    return runWorker();
  }
  if (process.argv[2] === 'check') {
    const { runCheck } = await import('./check/check-command.ts');
    return runCheck(process.argv.slice(3), { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  }
  let options;
  try {
    options = parseCli(process.argv.slice(2));
    if (!existsSync(options.config.appsDir)) throw new ConfigError([`--apps: folder ${options.config.appsDir} does not exist`]);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`fms-runtime: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const server = new Server({ config: options.config });
  try {
    await server.start();
  } catch (error) {
    process.stderr.write(`fms-runtime: ${(error as Error).message}\n`);
    await server.close();
    return error instanceof FmsRuntimeError ? 1 : 70;
  }
  await new Promise<void>((resolve) => {
    // One shutdown, as a worker has (worker-main.ts): a second signal or the npm parent going away
    // while stopping arms no second deadline and closes nothing twice.
    let stopping = false;
    const stop = (fields: { signal: string } | { reason: string }) => {
      if (stopping) return;
      stopping = true;
      server.log.info(fields, 'signal' in fields ? 'signal received' : 'stopping');
      void shutDown(server, options.config.shutdownTimeoutMs).then(resolve);
    };
    process.once('SIGINT', () => stop({ signal: 'SIGINT' }));
    process.once('SIGTERM', () => stop({ signal: 'SIGTERM' }));
    if (process.env['npm_command']) followNpm(() => stop({ reason: 'the npm process that started the server is gone' }));
  });
  return 0;
}

/**
 * Started through npm (`npx fms-runtime`, `npm exec`): npm runs the command through `sh -c`, and a
 * SIGTERM sent to npm alone reaches that shell, which dies without passing it on; the server would
 * be left running with no parent. So a server npm started stops when its parent goes away.
 * (`npm start` execs the command, so npm's own signal forwarding reaches the server directly.)
 */
function followNpm(stop: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, 1000);
  timer.unref();
}

main().then(
  // isolated-vm parks the thread of an isolate that hit a catastrophic error (heap exhausted inside
  // V8's GC) and joins it at exit, which would hang forever: exitWith ends the process itself then.
  (code) => exitWith(code),
  (error: unknown) => {
    process.stderr.write(`fms-runtime: fatal: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 70;
  },
);

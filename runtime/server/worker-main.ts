import type { Socket } from 'node:net';
import { Server } from '../server.ts';
import { exitWith, shutDown } from './process-end.ts';
import { WORKER_ENV, type PrimaryMessage, type WorkerMessage, type WorkerRequest, type WorkerSettings } from '../cluster/messages.ts';

/** How often a worker tells the primary which instances it has loaded (and after each handed connection). */
const REPORT_INTERVAL_MS = 500;
const REPORT_DEBOUNCE_MS = 20;

/**
 * A worker process of process distribution (`fms-runtime __worker`, started by the primary's
 * WorkerPool, never by hand): a Server in worker mode that opens no port of its own. The primary
 * hands it client connections (their sockets, or local pairs, with the bytes already read), asks it
 * admin questions and reloads over IPC, and reads its log lines from its stdout. Exits when the
 * primary asks, or when the primary is gone.
 */
export async function runWorker(): Promise<number> {
  const raw = process.env[WORKER_ENV];
  if (!raw || !process.send) {
    process.stderr.write('fms-runtime: __worker is started by the server itself (distribute.processes), not by hand.\n');
    return 2;
  }
  const environment = JSON.parse(raw) as WorkerSettings;
  delete process.env[WORKER_ENV]; // not inherited by anything this process starts
  const send = (message: WorkerMessage) => {
    if (process.connected) process.send!(message);
  };
  const server = new Server({ config: environment.config, worker: environment });
  await server.start();

  let lastSeq = 0;
  let reported = '';
  let reportTimer: NodeJS.Timeout | null = null;
  const report = () => {
    reportTimer = null;
    const names = server.instances.instances.map((i) => i.name).sort();
    const key = `${lastSeq}:${names.join('\n')}`;
    if (key === reported) return;
    reported = key;
    send({ type: 'instances', names, lastSeq });
  };
  const reportSoon = () => {
    reportTimer ??= setTimeout(report, REPORT_DEBOUNCE_MS);
  };
  const interval = setInterval(report, REPORT_INTERVAL_MS);

  // Once, bounded as in one process (shutdownTimeoutMs); the IPC channel goes with the process.
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(interval);
      await shutDown(server, environment.config.shutdownTimeoutMs);
      setImmediate(() => exitWith(0, true)); // after the reply to the primary's shutdown request went out
    })());

  const answer = async (request: WorkerRequest): Promise<unknown> => {
    switch (request.op) {
      case 'admin':
        return server.adminReply(request.method, request.path);
      case 'metrics':
        return server.metricsJson();
      case 'reload':
        return server.instances.reloadApp(request.app, request.mode, request.instance);
      case 'reloadLibrary': {
        const apps = server.instances.appsUsing(request.file);
        await Promise.all(apps.map((app) => server.instances.reloadApp(app, request.mode)));
        return apps;
      }
      case 'loadOnStartup': {
        const loaded = await server.instances.loadOnStartup(request.app);
        reportSoon();
        return loaded;
      }
      case 'shutdown':
        await stop();
        return true;
    }
  };

  process.on('message', (message: PrimaryMessage, handle?: Socket) => {
    if (message.type === 'connection') {
      if (!handle) return;
      lastSeq = Math.max(lastSeq, message.seq);
      const connection = server.adoptHanded(handle, message);
      connection.once('close', () => send({ type: 'closed', id: message.id }));
      reportSoon();
      return;
    }
    if (message.type === 'request') {
      answer(message.request).then(
        (value) => send({ type: 'reply', id: message.id, ok: true, value }),
        (error: unknown) => send({ type: 'reply', id: message.id, ok: false, error: (error as Error)?.message ?? String(error) }),
      );
    }
  });
  // The primary is gone (it exited or was killed): nobody can reach this worker's clients' instances any more.
  process.on('disconnect', () => void stop());
  // Ctrl-C reaches the whole process group: the primary decides when workers stop.
  process.on('SIGINT', () => {});
  send({ type: 'ready' });
  return await new Promise<number>(() => {}); // runs until told to exit
}

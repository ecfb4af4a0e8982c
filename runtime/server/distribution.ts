import type http from 'node:http';
import { rmSync } from 'node:fs';
import { ClusterPrimary } from '../cluster/cluster-primary.ts';
import type { Config } from '../config.ts';
import { ErrorCode, FmsRuntimeError } from '../errors.ts';
import type { AppCatalog } from '../instances/app-catalog.ts';
import type { LiveLog } from '../log/live-log.ts';
import type { LineSink, Logger } from '../log/logger.ts';
import type { HttpRoutes } from './http-routes.ts';

export interface DistributionDeps {
  config: Config;
  log: Logger;
  catalog: AppCatalog;
  liveLog: LiveLog;
  /** Where this process's log lines go: the workers' lines go there too. */
  logSink: LineSink;
  /** The server's routes (built after the primary: they pass requests to it). */
  routes(): HttpRoutes;
  ports(): { rtmp: number; http: number; rtmps: number; https: number };
}

/**
 * Process distribution (config `distribute.processes` > 1), the primary's side wired to its server:
 * null when everything runs in one process. See runtime/cluster/cluster-primary.ts.
 */
export function clusterPrimary({ config, log, catalog, liveLog, logSink, routes, ports }: DistributionDeps): ClusterPrimary | null {
  if (config.distribute.processes <= 1) return null;
  return new ClusterPrimary({
    config,
    log,
    writeLogLine: (line) => {
      const text = `${line}\n`;
      logSink.write(text);
      liveLog.write(text);
    },
    localAdmin: (method, path) => routes().admin.reply(method, path),
    localMetrics: () => routes().metrics.json(),
    admit: (req, res) => routes().admit(req, res),
    ports,
    loadOnStartupApps: () => catalog.list().filter((app) => catalog.lookup(app)?.settings?.loadOnStartup),
  });
}

/** A worker's HTTP server: on its Unix socket, where its primary passes egress requests on. */
export async function listenWorkerHttp(server: http.Server, socketPath: string): Promise<void> {
  rmSync(socketPath, { force: true }); // left by this slot's previous worker if it died
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new FmsRuntimeError(ErrorCode.ListenFailed, `worker HTTP socket ${socketPath}: ${error.message}`, { cause: error })));
    server.listen(socketPath, () => resolve());
  });
}

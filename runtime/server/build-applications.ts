import path from 'node:path';
import type tls from 'node:tls';
import type { RtmpScheme } from '../client/client-transport.ts';
import type { Config } from '../config.ts';
import { AppCatalog } from '../instances/app-catalog.ts';
import type { ScriptFactory } from '../instances/script-generation.ts';
import { AppSettingsReader } from '../instances/application-xml.ts';
import { InstanceManager } from '../instances/instance-manager.ts';
import type { Logger } from '../log/logger.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';
import type { HlsEgress } from '../media/hls/hls-egress.ts';
import { hlsSettingsOf, type HlsSettings } from '../media/hls/hls-settings.ts';
import { findAppScript } from '../sandbox/script-loader.ts';

export interface ApplicationsDeps {
  config: Config;
  log: Logger;
  budgetLog: RateLimitedLog;
  createScript: ScriptFactory;
  /** This server's port for a scheme (loopback NetConnection URIs without a port); 0 = not served. */
  ownPort(scheme: RtmpScheme): number;
  /** Trust of server-side rtmps:// and rtmpts:// NetConnections (known once the server started). */
  outboundTrust(): tls.SecureContext | undefined;
  /** The HLS packager (built after the instances: its routes look streams up in them). */
  hls(): HlsEgress;
}

/**
 * The application side of the server: the catalog of applications/ (with Application.xml settings)
 * and the instance manager that routes connects to lazily created instances, with every budget and
 * service an instance gets from the server.
 */
export function buildApplications({ config, log, budgetLog, createScript, ownPort, outboundTrust, hls }: ApplicationsDeps): {
  catalog: AppCatalog;
  instances: InstanceManager;
  hlsDefaults: HlsSettings;
} {
  // Application.xml / Vhost.xml: per-app script limits, idle time, load on startup, stream folders.
  const hlsDefaults = hlsSettingsOf(config.hls);
  const settings = new AppSettingsReader(config.appsDir, { ...config.scripts, hls: hlsDefaults }, (issue) =>
    log.warn({ file: issue.file, element: issue.element }, `Application.xml: ${issue.reason}`),
  );
  const catalog = new AppCatalog(config.appsDir, findAppScript, (dir) => settings.read(dir));
  const { rtmp, media, scripts, instances: instanceCaps } = config;
  const instances = new InstanceManager(
    catalog,
    {
      network: { ownPort, secureContext: outboundTrust },
      // FMS keeps them in the application's folder; --data gathers every app's under one folder
      // (app names are plain folder names: AppCatalog refuses anything else).
      sharedObjectsDir: (app) => (config.dataDir ? path.join(config.dataDir, 'sharedobjects', app.name) : path.join(app.dir, 'sharedobjects')),
      idleUnloadSec: scripts.idleUnloadSec,
      unloadTimeoutMs: scripts.unloadTimeoutMs,
      gopCacheMaxBytes: media.gopCacheMaxBytes,
      playerMaxBufferedBytes: media.playerMaxBufferedBytes,
      sharedObjectLimits: config.sharedObjects,
      hostMemoryBytes: scripts.hostMemoryMb * 1024 * 1024,
      maxOutboundConnections: scripts.maxOutboundConnections,
      onStreamPublish: (instance, stream) => hls().streamPublished({ app: instance.def.name, instance: instance.instanceName, stream: stream.name }),
      packageHls: (instance, name, on) => hls().pin({ app: instance.def.name, instance: instance.instanceName, stream: name }, on),
    },
    {
      arguments: { maxNameChars: rtmp.maxNameChars, maxUrlChars: rtmp.maxUrlChars, maxConnectBytes: rtmp.maxConnectBytes },
      connectTimeoutMs: rtmp.connectTimeoutMs,
      idleTimeoutMs: rtmp.idleTimeoutSec * 1000,
      maxInstancesPerApp: instanceCaps.maxPerApp,
      maxInstancesTotal: instanceCaps.maxTotal,
      budgetLog,
    },
    createScript,
    log,
  );
  return { catalog, instances, hlsDefaults };
}

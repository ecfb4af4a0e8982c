/**
 * The two servers of the soak, each its own process started as operators start it (runtime/main.ts):
 * A, the server under test, with the soak's applications; B, the destination of A's script relay.
 * A runs with hot reload on (the soak edits soak/main.asc), short script limits (so hostile scripts
 * are cut quickly) and info-level logs read as JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/test-server.ts';

export const HANDLER_TIMEOUT_MS = 2000;
export const MEMORY_LIMIT_MB = 32;
export const HANDSHAKE_TIMEOUT_MS = 5000;
/** instances.maxPerApp of A: low, so the instance-cap attack reaches it with a few dozen clients. */
export const MAX_INSTANCES_PER_APP = 30;
/** scripts.hostMemoryMb of A: the SO-slot hog reaches it in well under a second. */
export const HOST_MEMORY_MB = 64;
/** scripts.maxOutboundConnections (the default). */
export const MAX_OUTBOUND_CONNECTIONS = 64;

export interface SoakServer {
  process: ServerProcess;
  httpPort: number;
  appsDir: string;
  url(pathPart: string): string;
  adminUrl(pathPart: string): string;
}

/**
 * The healthy application. `version` changes with each hot reload; `bump` writes a server-side
 * shared object; a publish with `?relay=1` is republished by the script to server B.
 */
export function soakScript(version: number, relayUrl: string): string {
  return `// soak script, version ${version}
var VERSION = ${version};
var calls = 0;
var relays = {};
var counters = SharedObject.get('counters', false);

application.onConnect = function (client) { return true; };
Client.prototype.echo = function (x) { calls++; return x; };
Client.prototype.version = function () { return VERSION; };
Client.prototype.bump = function () { calls++; counters.setProperty('calls', calls); return calls; };

application.onPublish = function (client, stream) {
  if (stream.publishQueryString.indexOf('relay=1') < 0) return;
  var nc = new NetConnection();
  relays[stream.name] = nc;
  nc.onStatus = function (info) {
    if (info.code == 'NetConnection.Connect.Success') {
      var ns = new NetStream(nc);
      ns.attach(stream);
      ns.publish(stream.name, 'live');
    }
  };
  nc.connect(${JSON.stringify(relayUrl)});
};

application.onUnpublish = function (client, stream) {
  var nc = relays[stream.name];
  delete relays[stream.name];
  if (nc) nc.close();
};
`;
}

/** Scripts that misbehave on request: the hostile inputs' targets (their instances die and come back). */
const HOSTILE_SCRIPT = `application.onConnect = function (client) { return true; };
Client.prototype.spin = function () { while (true) {} };
Client.prototype.spinHost = function () { while (true) application.getStats(); };
Client.prototype.spinFlush = function () { var so = SharedObject.get('spin', true), i = 0; while (true) { so.setProperty('n', i++); so.flush(); } };
Client.prototype.bomb = function () { var o = {}, i = 0; while (true) o['k' + i++] = { a: i }; };
application.onPublish = function (client, stream) { trace('publish ' + stream.name); };
Client.prototype.traceLong = function (chars, times) { var s = new Array(chars + 1).join('a'); for (var i = 0; i < times; i++) trace(s); return true; };
// Finding 4: two 1 MB slots every 10 ms, spread over SOs (one SO alone stops at sharedObjects.maxObjectBytes).
Client.prototype.hog = function () {
  var mb = new Array(1024 * 1024 + 1).join('x'), i = 0;
  setInterval(function () { for (var k = 0; k < 2; k++, i++) SharedObject.get('hog' + (i % 64), false).setProperty('k' + i, mb + i); }, 10);
  return true;
};
Client.prototype.dial = function (url, times) {
  var ok = 0, ncs = [];
  for (var i = 0; i < times; i++) { var nc = new NetConnection(); ncs.push(nc); if (nc.connect(url)) ok++; }
  for (var j = 0; j < ncs.length; j++) ncs[j].close();
  return ok;
};
`;

function writeApp(appsDir: string, name: string, script: string | null): void {
  mkdirSync(path.join(appsDir, name), { recursive: true });
  if (script !== null) writeFileSync(path.join(appsDir, name, 'main.asc'), script);
}

async function start(appsDir: string, config: Record<string, unknown>, watch: boolean, nodeArgs: string[] = []): Promise<SoakServer> {
  const configFile = path.join(tempDir('soak-config'), 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...config, dataDir: tempDir('soak-so') }));
  const args = ['--config', configFile, '--log-level', 'info', ...(watch ? [] : ['--no-watch'])];
  const process = await startServerProcess(appsDir, args, 0, nodeArgs);
  const httpPort = (await process.logs.waitFor((r) => r.msg === 'server listening'))['httpPort'] as number;
  return {
    process,
    httpPort,
    appsDir,
    url: process.url,
    adminUrl: (p) => `http://127.0.0.1:${httpPort}${p}`,
  };
}

/** B: a plain relay destination (a script-less app accepts everyone and carries streams). */
export async function startRelayTarget(): Promise<SoakServer> {
  const appsDir = tempDir('soak-b-apps');
  writeApp(appsDir, 'live', null);
  return start(appsDir, {}, false);
}

/**
 * A: the server under test. `nodeArgs` go to its node (diagnostics: `--heapsnapshot-signal=SIGUSR2`
 * to take heap snapshots of a growing heap, `--cpu-prof`).
 */
export async function startServerUnderTest(relayTarget: SoakServer, nodeArgs: string[] = []): Promise<SoakServer> {
  const appsDir = tempDir('soak-a-apps');
  writeApp(appsDir, 'soak', soakScript(1, relayTarget.url('live')));
  writeApp(appsDir, 'hostile', HOSTILE_SCRIPT);
  writeApp(appsDir, 'sink', null); // where the hostile script dials its own server
  return start(
    appsDir,
    {
      rtmp: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
      instances: { maxPerApp: MAX_INSTANCES_PER_APP },
      scripts: {
        handlerTimeoutMs: HANDLER_TIMEOUT_MS,
        memoryLimitMb: MEMORY_LIMIT_MB,
        hostMemoryMb: HOST_MEMORY_MB,
        maxOutboundConnections: MAX_OUTBOUND_CONNECTIONS,
      },
      reload: { debounceMs: 200 },
    },
    true,
    nodeArgs,
  );
}

/** Hot reload: a new version of soak/main.asc on disk (the server's watcher picks it up). */
export function writeSoakVersion(server: SoakServer, version: number, relayTarget: SoakServer): void {
  writeFileSync(path.join(server.appsDir, 'soak', 'main.asc'), soakScript(version, relayTarget.url('live')));
}

/**
 * Hot reload latency: time from saving main.asc to the new version serving, with 100 connected
 * clients carried over. The server runs in its own process (`npm start`'s command, watching the
 * apps folder); a probe client calls a method that returns the script's version back to back
 * (one call in flight, ~0.2 ms each on loopback) and the first answer from the new version ends
 * the measurement. That includes the watcher's debounce, the new top level in a fresh isolate,
 * onAppStart and the replayed onConnect of every client.
 *
 *   npm run bench:reload -- [--clients 100] [--saves 20] [--debounce <ms, default: config default>] [--mode carry|restart]
 *
 * Figures only, no assertions (CONVENTIONS). Target: p50 ≤ 200 ms including the debounce.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NetConnection } from '../runtime/client/net-connection.ts';
import { DEFAULT_CONFIG } from '../runtime/config.ts';
import { startServerProcess } from '../test/helpers/server-process.ts';
import { tempDir } from '../test/helpers/test-server.ts';
import { fmt, spread } from './lib/percentiles.ts';

const { values: flags } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    saves: { type: 'string', default: '20' },
    debounce: { type: 'string', default: String(DEFAULT_CONFIG.reload.debounceMs) },
    mode: { type: 'string', default: 'carry' },
  },
});
const CLIENTS = Number(flags.clients);
const SAVES = Number(flags.saves);
const MODE = flags.mode === 'restart' ? 'restart' : 'carry';

/** A small but realistic script: a few handlers and a method per client, like a chat app. */
const script = (version: number) => `// version ${version}
var users = {};
application.onAppStart = function () { trace("version ${version}"); };
application.onConnect = function (client, name) { users[client.id] = name; return true; };
application.onDisconnect = function (client) { delete users[client.id]; };
Client.prototype.version = function () { return ${version}; };
Client.prototype.say = function (text) { application.broadcastMsg("said", users[this.id], text); };
`;

const apps = tempDir('reload-bench');
const appDir = path.join(apps, 'hot');
mkdirSync(appDir);
writeFileSync(path.join(appDir, 'main.asc'), script(0));
const configFile = path.join(tempDir('reload-bench-config'), 'config.json');
writeFileSync(configFile, JSON.stringify({ reload: { watch: true, debounceMs: Number(flags.debounce), mode: MODE } }));
const server = await startServerProcess(apps, ['--config', configFile, '--log-level', 'info']);

const clients: NetConnection[] = [];
for (let i = 0; i < CLIENTS; i++) {
  const nc = new NetConnection();
  await nc.connect(server.url('hot'), `user${i}`);
  clients.push(nc);
}
let probe = clients[0]!;

/** Calls version() back to back until it answers `version`; in restart mode reconnects as needed. */
async function waitForVersion(version: number): Promise<void> {
  for (;;) {
    try {
      if ((await probe.call('version')) === version) return;
    } catch {
      if (!probe.isConnected) {
        probe = new NetConnection();
        await probe.connect(server.url('hot'), 'probe').catch(() => undefined);
      }
    }
  }
}

const latencies: number[] = [];
for (let version = 1; version <= SAVES; version++) {
  await new Promise((r) => setTimeout(r, 300)); // let the previous reload settle
  const saved = performance.now();
  writeFileSync(path.join(appDir, 'main.asc'), script(version));
  await waitForVersion(version);
  latencies.push(performance.now() - saved);
}
const connected = clients.filter((c) => c.isConnected).length;
for (const nc of clients) nc.close();
await server.stop();

const s = spread(latencies);
console.log(`reload: mode ${MODE}, ${CLIENTS} clients, debounce ${flags.debounce} ms, ${SAVES} saves`);
console.log(`save → new version serving: p50 ${fmt(s.p50, 1)} ms, p99 ${fmt(s.p99, 1)} ms, max ${fmt(s.max, 1)} ms (target p50 ≤ 200 ms)`);
console.log(`clients still connected on their first connection: ${connected}/${CLIENTS}`);

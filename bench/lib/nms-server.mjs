/**
 * node-media-server 4.4.3 in its own process, the reference of bench:fanout and bench:relay. Plain
 * JavaScript on plain node (no TypeScript loader in the measured process). We build the config object
 * ourselves instead of running its bin/app.js: the CLI rewrites its config file (it would edit
 * node_modules) and always starts HTTP. Here: RTMP only, on loopback, no RTMPS, no HTTP/admin API,
 * no recording. Answers `{ type: 'backlog', port }` over IPC with that player socket's unsent bytes.
 *
 *   node bench/lib/nms-server.mjs --rtmp-port P --data-path DIR [--push-to rtmp://host:port/app]
 *
 * --push-to: every stream published here is republished to <url>/<stream name> with NMS's own
 * push relay (NodeRelayServer.addTask, mode "push"), its equivalent of nginx-rtmp's `push`.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server');
const logger = require('node-media-server/src/core/logger.js');
const Context = require('node-media-server/src/core/context.js');

const { values } = parseArgs({ options: { 'rtmp-port': { type: 'string' }, 'data-path': { type: 'string' }, 'push-to': { type: 'string' } } });
const port = Number(values['rtmp-port']);
if (!port) throw new Error('--rtmp-port is required (node-media-server cannot listen on port 0)');

const nms = new NodeMediaServer(
  {
    bind: '127.0.0.1',
    rtmp: { port },
    store: { path: values['data-path'] ?? '.' },
    record: { auto: false, path: values['data-path'] ?? '.' },
  },
  null,
);
// The constructor forces level "debug", which console.logs every session start/stop;
// "warn" matches the --log-level our server gets in the benchmark.
logger.level = 'warn';
await nms.run();

const pushTo = values['push-to'];
if (pushTo) {
  const keyOf = (session) => `push:${pushTo}/${session.streamName}`;
  nms.on('postPublish', (session) => {
    if (session.ip === '') return; // its own relay sessions
    nms.relayServer.addTask({ url: `${pushTo}/${session.streamName}`, streamPath: session.streamPath, mode: 'push', reconnect: false });
  });
  nms.on('donePublish', (session) => {
    if (nms.relayServer.tasks.has(keyOf(session))) nms.relayServer.removeTask(keyOf(session));
  });
}

process.on('message', (message) => {
  if (message?.type !== 'backlog') return;
  let reply = { type: 'backlog', found: false, userBytes: 0, droppedBytes: 0 };
  for (const session of Context.sessions.values()) {
    if (session.socket?.remotePort === message.port) {
      // No per-player limit exists: everything the kernel refused stays in the socket's buffer.
      reply = { type: 'backlog', found: true, userBytes: session.socket.writableLength, droppedBytes: 0 };
    }
  }
  process.send?.(reply);
});
process.once('SIGTERM', () => void nms.stop().then(() => process.exit(0)));

/**
 * node-media-server 4.4.3 in its own process, for the fan-out reference. We build the config object
 * ourselves instead of running its bin/app.js: the CLI rewrites its config file (it would edit
 * node_modules) and always starts HTTP. Here: RTMP only, on loopback, no RTMPS, no HTTP/admin API,
 * no recording. Answers `{ type: 'backlog', port }` over IPC with that player socket's unsent bytes.
 *
 *   node scripts/run-ts.js bench/lib/nms-server.ts --rtmp-port P --data-path DIR
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import type { BacklogReply, BacklogRequest } from './backlog.ts';

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server');
const logger = require('node-media-server/src/core/logger.js');
const Context = require('node-media-server/src/core/context.js');

const { values } = parseArgs({ options: { 'rtmp-port': { type: 'string' }, 'data-path': { type: 'string' } } });
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

process.on('message', (message: BacklogRequest) => {
  if (message?.type !== 'backlog') return;
  let reply: BacklogReply = { type: 'backlog', found: false, userBytes: 0, droppedBytes: 0 };
  for (const session of Context.sessions.values() as Iterable<{ socket?: { remotePort?: number; writableLength: number } }>) {
    if (session.socket?.remotePort === message.port) {
      // No per-player limit exists: everything the kernel refused stays in the socket's buffer.
      reply = { type: 'backlog', found: true, userBytes: session.socket.writableLength, droppedBytes: 0 };
    }
  }
  process.send?.(reply);
});
process.once('SIGTERM', () => void nms.stop().then(() => process.exit(0)));

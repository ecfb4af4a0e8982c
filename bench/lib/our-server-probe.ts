/**
 * Our server exactly as runtime/main.ts starts it (same CLI parsing, same Server), plus an IPC
 * handler the stalled-player measurement needs: the per-connection backlog lives inside the
 * process (socket buffer + pending writes), where /proc cannot see it. The fan-out measurement
 * runs runtime/main.ts itself.
 *
 *   node scripts/run-ts.js bench/lib/our-server-probe.ts --apps DIR --rtmp-port P --http-port Q --log-level warn
 */
import { parseCli } from '../../runtime/config.ts';
import { Server } from '../../runtime/server.ts';
import type { BacklogReply, BacklogRequest } from './backlog.ts';

const { config } = parseCli(process.argv.slice(2));
const server = new Server({ config });
await server.start();

process.on('message', (message: BacklogRequest) => {
  if (message?.type !== 'backlog') return;
  let reply: BacklogReply = { type: 'backlog', found: false, userBytes: 0, droppedBytes: 0 };
  for (const instance of server.instances.instances) {
    for (const session of instance.sessions) {
      if (session.connection.socket.remotePort !== message.port) continue;
      const droppedBytes = session.streams.reduce((sum, s) => sum + (s.playing?.queue.bytesDropped ?? 0), 0);
      reply = { type: 'backlog', found: true, userBytes: session.connection.bufferedBytes, droppedBytes };
    }
  }
  process.send?.(reply);
});
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));

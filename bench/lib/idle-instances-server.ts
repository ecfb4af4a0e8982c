/**
 * Child process for the idle-instance RSS figure (bench/sandbox.ts part b): our Server alone in a
 * process, so /proc/<pid>/status VmRSS holds the server and its instances and nothing of the
 * clients. The parent drives it over IPC:
 *   → { type: 'stats' }  ← { type: 'stats', instances, sessions }
 *   → { type: 'gc' }     ← { type: 'gc' }   (needs --expose-gc: collects Node's own heap, so garbage
 *                                           from the connects is not counted as instance memory)
 *
 *   node <SOURCE_NODE_FLAGS> --expose-gc bench/lib/idle-instances-server.ts --apps DIR
 */
import { parseArgs } from 'node:util';
import { startInProcessServer } from './bench-apps.ts';

export type IdleServerRequest = { type: 'stats' } | { type: 'gc' };
export type IdleServerReply = { type: 'ready'; rtmpPort: number } | { type: 'stats'; instances: number; sessions: number } | { type: 'gc' };

const { values } = parseArgs({ options: { apps: { type: 'string' } } });
if (!values.apps) throw new Error('--apps is required');
// scripts.idleUnloadSec is 1200 s by default, so every instance stays loaded while we measure; the
// instance caps (and the early unload of idle instances at a cap) are lifted for the same reason.
const srv = await startInProcessServer(values.apps, { instances: { maxPerApp: 1_000_000, maxTotal: 1_000_000 } });
const reply = (message: IdleServerReply) => process.send?.(message);

process.on('message', (request: IdleServerRequest) => {
  if (request.type === 'stats') {
    const instances = srv.server.instances.instances;
    reply({ type: 'stats', instances: instances.length, sessions: instances.reduce((sum, i) => sum + i.sessions.length, 0) });
  } else if (request.type === 'gc') {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.(); // a second pass frees what the first one's finalizers released
    reply({ type: 'gc' });
  }
});
process.on('disconnect', () => void srv.close().then(() => process.exit(0)));
reply({ type: 'ready', rtmpPort: srv.server.rtmpPort });

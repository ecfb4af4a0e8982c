/**
 * Shared-object bench child: `count` subscribers of one SO, on our own client, in their own
 * process so decoding 100 subscribers' syncs does not share an event loop with the writer (nor,
 * through the writer's acknowledgements, throttle it). Driven over IPC by so-subscriber-pool.ts:
 *   join {url, so, count} → {joined}     report → {delivered, latencies[], lastAtMs}
 *
 * Latency is writer send → subscriber sync, both read from process.hrtime (CLOCK_MONOTONIC, one
 * clock for every process on the machine). Only changes the writer marked `m` (measured, i.e. after
 * the warm-up) are counted.
 */
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';
import { monotonicMs, type SubscriberReply, type SubscriberRequest } from './so-subscriber-pool.ts';

const JOIN_CONCURRENCY = 25;
const connections: NetConnection[] = [];
let delivered = 0;
let latencies: number[] = [];
let firstAtMs = 0;
let lastAtMs = 0;

async function join(url: string, soName: string, count: number): Promise<SubscriberReply> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const nc = new NetConnection();
      await nc.connect(url);
      const so = SharedObject.getRemote(nc, soName, false);
      await so.connect();
      so.on('sync', (list) => {
        const now = monotonicMs();
        for (const item of list) {
          if (item.code !== 'change' || !item.name) continue;
          const value = so.data[item.name] as { t?: number; m?: boolean } | undefined;
          if (!value?.m || typeof value.t !== 'number') continue;
          delivered++;
          latencies.push(now - value.t);
          if (firstAtMs === 0) firstAtMs = now;
          lastAtMs = now;
        }
      });
      connections.push(nc);
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, count) }, worker));
  return { type: 'joined', count: connections.length };
}

async function handle(request: SubscriberRequest): Promise<SubscriberReply> {
  switch (request.cmd) {
    case 'join':
      return join(request.url, request.so, request.count);
    case 'report': {
      const reply: SubscriberReply = { type: 'report', delivered, latencies, firstAtMs, lastAtMs };
      delivered = 0;
      firstAtMs = 0;
      lastAtMs = 0;
      latencies = [];
      return reply;
    }
  }
}

process.on('message', (request: SubscriberRequest) => {
  handle(request).then(
    (reply) => process.send?.(reply),
    (error: unknown) => process.send?.({ type: 'error', message: (error as Error).message } satisfies SubscriberReply),
  );
});
// exit() (not the default signal death) so a --cpu-prof profile gets written.
const leave = () => {
  for (const nc of connections) nc.close();
  process.exit(0);
};
process.on('disconnect', leave);
process.on('SIGTERM', leave);

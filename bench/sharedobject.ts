/**
 * Shared-object fan-out: one writer changes slots of a (temporary) shared object as fast as the
 * server acknowledges them, 100 subscribers receive the syncs. Prints changes per second delivered
 * (changes × subscribers) and delivery latency p50/p99 (writer's send time → subscriber's sync, one
 * process clock). The server runs in its own child process so its CPU is not shared with the
 * clients' event loop.
 *
 *   npm run bench:sharedobject -- [--subscribers 100] [--seconds 5] [--window 4] [--repeats 3]
 *
 * Figures only, no assertions (CONVENTIONS). Target: ≥ 20,000 changes/s delivered, p99 ≤ 10 ms.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NetConnection } from '../runtime/client/net-connection.ts';
import { SharedObject } from '../runtime/client/shared-object.ts';
import { startServerProcess } from '../test/helpers/server-process.ts';
import { tempDir } from '../test/helpers/test-server.ts';
import { fmt, percentile } from './lib/percentiles.ts';

const { values: flags } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '5' },
    window: { type: 'string', default: '4' },
    repeats: { type: 'string', default: '3' },
  },
});
const SUBSCRIBERS = Number(flags.subscribers);
const SECONDS = Number(flags.seconds);
const WINDOW = Number(flags.window); // changes in flight before the writer waits for its Success

async function run(): Promise<{ delivered: number; perSecond: number; p50: number; p99: number }> {
  const apps = tempDir('so-bench');
  mkdirSync(path.join(apps, 'bench'));
  const server = await startServerProcess(apps, ['--no-watch']);
  const join = async () => {
    const nc = new NetConnection();
    await nc.connect(server.url('bench/room'));
    const so = SharedObject.getRemote(nc, 'board', false);
    await so.connect();
    return { nc, so };
  };
  const subscribers = await Promise.all(Array.from({ length: SUBSCRIBERS }, join));
  const writer = await join();
  const latencies: number[] = [];
  let delivered = 0;
  for (const { so } of subscribers) {
    so.on('sync', (list) => {
      const now = performance.now();
      for (const item of list) {
        if (item.code !== 'change' || !item.name) continue;
        delivered++;
        const value = so.data[item.name] as { t?: number } | undefined;
        if (typeof value?.t === 'number') latencies.push(now - value.t);
      }
    });
  }
  let inFlight = 0;
  let sent = 0;
  let resume: (() => void) | null = null;
  writer.so.on('sync', (list) => {
    inFlight -= list.filter((i) => i.code === 'success' || i.code === 'reject').length;
    if (inFlight < WINDOW && resume) {
      const r = resume;
      resume = null;
      r();
    }
  });
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    if (inFlight >= WINDOW) {
      await new Promise<void>((r) => (resume = r));
      continue;
    }
    writer.so.setProperty(`k${sent % 50}`, { i: sent, t: performance.now() });
    sent++;
    inFlight++;
    if (sent % WINDOW === 0) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 500)); // let the last syncs arrive
  const elapsed = (performance.now() - start) / 1000;
  for (const { nc } of [...subscribers, writer]) nc.close();
  await server.stop();
  return { delivered, perSecond: delivered / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const results = [];
for (let i = 0; i < Number(flags.repeats); i++) {
  const r = await run();
  console.log(`run ${i + 1}: ${fmt(r.perSecond, 0)} changes/s delivered, latency p50 ${fmt(r.p50)} ms p99 ${fmt(r.p99)} ms`);
  results.push(r);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`\nshared-object fan-out, ${SUBSCRIBERS} subscribers, ${SECONDS} s, window ${WINDOW}, medians of ${results.length}:`);
console.log(`  delivered: ${fmt(median(results.map((r) => r.perSecond)), 0)} changes/s (target ≥ 20,000)`);
console.log(`  latency:   p50 ${fmt(median(results.map((r) => r.p50)))} ms, p99 ${fmt(median(results.map((r) => r.p99)))} ms (target p99 ≤ 10 ms)`);
console.log('  note: subscribers and writer share one client process; the server is its own process.');

/** Reading bench/lib/gc-counter.mjs's figures from a server process it was preloaded into. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

/** The file to preload: `node --import <GC_COUNTER> …`. */
export const GC_COUNTER = path.join(import.meta.dirname, 'gc-counter.mjs');

export interface GcCounts {
  scavenges: number;
  markSweeps: number;
  gcMs: number;
  /** Longest GC pause and the event loop's lateness (p99, max; ms) since the previous read. */
  maxPauseMs: number;
  loopDelay: { p99: number; max: number };
  memory: NodeJS.MemoryUsage;
  spaces: Record<string, { size: number; used: number }>;
}

/** The process's GC counts so far (gc-counter.mjs writes them on SIGUSR2). */
export async function gcCounts(pid: number): Promise<GcCounts> {
  const file = `/tmp/fms-gc-${pid}.json`;
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 5000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not report its GC counts`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, 10)); // written in one synchronous call; let it land
  return JSON.parse(readFileSync(file, 'utf8')) as GcCounts;
}

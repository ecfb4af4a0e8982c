/**
 * Preloaded into a server process (`node --import bench/lib/gc-counter.mjs`; plain JS: it loads before tsx) by bench:media-path
 * and bench:relay --gc: counts garbage collections, the allocation figure that does not depend on machine load (the
 * young generation has a fixed size, so scavenges ∝ bytes allocated). On SIGUSR2 it writes the
 * counts so far to /tmp/fms-gc-<pid>.json; the bench reads them before and after its window.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';

const counts = { scavenges: 0, markSweeps: 0, other: 0, gcMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = entry.detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.scavenges++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.markSweeps++;
    else counts.other++;
    counts.gcMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

// With the counts: where the memory is (process.memoryUsage() and V8's heap spaces, in bytes).
process.on('SIGUSR2', () => {
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
  writeFileSync(`/tmp/fms-gc-${process.pid}.json`, JSON.stringify({ ...counts, memory: process.memoryUsage(), spaces }));
});

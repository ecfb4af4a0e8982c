/**
 * Preloaded into a server process (`node --import bench/lib/gc-counter.mjs`; plain JS: it loads before tsx) by bench:media-path
 * and bench:relay --gc: counts garbage collections, the allocation figure that does not depend on machine load (the
 * young generation has a fixed size, so scavenges ∝ bytes allocated). On SIGUSR2 it writes the
 * counts so far to /tmp/fms-gc-<pid>.json; the bench reads them before and after its window.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';

const counts = { scavenges: 0, markSweeps: 0, other: 0, gcMs: 0, maxPauseMs: 0 };
/**
 * How late the event loop ran a 10 ms timer (a turn that blocks: long batches of reads, GC): since
 * the last report. Coarse on purpose: a finer timer would add wake-ups to the process it measures.
 */
const LOOP_RESOLUTION_MS = 10;
const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loop.enable();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = entry.detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.scavenges++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.markSweeps++;
    else counts.other++;
    counts.gcMs += entry.duration;
    counts.maxPauseMs = Math.max(counts.maxPauseMs, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

// With the counts: where the memory is (process.memoryUsage() and V8's heap spaces, in bytes).
process.on('SIGUSR2', () => {
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
  // Delays past the timer's own period, ms; the longest pause and the loop figures cover the time since the last report.
  const late = (ns) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  const loopDelay = { p99: late(loop.percentile(99)), max: late(loop.max) };
  writeFileSync(`/tmp/fms-gc-${process.pid}.json`, JSON.stringify({ ...counts, loopDelay, memory: process.memoryUsage(), spaces }));
  counts.maxPauseMs = 0;
  loop.reset();
});

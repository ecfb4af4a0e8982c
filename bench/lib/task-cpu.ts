/**
 * CPU time of a process from the scheduler's nanosecond counters (/proc/<pid>/task/<tid>/schedstat,
 * first field), summed over its threads. proc-stats.ts's CpuWindow reads utime+stime in 10 ms ticks:
 * fine for the fan-out's busy servers, too coarse for a relay that costs nginx-rtmp a few ms per second.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Nanoseconds on CPU per thread id (`pid/tid`), now, of every process in `pids`. */
function threadTimesNs(pids: readonly number[]): Map<string, bigint> {
  const times = new Map<string, bigint>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // the process is gone
    }
    for (const tid of tids) {
      try {
        times.set(`${pid}/${tid}`, BigInt(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]!));
      } catch {
        // the thread ended between readdir and read: its time is lost either way
      }
    }
  }
  return times;
}

/** A process and its descendants (a distributed server: the primary and its workers), from /proc. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        for (const child of readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').split(/\s+/)) if (child) out.push(Number(child));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU use of a process over a window, as a fraction of one core (1.0 = one core busy). */
export class TaskCpuWindow {
  readonly #pids: readonly number[];
  readonly #start: Map<string, bigint>;
  readonly #startAt = performance.now();

  /** One process, or several (their CPU summed: processTree() for a server with workers). */
  constructor(pid: number | readonly number[]) {
    this.#pids = typeof pid === 'number' ? [pid] : pid;
    this.#start = threadTimesNs(this.#pids);
  }

  /**
   * Per thread: its time now minus its time at the start (0 for threads born in the window). A
   * thread that ended inside the window is missed, which undercounts; the servers measured here
   * keep their threads (event loop, libuv pool, isolate threads; nginx has one).
   */
  end(): { cores: number; wallMs: number } {
    const wallMs = performance.now() - this.#startAt;
    let ns = 0n;
    for (const [tid, now] of threadTimesNs(this.#pids)) ns += now - (this.#start.get(tid) ?? 0n);
    return { cores: Number(ns) / 1e6 / wallMs, wallMs };
  }
}

/**
 * CPU pinning for the media benches: servers under test on one core, the tools (this process, the
 * ffmpeg publishers, the load generator) on the other, so a busy load generator never takes CPU from
 * a server and the server's figures are not helped or hurt by sharing its core with the bench. The
 * machine is shared with other people's processes; those we cannot move, so the benches report what
 * else ran on the server core (CoreCpuWindow) next to their figures.
 *
 * With --no-pin (or fewer than two CPUs) nothing is pinned: every process floats, as before.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Pinning {
  /** CPU list (taskset syntax) the servers run on, or null when not pinned. */
  serverCpus: string | null;
  /** CPU list of this process and every child it starts that is not a server. */
  toolCpus: string | null;
}

const NOT_PINNED: Pinning = { serverCpus: null, toolCpus: null };

/**
 * Pins this process (all its threads) to the last CPU and returns where servers go (CPU 0).
 * Children started later inherit this process's affinity, so publishers and load generators follow.
 */
export function pinBench(enabled: boolean): Pinning {
  if (!enabled || os.availableParallelism() < 2) return NOT_PINNED;
  const cpus = os.cpus().length;
  const toolCpus = String(cpus - 1);
  try {
    execFileSync('taskset', ['-a', '-p', '-c', toolCpus, String(process.pid)], { stdio: 'ignore' });
  } catch {
    return NOT_PINNED; // no taskset (util-linux): measure unpinned rather than not at all
  }
  return { serverCpus: cpus === 2 ? '0' : `0-${cpus - 2}`, toolCpus };
}

/** `command args` as a server process: behind `taskset -c <serverCpus>` when pinned (taskset execs, so the pid stays the server's). */
export function serverCommand(pinning: Pinning, command: string, args: readonly string[]): [string, string[]] {
  if (!pinning.serverCpus) return [command, [...args]];
  return ['taskset', ['-c', pinning.serverCpus, command, ...args]];
}

/** One line for the bench header. */
export function describePinning(pinning: Pinning): string {
  return pinning.serverCpus
    ? `servers pinned to CPU ${pinning.serverCpus}, bench/publishers/players to CPU ${pinning.toolCpus} (taskset)`
    : 'not pinned (--no-pin or a single CPU): servers and tools share every CPU';
}

/** Busy jiffies and total jiffies per CPU, from /proc/stat. */
function perCpuTicks(): { busy: number; total: number }[] {
  const out: { busy: number; total: number }[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    if (!/^cpu\d/.test(line)) continue;
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    const total = fields.reduce((a, b) => a + b, 0);
    out.push({ busy: total - idle, total });
  }
  return out;
}

/** How busy each CPU was over a window (1.0 = fully busy), whoever used it. */
export class CoreCpuWindow {
  readonly #start = perCpuTicks();

  end(): number[] {
    return perCpuTicks().map((now, i) => {
      const start = this.#start[i] ?? { busy: 0, total: 0 };
      const total = now.total - start.total;
      return total > 0 ? (now.busy - start.busy) / total : 0;
    });
  }
}

/** Busy fraction of the CPUs in a taskset list like "0" or "0-2" (summed, in cores). */
export function coresIn(list: string, perCpu: readonly number[]): number {
  const [from, to] = list.split('-').map(Number) as [number, number | undefined];
  let sum = 0;
  for (let cpu = from; cpu <= (to ?? from); cpu++) sum += perCpu[cpu] ?? 0;
  return sum;
}

/** The 1-minute load average and what it means on this machine, for the bench header. */
export function loadLine(): string {
  const [one, five] = os.loadavg();
  return `load average ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min) on ${os.cpus().length} CPU(s)`;
}

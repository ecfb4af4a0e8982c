/**
 * Per-process figures read from /proc, so the CPU and memory of each server child are attributed
 * to it alone (the load generator and the publisher run in other processes).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Kernel clock ticks per second for /proc/<pid>/stat times (almost always 100). */
const CLOCK_TICKS_PER_SEC = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100; // getconf missing: Linux's USER_HZ default
  }
})();

/** utime + stime of the process (all its threads), in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces and parentheses; the rest starts after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SEC;
}

/** Reads "<key>: <n> kB" lines of a /proc file, in bytes. */
function procBytes(file: string): (key: string) => number {
  const text = readFileSync(file, 'utf8');
  return (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
}

/** Resident set size now (VmRSS) and its peak (VmHWM), in bytes. */
export function memory(pid: number): { rss: number; peak: number } {
  const bytes = procBytes(`/proc/${pid}/status`);
  return { rss: bytes('VmRSS'), peak: bytes('VmHWM') };
}

/**
 * Of the resident memory, what the process allocated itself (Anonymous: heaps, stacks) and what is
 * file-backed (the node binary's code, builtins and ICU data, libraries: shared with every process
 * that maps the same files and dropped by the kernel under pressure), in bytes.
 */
export function residentSplit(pid: number): { anonymous: number; fileBacked: number } {
  const bytes = procBytes(`/proc/${pid}/smaps_rollup`);
  return { anonymous: bytes('Anonymous'), fileBacked: bytes('Rss') - bytes('Anonymous') };
}

/** CPU use of a process over a window, as a fraction of one core (1.0 = one core busy). */
export class CpuWindow {
  readonly #pid: number;
  readonly #startCpu: number;
  readonly #startAt = process.hrtime.bigint();

  constructor(pid: number) {
    this.#pid = pid;
    this.#startCpu = cpuMs(pid);
  }

  /** Fraction of one core used since construction, and the window length in ms. */
  end(): { cores: number; wallMs: number } {
    const wallMs = Number(process.hrtime.bigint() - this.#startAt) / 1e6;
    return { cores: (cpuMs(this.#pid) - this.#startCpu) / wallMs, wallMs };
  }
}

/** CPU busy on the whole machine over a window, in cores (others' processes included). */
export class MachineCpuWindow {
  readonly #start = machineTicks();

  /** Cores busy since construction (all processes). */
  end(): number {
    const now = machineTicks();
    const total = now.total - this.#start.total;
    return total > 0 ? ((now.busy - this.#start.busy) / total) * now.cpus : 0;
  }
}

function machineTicks(): { busy: number; total: number; cpus: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const fields = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  const total = fields.reduce((a, b) => a + b, 0);
  const cpus = lines.filter((l) => /^cpu\d/.test(l)).length;
  return { busy: total - idle, total, cpus };
}

/**
 * Kernel socket queues of one loopback TCP connection from `ss`: what the sender's kernel holds
 * unsent/unacked (Send-Q on the server side) and what the receiver has not read (Recv-Q on the client side).
 */
export function kernelQueues(serverPort: number, clientPort: number): { serverSendQ: number; clientRecvQ: number } | null {
  let out: string;
  try {
    out = execFileSync('ss', ['-tnH', 'state', 'established'], { encoding: 'utf8' });
  } catch {
    return null; // no ss (iproute2): the in-process backlog figure still stands
  }
  let serverSendQ = -1;
  let clientRecvQ = -1;
  for (const line of out.split('\n')) {
    const [recvQ, sendQ, local, peer] = line.trim().split(/\s+/);
    if (!local || !peer) continue;
    if (local.endsWith(`:${serverPort}`) && peer.endsWith(`:${clientPort}`)) serverSendQ = Number(sendQ);
    if (local.endsWith(`:${clientPort}`) && peer.endsWith(`:${serverPort}`)) clientRecvQ = Number(recvQ);
  }
  return serverSendQ < 0 && clientRecvQ < 0 ? null : { serverSendQ: Math.max(0, serverSendQ), clientRecvQ: Math.max(0, clientRecvQ) };
}

/** A loopback port that was free a moment ago (node-media-server cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Read and write system calls so far (/proc/<pid>/io syscr/syscw, all threads) and the main thread's
 * context switches (voluntary: it slept waiting for I/O — one per event-loop wake-up, roughly).
 * Caveat for comparisons: syscr/syscw count read/readv/write/writev (Node's libuv) but not
 * recv/send (nginx reads with recv), so only the write figure compares across servers.
 */
export function syscallCounts(pid: number): { reads: number; writes: number; wakeups: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { reads: field(io, 'syscr'), writes: field(io, 'syscw'), wakeups: field(status, 'voluntary_ctxt_switches') };
}

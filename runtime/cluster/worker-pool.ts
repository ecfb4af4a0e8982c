import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Socket } from 'node:net';
import { NODE_FLAGS } from '../../bin/node-runtime.cjs';
import { TypedEmitter } from '../common/typed-emitter.ts';
import type { Logger } from '../log/logger.ts';
import { WORKER_COMMAND, WORKER_ENV, type ConnectionMessage, type WorkerMessage, type WorkerRequest, type WorkerSettings } from './messages.ts';

/** A request a worker did not answer in this long fails (the worker may be stuck or gone). */
const REQUEST_TIMEOUT_MS = 10_000;
/** A worker that lived this long before dying is restarted after the first delay again. */
const STABLE_LIFE_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker's stdout line longer than this is no log record of ours: dropped. */
const MAX_LINE_CHARS = 1024 * 1024;

export interface WorkerPoolOptions {
  processes: number;
  restartDelayMs: number;
  /** What a worker needs besides its index (its HTTP socket path is made per index). */
  settings: (index: number) => WorkerSettings;
  /** Every complete line a worker writes on stdout (its JSON log records). */
  onLogLine: (line: string) => void;
  log: Logger;
}

export type WorkerPoolEvents = {
  /** A worker is up (first start or restart) and takes connections. */
  ready: [index: number];
  /** A worker process ended; `expected` when the pool stopped it. */
  exit: [index: number, expected: boolean, code: number | null, signal: NodeJS.Signals | null];
  message: [index: number, message: WorkerMessage];
};

interface Slot {
  child: ChildProcess | null;
  ready: boolean;
  startedAt: number;
  crashesInARow: number;
  restartTimer: NodeJS.Timeout | null;
}

/**
 * The worker processes of process distribution: `fms-runtime __worker` children forked with Node's
 * child_process (an IPC channel with 'advanced' serialization, so Buffers and socket handles
 * travel), each in a numbered slot. A worker that dies unexpectedly is started again in its slot,
 * after restartDelayMs, doubling for each crash in a row (up to 30 s). Requests to a worker carry
 * an id and are answered once, or fail after a timeout or with the worker.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[];
  readonly #pending = new Map<number, { worker: number; resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  #nextRequestId = 1;
  #stopping = false;

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
    this.#slots = Array.from({ length: options.processes }, () => ({ child: null, ready: false, startedAt: 0, crashesInARow: 0, restartTimer: null }));
  }

  get size(): number {
    return this.#slots.length;
  }

  isReady(index: number): boolean {
    return this.#slots[index]?.ready ?? false;
  }

  /** The pid of a worker (null while it is not running). */
  pid(index: number): number | null {
    return this.#slots[index]?.child?.pid ?? null;
  }

  /** Starts every worker; resolves once all are ready (rejects if one exits first). */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((_, index) => this.#spawn(index)));
  }

  #spawn(index: number): Promise<void> {
    const slot = this.#slots[index]!;
    slot.restartTimer = null;
    const { entry, execArgv } = workerEntry();
    const child = fork(entry, [WORKER_COMMAND], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      env: { ...process.env, [WORKER_ENV]: JSON.stringify(this.#options.settings(index)) },
    });
    slot.child = child;
    slot.ready = false;
    slot.startedAt = Date.now();
    this.#pipeLines(child);
    return new Promise((resolve, reject) => {
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          slot.ready = true;
          resolve();
          this.emit('ready', index);
          return;
        }
        if (message.type === 'reply') return this.#settle(message);
        this.emit('message', index, message);
      });
      child.once('exit', (code, signal) => {
        const wasReady = slot.ready;
        slot.ready = false;
        slot.child = null;
        for (const [id, pending] of this.#pending) {
          if (pending.worker !== index) continue;
          clearTimeout(pending.timer);
          this.#pending.delete(id);
          pending.reject(new Error(`worker ${index} exited`));
        }
        this.emit('exit', index, this.#stopping, code, signal);
        if (!wasReady) reject(new Error(`worker ${index} exited during start (code ${code}, signal ${signal})`));
        if (!this.#stopping) this.#scheduleRestart(index);
      });
    });
  }

  #scheduleRestart(index: number): void {
    const slot = this.#slots[index]!;
    slot.crashesInARow = Date.now() - slot.startedAt > STABLE_LIFE_MS ? 1 : slot.crashesInARow + 1;
    const delay = Math.min(MAX_RESTART_DELAY_MS, this.#options.restartDelayMs * 2 ** (slot.crashesInARow - 1));
    this.#options.log.warn({ worker: index, restartInMs: delay }, 'worker process ended unexpectedly; restarting it');
    slot.restartTimer = setTimeout(() => {
      this.#spawn(index).catch((error: unknown) => this.#options.log.error({ worker: index, err: (error as Error).message }, 'worker restart failed'));
    }, delay);
  }

  /** Splits a worker's stdout into lines (its log records) for the primary's own log. */
  #pipeLines(child: ChildProcess): void {
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > MAX_LINE_CHARS) partial = '';
      for (const line of lines) if (line) this.#options.onLogLine(line);
    });
  }

  /** Sends a connection (with its socket handle) to a worker; false if it is not running. */
  sendConnection(index: number, message: ConnectionMessage, socket: Socket, keepOpen: boolean): Promise<boolean> {
    const child = this.#slots[index]?.child;
    if (!child?.connected || !this.#slots[index]!.ready) return Promise.resolve(false);
    return new Promise((resolve) => {
      child.send(message, socket, { keepOpen }, (error) => resolve(!error));
    });
  }

  /** Asks one worker; resolves with its answer. */
  request<T = unknown>(index: number, request: WorkerRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const child = this.#slots[index]?.child;
    if (!child?.connected) return Promise.reject(new Error(`worker ${index} is not running`));
    const id = this.#nextRequestId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`worker ${index} did not answer ${request.op} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { worker: index, resolve: resolve as (value: unknown) => void, reject, timer });
      child.send({ type: 'request', id, request });
    });
  }

  /** Asks every running worker; a worker that fails or is down gives an Error in its place. */
  requestAll<T = unknown>(request: WorkerRequest): Promise<(T | Error)[]> {
    return Promise.all(this.#slots.map((_, index) => this.request<T>(index, request).catch((error: unknown) => error as Error)));
  }

  #settle(message: Extract<WorkerMessage, { type: 'reply' }>): void {
    const pending = this.#pending.get(message.id);
    if (!pending) return; // timed out already
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(new Error(message.error));
  }

  /** Kills a worker the hard way (tests of crash handling; the pool restarts it). */
  kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): void {
    this.#slots[index]?.child?.kill(signal);
  }

  /** Server shutdown: each worker shuts down its instances and exits; one that takes longer than `graceMs` is killed. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#slots.map(async (slot, index) => {
        if (slot.restartTimer) clearTimeout(slot.restartTimer);
        const child = slot.child;
        if (!child) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        this.request(index, { op: 'shutdown' }, graceMs).catch(() => child.kill('SIGTERM'));
        await exited;
        clearTimeout(killer);
      }),
    );
  }
}

/**
 * What a worker runs: the same program as the primary with the hidden `__worker` command — the
 * compiled dist/main.js, or runtime/main.ts when the sources run under tsx (tests) — with the
 * runtime's node flags (bin/node-runtime.cjs) and whatever else this process was started with.
 */
function workerEntry(): { entry: string; execArgv: string[] } {
  const here = import.meta.filename;
  const sources = here.endsWith('.ts');
  const entry = sources ? path.join(path.dirname(here), '..', 'main.ts') : path.join(path.dirname(here), 'main.js');
  const missing = NODE_FLAGS.filter((flag: string) => !process.execArgv.includes(flag));
  return { entry, execArgv: [...missing, ...process.execArgv] };
}

import { fstatSync } from 'node:fs';
import net from 'node:net';
import { pino } from 'pino';

/**
 * Where the JSON log lines go: stdout.
 *
 * When stdout is a pipe or a socket (a log collector: journald, docker, a shell pipe) it is written
 * through an asynchronous libuv stream on fd 1, bounded in bytes. Why not pino.destination (sonic-
 * boom): on a full non-blocking pipe it sleeps 100 ms per EAGAIN before retrying, which capped
 * trace() at a few hundred 2 KB lines per second while its buffer grew without limit; and not
 * process.stdout: on Linux it writes pipes synchronously, so a collector that stops reading would
 * stop the whole server. A collector that falls `maxBufferedBytes` behind loses lines instead — the
 * server keeps serving — and once it catches up it gets one record saying how many were dropped.
 * Files and terminals keep pino.destination (they do not answer EAGAIN).
 */
export function createStdoutSink(maxBufferedBytes: number): pino.DestinationStream {
  let kind: 'stream' | 'other' = 'other';
  try {
    const stat = fstatSync(1);
    if (stat.isFIFO() || stat.isSocket()) kind = 'stream';
  } catch {
    // fd 1 closed or unknown: pino.destination reports its own errors
  }
  if (kind === 'other') return pino.destination({ fd: 1, sync: false });
  return new BoundedSink(new net.Socket({ fd: 1, readable: false, writable: true }), maxBufferedBytes);
}

/** Lines are gathered up to this many characters, or for FLUSH_DELAY_MS, into one write. */
const BATCH_CHARS = 64 * 1024;
const FLUSH_DELAY_MS = 2;

/**
 * A line writer in front of a stream: lines go out in batches (up to 64 KB or 2 ms; a write per line
 * cost a system call each, half the time of a trace — trace records arrive one task at a time, so
 * batching per event-loop turn gathered one line), and past `maxBufferedBytes` unsent it drops lines
 * and counts them.
 */
export class BoundedSink {
  readonly #target: NodeJS.WritableStream & { writableLength: number };
  readonly #maxBufferedBytes: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | null = null;
  #dropped = 0;
  #broken = false;
  readonly #flushNow = (): void => this.#flush();

  constructor(target: NodeJS.WritableStream & { writableLength: number }, maxBufferedBytes: number) {
    this.#target = target;
    this.#maxBufferedBytes = maxBufferedBytes;
    target.on('drain', () => this.#reportDropped());
    // EPIPE and the like: the reader is gone; nothing more can be logged there, and nothing must throw.
    target.on('error', () => (this.#broken = true));
  }

  /** Lines dropped since the last report. */
  get dropped(): number {
    return this.#dropped;
  }

  write(line: string): boolean {
    if (this.#broken) return true;
    if (this.#dropped > 0 || this.#target.writableLength + this.#pendingBytes > this.#maxBufferedBytes) {
      this.#dropped++;
      return true;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (this.#pendingBytes >= BATCH_CHARS) this.#flush();
    else this.#timer ??= setTimeout(this.#flushNow, FLUSH_DELAY_MS);
    return true;
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.length === 0) return;
    const text = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    if (!this.#broken) this.#target.write(text);
  }

  #reportDropped(): void {
    if (this.#dropped === 0 || this.#broken) return;
    this.#flush(); // lines taken before the drops come first
    const record = { level: 40, time: Date.now(), pid: process.pid, budget: 'log.stdoutMaxBufferedBytes', dropped: this.#dropped, msg: 'log lines dropped: stdout did not keep up' };
    this.#dropped = 0;
    this.#target.write(`${JSON.stringify(record)}\n`);
  }

  /**
   * Hands what is pending to the stream now (pino's flush at shutdown); the stream writes on by
   * itself. `callback` runs once the stream has written everything (or cannot): the process may end
   * itself right after.
   */
  flush(callback?: (error?: Error) => void): void {
    this.#flush();
    if (!callback) return;
    const written = (): void => {
      if (this.#broken || this.#target.writableLength === 0) callback();
      else setTimeout(written, 5);
    };
    written();
  }
}

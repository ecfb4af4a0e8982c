/**
 * Persistent shared objects on disk: `<dataDir>/<app>/<instance>/<name>.fso.json`, written at most
 * `flushDelayMs` after a change, on flush(), on last release and on close(). Durable means: written
 * to a temp file, fsynced, renamed over the file, and the folder fsynced — only then does a write
 * report true (so.flush() answers with it). A file that does not parse, or is larger than any
 * shared object the budget accepts, is moved aside to `<file>.corrupt-<ms>` (one log line). Loading
 * is asynchronous too: read off the event loop, parsed a slot (line) at a time.
 *
 * A write never re-encodes the SO: the file is assembled from each slot's stored form, kept since
 * the slot last changed (shared-object-file-format.ts), and handed to the kernel with writev off
 * the event loop. Each SO's file operations run one after the other on its `io` chain, which never
 * rejects (failures are logged and the SO stays dirty, so the next change or flush tries again).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import { decodeSoFileInSlices, MAX_FILE_FRAME_BYTES, SO_FILE_FOOTER, SO_FILE_SEPARATOR, soFileHeader, type DecodedSoFile } from './shared-object-file-format.ts';
import { sharedObjectNameProblem } from './shared-object-names.ts';
import type { SharedObjectState } from './shared-object-state.ts';

export interface SharedObjectFilesOptions {
  /** The instance's folder: <dataDir>/<app>/<instance>. */
  dir: string;
  log: Logger;
  /** Longest a change waits before it is written. */
  flushDelayMs: number;
  /** Largest shared object the budget accepts (sharedObjects.maxObjectBytes); larger files are not loaded. */
  maxObjectBytes: number;
}

const FILE_SUFFIX = '.fso.json';
/** Temp files are `<file>.tmp-<pid>-<n>`; a crash leaves them behind (removeStaleTempFiles). */
const TEMP_MARK = `${FILE_SUFFIX}.tmp-`;
/** Buffers per writev call (Linux IOV_MAX is 1024). */
const WRITEV_BATCH = 1024;

export class SharedObjectFiles {
  readonly dir: string;
  readonly #log: Logger;
  /** A full disk fails every write of every SO: one line per interval says so. */
  readonly #writeFailures: RateLimitedLog;
  readonly #flushDelayMs: number;
  readonly #maxFileBytes: number;
  #tmpCounter = 0;

  constructor(options: SharedObjectFilesOptions) {
    this.dir = options.dir;
    this.#log = options.log;
    this.#writeFailures = new RateLimitedLog(options.log);
    this.#flushDelayMs = options.flushDelayMs;
    this.#maxFileBytes = options.maxObjectBytes + MAX_FILE_FRAME_BYTES;
  }

  /** File of a persistent SO; null when the name is not acceptable. */
  fileOf(name: string): string | null {
    if (sharedObjectNameProblem(name)) return null;
    const file = path.resolve(this.dir, ...name.split('/')) + FILE_SUFFIX;
    return file.startsWith(this.dir + path.sep) ? file : null;
  }

  /** Names of every persistent SO with a file (loaded or not); [] when there is no folder yet. */
  storedNames(): string[] {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.dir, { recursive: true, encoding: 'utf8' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.#log.error({ dir: this.dir, err: errorFields(error) }, 'shared object folder unreadable');
      return [];
    }
    return entries
      .filter((entry) => entry.endsWith(FILE_SUFFIX))
      .map((entry) => entry.slice(0, -FILE_SUFFIX.length).split(path.sep).join('/'))
      .filter((name) => sharedObjectNameProblem(name) === null);
  }

  /** Deletes the file of an SO that is not loaded, now. False (one log line) when that fails. */
  removeStored(name: string): boolean {
    const file = this.fileOf(name);
    if (!file) return false;
    try {
      fs.rmSync(file, { force: true });
      return true;
    } catch (error) {
      this.#log.error({ so: name, file, err: errorFields(error) }, 'shared object file removal failed');
      return false;
    }
  }

  /** Whether a persistent SO of that name has a file to load (one stat). */
  hasFile(name: string): boolean {
    const file = this.fileOf(name);
    return file !== null && fs.existsSync(file);
  }

  /**
   * What a newly opened persistent SO's file holds: null when there is none (or it was unreadable
   * or moved aside, logged). Read off the event loop and parsed a slot at a time, yielding between
   * slices, so a large SO never stalls other work in one piece.
   */
  async load(state: SharedObjectState): Promise<DecodedSoFile | null> {
    const file = this.fileOf(state.name)!;
    let bytes: Buffer;
    try {
      const size = (await fsp.stat(file)).size;
      if (size > this.#maxFileBytes) {
        this.#quarantine(state, file, `file of ${size} bytes is larger than sharedObjects.maxObjectBytes allows`);
        return null;
      }
      bytes = await fsp.readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      this.#log.error({ so: state.name, file, err: errorFields(error) }, 'shared object file unreadable; starting empty');
      return null;
    }
    try {
      return await decodeSoFileInSlices(bytes, () => nextTurn());
    } catch (error) {
      this.#quarantine(state, file, (error as Error).message);
      return null;
    }
  }

  /** A persistent SO changed: it is written at most flushDelayMs from the first unwritten change. */
  scheduleWrite(state: SharedObjectState): void {
    state.dirty = true;
    if (!state.flushTimer) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      state.flushDone = { promise, resolve };
      state.flushTimer = setTimeout(() => void this.write(state), this.#flushDelayMs);
      state.flushTimer.unref();
    }
  }

  /**
   * Writes a dirty persistent SO (queued behind its earlier file operations). Resolves true once
   * this write — or, with nothing to write, the last file operation — made it durable.
   */
  write(state: SharedObjectState): Promise<boolean> {
    this.#cancelFlushTimer(state);
    if (!state.persistent || !state.dirty) return state.io;
    const file = this.fileOf(state.name)!;
    // The pieces are the slots' stored forms as they are now: immutable buffers, so this snapshot
    // costs one array entry per slot, however large the values.
    const pieces: Buffer[] = [soFileHeader(state.name, state.version)];
    for (const cost of state.slotCosts.values()) {
      if (pieces.length > 1) pieces.push(SO_FILE_SEPARATOR);
      pieces.push(cost.encoded!);
    }
    pieces.push(SO_FILE_FOOTER);
    state.dirty = false;
    state.io = state.io.then(() =>
      this.#writeDurably(file, pieces).then(
        () => true,
        (error: unknown) => {
          state.dirty = true; // the next change or flush tries again
          this.#writeFailures.error('shared object write', { code: ErrorCode.StorageWriteFailed, so: state.name, file, err: errorFields(error) }, 'shared object write failed');
          return false;
        },
      ),
    );
    return state.io;
  }

  removeFile(state: SharedObjectState): void {
    const file = this.fileOf(state.name)!;
    state.dirty = false;
    this.#cancelFlushTimer(state);
    state.io = state.io.then(() =>
      fsp.rm(file, { force: true }).then(
        () => true,
        (error: unknown) => {
          this.#log.error({ so: state.name, file, err: errorFields(error) }, 'shared object file removal failed');
          return false;
        },
      ),
    );
  }

  /** Stops the flush timer; whoever waits for it is released once the file work queued now is done. */
  #cancelFlushTimer(state: SharedObjectState): void {
    if (state.flushTimer) clearTimeout(state.flushTimer);
    state.flushTimer = null;
    const done = state.flushDone;
    state.flushDone = null;
    if (done) queueMicrotask(() => void state.io.then(() => done.resolve()));
  }

  #quarantine(state: SharedObjectState, file: string, reason: string): void {
    const movedTo = `${file}.corrupt-${Date.now()}`;
    try {
      fs.renameSync(file, movedTo);
      this.#log.warn({ so: state.name, file, movedTo, reason }, 'corrupt shared object file moved aside; starting empty');
    } catch (error) {
      this.#log.error({ so: state.name, file, reason, err: errorFields(error) }, 'corrupt shared object file could not be moved aside; starting empty');
    }
  }

  /** Temp file, every byte written (a short write is an error), fsync, rename, fsync of the folder. */
  async #writeDurably(file: string, pieces: Buffer[]): Promise<void> {
    const dir = path.dirname(file);
    await fsp.mkdir(dir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${++this.#tmpCounter}`;
    try {
      const handle = await fsp.open(tmp, 'w', 0o644);
      try {
        let position = 0;
        for (let i = 0; i < pieces.length; i += WRITEV_BATCH) {
          const batch = pieces.slice(i, i + WRITEV_BATCH);
          const expected = batch.reduce((sum, piece) => sum + piece.length, 0);
          // libuv keeps writing until everything is written or an error stops it, then reports what it wrote.
          const { bytesWritten } = await handle.writev(batch, position);
          if (bytesWritten !== expected) throw Object.assign(new Error(`short write: ${bytesWritten} of ${expected} bytes (disk full?)`), { code: 'ENOSPC' });
          position += bytesWritten;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(tmp, file);
    } catch (error) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
    await syncFolder(dir);
  }
}

/** fsync of a folder: makes a rename in it durable. */
async function syncFolder(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Start-up housekeeping of the data folder: temp files a killed process left behind (`*.fso.json.tmp-<pid>-<n>`
 * of any process but this one) are removed. Returns how many; never throws (one log line on failure).
 */
export function removeStaleTempFiles(dataDir: string, log: Logger): number {
  let entries: string[];
  try {
    entries = fs.readdirSync(dataDir, { recursive: true, encoding: 'utf8' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ dir: dataDir, err: errorFields(error) }, 'shared object folder unreadable');
    return 0;
  }
  const ours = `.tmp-${process.pid}-`;
  let removed = 0;
  for (const entry of entries) {
    const mark = entry.lastIndexOf(TEMP_MARK);
    if (mark < 0 || entry.startsWith(ours, mark + FILE_SUFFIX.length)) continue;
    try {
      fs.rmSync(path.join(dataDir, entry), { force: true });
      removed++;
    } catch (error) {
      log.warn({ file: path.join(dataDir, entry), err: errorFields(error) }, 'stale shared object temp file could not be removed');
    }
  }
  return removed;
}

export function errorFields(error: unknown): { message: string; code?: string } {
  const e = error as { message?: string; code?: string };
  return { message: e?.message ?? String(error), code: e?.code };
}

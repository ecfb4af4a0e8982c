/**
 * Persistent shared objects on disk: `<dataDir>/<app>/<instance>/<name>.fso.json`, written
 * atomically (temp file, fsync, rename) at most `flushDelayMs` after a change, on flush(), on last
 * release and on close(). A file that does not parse is moved aside to `<file>.corrupt-<ms>` (one
 * log line). Each SO's file operations run one after the other on its `io` chain, which never
 * rejects (failures are logged and the SO stays dirty, so the next change or flush tries again).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import { decodeSoFile, encodeSoFile } from './shared-object-file-format.ts';
import { sharedObjectNameProblem } from './shared-object-names.ts';
import type { SharedObjectState } from './shared-object-state.ts';

export interface SharedObjectFilesOptions {
  /** The instance's folder: <dataDir>/<app>/<instance>. */
  dir: string;
  log: Logger;
  /** Longest a change waits before it is written. */
  flushDelayMs: number;
  /** Larger files are not loaded (moved aside as corrupt). */
  maxFileBytes: number;
}

const FILE_SUFFIX = '.fso.json';

export class SharedObjectFiles {
  readonly dir: string;
  readonly #log: Logger;
  readonly #flushDelayMs: number;
  readonly #maxFileBytes: number;
  #tmpCounter = 0;

  constructor(options: SharedObjectFilesOptions) {
    this.dir = options.dir;
    this.#log = options.log;
    this.#flushDelayMs = options.flushDelayMs;
    this.#maxFileBytes = options.maxFileBytes;
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

  /** Fills a newly opened persistent SO from its file, if there is one. */
  load(state: SharedObjectState): void {
    const file = this.fileOf(state.name)!;
    let text: string;
    try {
      if (fs.statSync(file).size > this.#maxFileBytes) return this.#quarantine(state, file, 'file too large');
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.#log.error({ so: state.name, file, err: errorFields(error) }, 'shared object file unreadable; starting empty');
      return;
    }
    try {
      const saved = decodeSoFile(text);
      state.version = saved.version;
      for (const [slot, value] of saved.slots) state.data.set(slot, value);
      state.history.reset(saved.version); // which slot changed when is not in the file
    } catch (error) {
      this.#quarantine(state, file, (error as Error).message);
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

  /** Writes a dirty persistent SO (queued behind its earlier file operations). */
  write(state: SharedObjectState): Promise<void> {
    this.#cancelFlushTimer(state);
    if (!state.persistent || !state.dirty) return state.io;
    const file = this.fileOf(state.name)!;
    const text = encodeSoFile(state.name, state.version, state.data);
    state.dirty = false;
    state.io = state.io.then(() =>
      this.#writeAtomic(file, text).catch((error: unknown) => {
        state.dirty = true; // the next change or flush tries again
        this.#log.error({ so: state.name, file, err: errorFields(error) }, 'shared object write failed');
      }),
    );
    return state.io;
  }

  removeFile(state: SharedObjectState): void {
    const file = this.fileOf(state.name)!;
    state.dirty = false;
    this.#cancelFlushTimer(state);
    state.io = state.io.then(() =>
      fsp.rm(file, { force: true }).catch((error: unknown) => {
        this.#log.error({ so: state.name, file, err: errorFields(error) }, 'shared object file removal failed');
      }),
    );
  }

  /** Stops the flush timer; whoever waits for it is released once the file work queued now is done. */
  #cancelFlushTimer(state: SharedObjectState): void {
    if (state.flushTimer) clearTimeout(state.flushTimer);
    state.flushTimer = null;
    const done = state.flushDone;
    state.flushDone = null;
    if (done) queueMicrotask(() => void state.io.then(done.resolve));
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

  async #writeAtomic(file: string, text: string): Promise<void> {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${++this.#tmpCounter}`;
    try {
      const handle = await fsp.open(tmp, 'w', 0o644);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(tmp, file);
    } catch (error) {
      await fsp.rm(tmp, { force: true });
      throw error;
    }
  }
}

export function errorFields(error: unknown): { message: string; code?: string } {
  const e = error as { message?: string; code?: string };
  return { message: e?.message ?? String(error), code: e?.code };
}

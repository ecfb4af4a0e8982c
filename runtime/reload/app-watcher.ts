import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { TypedEmitter } from '../rtmp/typed-emitter.ts';

/** Scripts, and Application.xml because its settings (timeouts, idle time, lib path) are read per instance. */
const SCRIPT_FILE = /(\.(asc|js)|(^|[\\/])Application\.xml)$/i;
/** Folders inside an app that hold data, not code: never watched, never hashed. */
const DATA_FOLDERS = new Set(['streams', 'sharedobjects', 'node_modules']);
const MAX_HASHED_FILES = 2000;

export type AppWatcherEvents = {
  /** The script sources of an app changed (by content, not just mtime). */
  changed: [appName: string];
  error: [error: Error];
};

/**
 * Watches the applications folder and reports, per app, when the content of its script files
 * changes: debounced (editors write in several steps) and keyed by a hash of the sources, so a
 * save that changes nothing reloads nothing.
 */
export class AppWatcher extends TypedEmitter<AppWatcherEvents> {
  readonly #appsDir: string;
  readonly #debounceMs: number;
  readonly #hashes = new Map<string, string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #watcher: FSWatcher | null = null;

  constructor(appsDir: string, debounceMs = 200) {
    super();
    this.#appsDir = path.resolve(appsDir);
    this.#debounceMs = debounceMs;
  }

  /** Resolves once the initial scan is done (changes after that are reported). */
  async start(): Promise<void> {
    for (const entry of readdirSync(this.#appsDir, { withFileTypes: true })) {
      if (entry.isDirectory()) this.#hashes.set(entry.name, sourceHash(path.join(this.#appsDir, entry.name)));
    }
    this.#watcher = watch(this.#appsDir, {
      ignoreInitial: true,
      depth: 4,
      ignored: (file) => path.relative(this.#appsDir, file).split(path.sep).some((part, i) => i > 0 && DATA_FOLDERS.has(part)),
    });
    this.#watcher.on('all', (_event, file) => this.#touched(file));
    this.#watcher.on('error', (error) => this.emit('error', error as Error));
    await new Promise<void>((resolve) => this.#watcher!.once('ready', () => resolve()));
  }

  #touched(file: string): void {
    const relative = path.relative(this.#appsDir, file);
    const appName = relative.split(path.sep)[0];
    if (!appName || appName.startsWith('..')) return;
    if (relative !== appName && !SCRIPT_FILE.test(file)) return;
    clearTimeout(this.#timers.get(appName));
    this.#timers.set(appName, setTimeout(() => this.#check(appName), this.#debounceMs));
  }

  #check(appName: string): void {
    this.#timers.delete(appName);
    const hash = sourceHash(path.join(this.#appsDir, appName));
    if (this.#hashes.get(appName) === hash) return;
    this.#hashes.set(appName, hash);
    this.emit('changed', appName);
  }

  async close(): Promise<void> {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#watcher?.close();
    this.#watcher = null;
  }
}

/** Hash of every script file of an app (path + content); '' for a missing folder. */
function sourceHash(appDir: string): string {
  const hash = createHash('sha256');
  const files: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed while we looked: the folder's absence is part of the hash
    }
    for (const entry of entries) {
      if (files.length >= MAX_HASHED_FILES) return;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && depth < 4 && !DATA_FOLDERS.has(entry.name)) walk(full, depth + 1);
      else if (entry.isFile() && SCRIPT_FILE.test(entry.name)) files.push(full);
    }
  };
  try {
    if (!statSync(appDir).isDirectory()) return '';
  } catch {
    return '';
  }
  walk(appDir, 0);
  for (const file of files.sort()) {
    hash.update(path.relative(appDir, file));
    try {
      hash.update(readFileSync(file));
    } catch {
      hash.update('(unreadable)'); // vanished between listing and reading: the next event rehashes
    }
  }
  return hash.digest('hex');
}

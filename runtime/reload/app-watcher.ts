import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { TypedEmitter } from '../common/typed-emitter.ts';

/** Scripts, and Application.xml because its settings (timeouts, idle time, lib path) are read per instance. */
const SCRIPT_FILE = /(\.(asc|js)|(^|[\\/])Application\.xml)$/i;
/** Folders inside an app that hold data, not code: never watched, never hashed. */
const DATA_FOLDERS = new Set(['streams', 'sharedobjects', 'node_modules']);
const MAX_HASHED_FILES = 2000;

export type AppWatcherEvents = {
  /** The script sources of an app changed (by content, not just mtime). */
  changed: [appName: string];
  /** A script file in a library folder (scripts.libPaths) changed by content: absolute path. */
  libraryChanged: [file: string];
  error: [error: Error];
};

/**
 * Watches the applications folder and reports, per app, when the content of its script files
 * changes: debounced (editors write in several steps) and keyed by a hash of the sources, so a
 * save that changes nothing reloads nothing.
 */
export class AppWatcher extends TypedEmitter<AppWatcherEvents> {
  readonly #appsDir: string;
  readonly #libDirs: string[];
  readonly #debounceMs: number;
  readonly #hashes = new Map<string, string>();
  /** Library script files by absolute path → content hash. */
  readonly #libHashes = new Map<string, string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #watcher: FSWatcher | null = null;

  constructor(appsDir: string, debounceMs: number, libDirs: string[] = []) {
    super();
    this.#appsDir = path.resolve(appsDir);
    this.#libDirs = libDirs.map((d) => path.resolve(d));
    this.#debounceMs = debounceMs;
  }

  /** Resolves once the initial scan is done (changes after that are reported). */
  async start(): Promise<void> {
    for (const entry of readdirSync(this.#appsDir, { withFileTypes: true })) {
      if (entry.isDirectory()) this.#hashes.set(entry.name, sourceHash(path.join(this.#appsDir, entry.name)));
    }
    for (const dir of this.#libDirs) for (const file of scriptFiles(dir)) this.#libHashes.set(file, fileHash(file));
    this.#watcher = watch([this.#appsDir, ...this.#libDirs], {
      ignoreInitial: true,
      depth: 4,
      // Only script files and folders are watched, and a name with another extension is passed over
      // without even a stat: a script churning through thousands of its own data files (File
      // writes, remove(true)) would otherwise cost a watch, a stat per folder re-read and an event
      // each (a 13,000-file remove: 420–510 ms event-loop stalls, 6–8 s instead of 0.5 s). A folder
      // whose name has a dot ("v1.2") is passed over too.
      ignored: (file, stats) => !this.#mayHoldScripts(file, stats),
    });
    this.#watcher.on('all', (_event, file) => this.#touched(file));
    this.#watcher.on('error', (error) => this.emit('error', error as Error));
    await new Promise<void>((resolve) => this.#watcher!.once('ready', () => resolve()));
  }

  /** Whether the watcher follows `file`: a script file, or a folder that may hold some. */
  #mayHoldScripts(file: string, stats?: { isFile(): boolean }): boolean {
    if (path.relative(this.#appsDir, file).split(path.sep).some((part, i) => i > 0 && DATA_FOLDERS.has(part))) return false;
    if (SCRIPT_FILE.test(file)) return true;
    return !path.basename(file).includes('.') && stats?.isFile() !== true;
  }

  #touched(file: string): void {
    if (this.#libDirs.some((dir) => file.startsWith(dir + path.sep))) {
      if (SCRIPT_FILE.test(file)) this.#debounce(`lib:${file}`, () => this.#checkLibrary(file));
      return;
    }
    const relative = path.relative(this.#appsDir, file);
    const appName = relative.split(path.sep)[0];
    if (!appName || appName.startsWith('..')) return;
    if (relative !== appName && !SCRIPT_FILE.test(file)) return;
    this.#debounce(appName, () => this.#check(appName));
  }

  #debounce(key: string, check: () => void): void {
    clearTimeout(this.#timers.get(key));
    this.#timers.set(key, setTimeout(() => {
      this.#timers.delete(key);
      check();
    }, this.#debounceMs));
  }

  #checkLibrary(file: string): void {
    const hash = fileHash(file);
    if (this.#libHashes.get(file) === hash) return;
    this.#libHashes.set(file, hash);
    this.emit('libraryChanged', file);
  }

  #check(appName: string): void {
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

/** Script files under a folder (data folders skipped, bounded depth and count), sorted. */
function scriptFiles(root: string): string[] {
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
  walk(root, 0);
  return files.sort();
}

/** Content hash of one file; '' when it is gone or unreadable. */
function fileHash(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return '';
  }
}

/** Hash of every script file of an app (path + content); '' for a missing folder. */
function sourceHash(appDir: string): string {
  try {
    if (!statSync(appDir).isDirectory()) return '';
  } catch {
    return '';
  }
  const hash = createHash('sha256');
  for (const file of scriptFiles(appDir)) {
    hash.update(path.relative(appDir, file));
    hash.update(fileHash(file) || '(unreadable)'); // vanished between listing and reading: the next event rehashes
  }
  return hash.digest('hex');
}

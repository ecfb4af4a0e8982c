/**
 * The host side of the script File class (fms-api §8): a per-instance table of open files and the
 * directory operations, every path confined by ScriptPaths and every script file protected by
 * ScriptFileGuard.
 *
 * FMS File methods are synchronous for the script. Reads and writes of an open file are
 * synchronous host calls (fs sync APIs on the thread that also moves media), so each is bounded by
 * scripts.fileMaxIoBytes. Work whose size the script does not choose call by call — listing or
 * removing a folder, copying a file, fsync — runs asynchronously while the script waits
 * (protocol.ts HostWaits), so it never stalls the event loop in one piece; File.list() stops at
 * scripts.fileMaxListEntries.
 *
 * Failures answer as FMS does — false / null / 0 — never an exception into the script. A refused
 * path (escape attempt, bad syntax, protected script file) is logged once per attempt through
 * `onRefused`; a budget hit or a failed write (disk full, read-only folder) through `onProblem`;
 * an ordinary failure (file missing, folder not empty) is not logged.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { promisify } from 'node:util';
import { ErrorCode, type ErrorCodeValue } from '../errors.ts';
import { copyUnlessAborted, folderNames, removeTree } from './folder-work.ts';
import { readBytes, readChars, readLine, safe, type OpenFile } from './open-file-reads.ts';
import { ScriptFileGuard } from './script-file-guard.ts';
import { FileAccessError, ScriptPaths, type ResolvedPath } from './script-paths.ts';

export type FileType = 'text' | 'binary' | 'utf8';
export type FileIoOp =
  | 'read' | 'readln' | 'readlns' | 'readAll' | 'readByte'
  | 'write' | 'writeByte'
  | 'eof' | 'position' | 'seek' | 'setPosition' | 'length' | 'close';
export type FileChangeOp = 'mkdir' | 'remove' | 'renameTo' | 'copyTo';

export interface FileInfo {
  /** Normalised script path, "/logs/a.txt". */
  name: string;
  exists: boolean;
  isFile: boolean;
  isDirectory: boolean;
  /** Bytes of a file; 0 for a directory (File.length of a folder lists it: host-api) or when missing. */
  length: number;
  lastModified: number | null;
  creationTime: number | null;
}

export interface ScriptFilesOptions {
  appDir: string;
  /** FMS VirtualDirectory entries, "/virtual;/native/dir". */
  virtualDirectories?: readonly string[];
  /** A path was refused (escape attempt, protected file): called once per attempt. */
  onRefused(input: string, reason: string): void;
  /**
   * A budget was hit (SCRIPT_FILE_TOO_LARGE) or a write failed (STORAGE_WRITE_FAILED); `budget`
   * names the config key (or 'file write'), what a rate-limited log line is keyed by.
   */
  onProblem?(code: ErrorCodeValue, budget: string, input: string, reason: string): void;
  /** Files the script may not change (default: protection by name only). */
  guard?: ScriptFileGuard;
  /** scripts.fileMaxIoBytes: largest read or write of one call (default 16 MiB). */
  maxIoBytes?: number;
  /** scripts.fileMaxListEntries: most entries list() returns (default 10,000). */
  maxListEntries?: number;
}

const MAX_OPEN_FILES = 64;
const fsync = promisify(fs.fsync);

interface OpenFlags {
  flags: string;
  canRead: boolean;
  canWrite: boolean;
  append: boolean;
  /** readWrite + create: create the file when missing, keep its content otherwise. */
  createIfMissing: boolean;
}

/**
 * FMS modes, combinable in one string ("create,readWrite", "read write"): read / write (truncate,
 * create) / readWrite (must exist unless combined with create) / append (create, writes at the end)
 * / create (truncate or create; read and write).
 */
function openFlags(mode: string): OpenFlags | null {
  const words = mode.split(/[\s,+|]+/).filter((word) => word !== '');
  const known = new Set(['read', 'write', 'readWrite', 'append', 'create']);
  if (words.length === 0 || words.some((word) => !known.has(word))) return null;
  const has = (word: string) => words.includes(word);
  const read = has('read') || has('readWrite');
  if (has('append')) return { flags: read ? 'a+' : 'a', canRead: read, canWrite: true, append: true, createIfMissing: false };
  if (has('write')) return { flags: read ? 'w+' : 'w', canRead: read, canWrite: true, append: false, createIfMissing: false };
  if (has('readWrite')) return { flags: 'r+', canRead: true, canWrite: true, append: false, createIfMissing: has('create') };
  if (has('create')) return { flags: 'w+', canRead: true, canWrite: true, append: false, createIfMissing: false };
  return { flags: 'r', canRead: true, canWrite: false, append: false, createIfMissing: false };
}

export class ScriptFiles {
  readonly #paths: ScriptPaths;
  readonly #guard: ScriptFileGuard;
  readonly #onRefused: (input: string, reason: string) => void;
  readonly #onProblem: NonNullable<ScriptFilesOptions['onProblem']>;
  readonly #maxIoBytes: number;
  readonly #maxListEntries: number;
  readonly #open = new Map<number, OpenFile>();
  #nextHandle = 1;

  constructor(options: ScriptFilesOptions) {
    this.#paths = new ScriptPaths(options.appDir, options.virtualDirectories ?? []);
    this.#guard = options.guard ?? new ScriptFileGuard();
    this.#onRefused = options.onRefused;
    this.#onProblem = options.onProblem ?? (() => undefined);
    this.#maxIoBytes = options.maxIoBytes ?? 16 * 1024 * 1024;
    this.#maxListEntries = options.maxListEntries ?? 10_000;
  }

  /** Read-ahead buffers of the open files: host memory the script holds. */
  get bufferedBytes(): number {
    let bytes = 0;
    for (const file of this.#open.values()) bytes += file.cache.length;
    return bytes;
  }

  /** Null when the path is refused (logged). */
  info(input: string): FileInfo | null {
    const target = this.#resolve(input);
    if (!target) return null;
    const stat = statOf(target.native);
    const isDirectory = stat?.isDirectory() === true;
    return {
      name: target.virtual,
      exists: stat !== null,
      isFile: stat?.isFile() === true,
      isDirectory,
      length: isDirectory ? 0 : (stat?.size ?? 0),
      lastModified: stat ? stat.mtimeMs : null,
      creationTime: stat ? stat.birthtimeMs || stat.ctimeMs : null,
    };
  }

  /**
   * Script paths of a directory's entries, sorted; null when refused, not a directory, or holding
   * more than scripts.fileMaxListEntries entries (logged: a cut list would be a silent loss). Read
   * a batch at a time off the event loop, and never more than one entry past the budget.
   */
  async list(input: string, signal: AbortSignal): Promise<string[] | null> {
    const target = this.#resolve(input);
    if (!target) return null;
    const names = await folderNames(target.native, this.#maxListEntries, signal).catch(() => undefined);
    if (names === undefined) return null;
    if (names === null) {
      this.#onProblem(ErrorCode.ScriptFileTooLarge, 'scripts.fileMaxListEntries', input, `folder has more than scripts.fileMaxListEntries (${this.#maxListEntries}) entries`);
      return null;
    }
    const base = target.virtual === '/' ? '' : target.virtual;
    return names.sort().map((name) => `${base}/${name}`);
  }

  /** mkdir / remove / renameTo / copyTo, done off the event loop; false when refused, failed or stopped by `signal`. */
  async change(input: string, op: FileChangeOp, arg: string | boolean, signal: AbortSignal): Promise<boolean> {
    const target = this.#resolve(input);
    if (!target) return false;
    switch (op) {
      case 'mkdir': {
        const dir = this.#resolve(`${target.virtual}/${String(arg)}`);
        return dir !== null && settled(fsp.mkdir(dir.native));
      }
      case 'remove': {
        if (target.isRoot || this.#protected(input, target)) return false;
        const isDirectory = statOf(target.native)?.isDirectory() === true;
        if (!isDirectory) return settled(fsp.unlink(target.native));
        return settled(arg === true ? removeTree(target.native, signal) : fsp.rmdir(target.native));
      }
      case 'renameTo':
      case 'copyTo': {
        const destination = this.#resolve(String(arg));
        if (!destination || destination.isRoot || (op === 'renameTo' && (target.isRoot || this.#protected(input, target)))) return false;
        if (this.#protected(String(arg), destination)) return false;
        // Never replace: a script overwriting its own main.asc by accident is worse than a false.
        if (statOf(destination.native) !== null) return false;
        if (op === 'renameTo') return settled(fsp.rename(target.native, destination.native));
        return settled(copyUnlessAborted(target.native, destination.native, fs.constants.COPYFILE_EXCL, signal));
      }
    }
  }

  /** A handle (> 0) or 0 when the file can't be opened that way. */
  open(input: string, type: FileType, mode: string): number {
    const target = this.#resolve(input);
    const flags = openFlags(mode);
    if (!target || !flags || this.#open.size >= MAX_OPEN_FILES) return 0;
    if (flags.canWrite && this.#protected(input, target)) return 0;
    if (statOf(target.native)?.isDirectory() === true) return 0;
    // "w" / "w+" truncate: opened without O_TRUNC, truncated only once the descriptor is checked.
    const truncate = flags.flags.startsWith('w');
    const fd = safe(() => {
      if (flags.createIfMissing && statOf(target.native) === null) fs.closeSync(fs.openSync(target.native, 'a'));
      const { O_CREAT, O_RDWR, O_WRONLY } = fs.constants;
      return fs.openSync(target.native, truncate ? O_CREAT | (flags.canRead ? O_RDWR : O_WRONLY) : flags.flags);
    }, -1);
    if (fd < 0) return 0;
    if (!openedWhereResolved(fd, target.native)) {
      safe(() => fs.closeSync(fd), undefined);
      this.#onRefused(input, 'path resolves outside its root (a folder changed between the check and the open)');
      return 0;
    }
    if (truncate && !safe(() => (fs.ftruncateSync(fd, 0), true), false)) {
      safe(() => fs.closeSync(fd), undefined);
      return 0;
    }
    const handle = this.#nextHandle++;
    const position = flags.append ? fs.fstatSync(fd).size : 0;
    this.#open.set(handle, { input, fd, encoding: type === 'binary' ? 'latin1' : 'utf8', ...flags, position, cache: Buffer.alloc(0), cacheStart: 0 });
    return handle;
  }

  /** One operation on an open file; `undefined` for an unknown handle. */
  io(handle: number, op: FileIoOp, arg: string | number | null): unknown {
    const file = this.#open.get(handle);
    if (!file) return op === 'eof' ? true : op === 'close' ? false : undefined;
    const size = () => fs.fstatSync(file.fd).size;
    switch (op) {
      case 'close':
        this.#open.delete(handle);
        return safe(() => (fs.closeSync(file.fd), true), false);
      case 'eof':
        return file.position >= size();
      case 'position':
        return file.position;
      case 'length':
        return size();
      case 'seek':
      case 'setPosition': {
        const next = op === 'seek' ? file.position + Number(arg) : Number(arg);
        if (!Number.isInteger(next) || next < 0 || next > size()) return false;
        file.position = next;
        return true;
      }
      case 'write': {
        const text = String(arg);
        // Every UTF-16 unit is at least one byte: too long is refused before encoding anything.
        if (text.length > this.#maxIoBytes) return this.#tooLarge(file, text.length);
        return this.#write(file, Buffer.from(text, file.encoding));
      }
      case 'writeByte':
        return this.#write(file, Buffer.from([Number(arg) & 0xff]));
      default:
        return file.canRead ? this.#read(file, op, Number(arg)) : null;
    }
  }

  /** File.flush(): fsync, off the event loop. True once what was written is on disk. */
  async flush(handle: number): Promise<boolean> {
    const file = this.#open.get(handle);
    if (!file) return false;
    try {
      await fsync(file.fd);
      return true;
    } catch (error) {
      this.#onProblem(ErrorCode.StorageWriteFailed, 'file write', file.input, `fsync failed: ${(error as Error).message}`);
      return false;
    }
  }

  closeAll(): void {
    for (const file of this.#open.values()) safe(() => fs.closeSync(file.fd), undefined);
    this.#open.clear();
  }

  /**
   * Every byte or false: writeSync may write less than asked (a disk filling up); it is called
   * again for the rest until all is written or it fails. The position moves by what was written.
   */
  #write(file: OpenFile, bytes: Buffer): boolean {
    if (!file.canWrite) return false;
    if (bytes.length > this.#maxIoBytes) return this.#tooLarge(file, bytes.length);
    file.cache = Buffer.alloc(0);
    let written = 0;
    try {
      while (written < bytes.length) {
        // Append mode writes at the end whatever the position (O_APPEND).
        const n = fs.writeSync(file.fd, bytes, written, bytes.length - written, file.append ? null : file.position + written);
        if (n <= 0) throw Object.assign(new Error('no progress (disk full?)'), { code: 'ENOSPC' });
        written += n;
      }
      return true;
    } catch (error) {
      this.#onProblem(ErrorCode.StorageWriteFailed, 'file write', file.input, `write failed after ${written} of ${bytes.length} bytes: ${(error as Error).message}`);
      return false;
    } finally {
      file.position = file.append ? safe(() => fs.fstatSync(file.fd).size, file.position + written) : file.position + written;
    }
  }

  #tooLarge(file: OpenFile, bytes: number): false {
    this.#onProblem(ErrorCode.ScriptFileTooLarge, 'scripts.fileMaxIoBytes', file.input, `write of ${bytes} bytes is over scripts.fileMaxIoBytes (${this.#maxIoBytes})`);
    return false;
  }

  #read(file: OpenFile, op: FileIoOp, n: number): unknown {
    switch (op) {
      case 'readByte': {
        const byte = readBytes(file, 1, this.#maxIoBytes);
        if (byte.length === 0) return -1;
        file.position += 1;
        return byte[0];
      }
      case 'read':
        return readChars(file, Math.max(0, Math.floor(n) || 0), this.#maxIoBytes);
      case 'readln':
        return readLine(file, this.#maxIoBytes);
      default: {
        // readAll / readlns(n): lines from the position on (a final newline adds no empty line).
        const limit = op === 'readlns' ? Math.max(0, Math.floor(n) || 0) : Infinity;
        const lines: string[] = [];
        let total = 0;
        while (lines.length < limit) {
          const line = readLine(file, this.#maxIoBytes);
          if (line === null) break;
          total += line.length;
          if (total > this.#maxIoBytes) {
            this.#onProblem(ErrorCode.ScriptFileTooLarge, 'scripts.fileMaxIoBytes', file.input, `${op}() would return more than scripts.fileMaxIoBytes (${this.#maxIoBytes})`);
            return null;
          }
          lines.push(line);
        }
        return lines;
      }
    }
  }

  /** A file the script may not change (ScriptFileGuard), or a folder holding one: refused and logged. */
  #protected(input: string, target: ResolvedPath): boolean {
    const isDirectory = statOf(target.native)?.isDirectory() === true;
    const reason = isDirectory ? this.#guard.folderReason(target.native) : this.#guard.fileReason(target.native);
    if (reason === null) return false;
    this.#onRefused(input, reason);
    return true;
  }

  #resolve(input: string): ResolvedPath | null {
    try {
      return this.#paths.resolve(input);
    } catch (error) {
      if (!(error instanceof FileAccessError)) throw error;
      this.#onRefused(input, error.message);
      return null;
    }
  }
}

/**
 * Whether the descriptor is the file ScriptPaths resolved. Resolution and open are two steps, and
 * Node has no openat2(RESOLVE_BENEATH): a folder on the path swapped for a symlink in between (by
 * anyone who can write the app folder; scripts cannot make links) would send the open elsewhere.
 * Linux names an open file's real path in /proc/self/fd; where that is unavailable, the check
 * is skipped (the limitation in script-paths.ts stands there).
 */
function openedWhereResolved(fd: number, native: string): boolean {
  let real: string;
  try {
    real = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return true;
  }
  return real === native;
}

function statOf(native: string): fs.Stats | null {
  return safe(() => fs.statSync(native), null);
}

/** An asynchronous file-system call as the FMS answer: true when it succeeded. */
function settled(work: Promise<unknown>): Promise<boolean> {
  return work.then(
    () => true,
    () => false,
  );
}

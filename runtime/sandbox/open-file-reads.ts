/**
 * Reading an open script file (File.read / readln / readByte and the lines of readAll / readlns):
 * synchronous, as FMS's File is, and never more than `maxBytes` (scripts.fileMaxIoBytes) per call.
 */
import fs from 'node:fs';

const MAX_LINE_BYTES = 1024 * 1024;
/** readln reads ahead this much; a loop of readln() is then one syscall per 64 KB, not per line. */
const READ_AHEAD = 64 * 1024;

export interface OpenFile {
  /** The script path it was opened with (log lines). */
  input: string;
  fd: number;
  encoding: BufferEncoding;
  append: boolean;
  canRead: boolean;
  canWrite: boolean;
  position: number;
  /**
   * Read-ahead for readln: bytes of the file from `cacheStart`; emptied by every write through this
   * handle (a second handle writing the same file may go unseen for up to 64 KB of lines).
   */
  cache: Buffer;
  cacheStart: number;
}

export function readBytes(file: OpenFile, count: number, maxBytes: number): Buffer {
  // Never more than what is left: read(1e9) on a small file must not allocate 16 MB.
  const left = safe(() => fs.fstatSync(file.fd).size, 0) - file.position;
  const buffer = Buffer.alloc(Math.max(0, Math.min(count, maxBytes, left)));
  const got = safe(() => fs.readSync(file.fd, buffer, 0, buffer.length, file.position), 0);
  return buffer.subarray(0, got);
}

/** read(n): n characters (bytes in binary mode). */
export function readChars(file: OpenFile, n: number, maxBytes: number): string {
  if (file.encoding === 'latin1') {
    const bytes = readBytes(file, n, maxBytes);
    file.position += bytes.length;
    return bytes.toString('latin1');
  }
  // A UTF-16 code unit takes at most 3 UTF-8 bytes (a pair of them, 4).
  const bytes = readBytes(file, n * 3, maxBytes);
  const decoded = bytes.toString('utf8');
  let taken = decoded.slice(0, n);
  const last = taken.charCodeAt(taken.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) taken = decoded.slice(0, n + 1);
  file.position += taken === decoded ? bytes.length : Buffer.byteLength(taken, 'utf8');
  return taken;
}

/** The next line without its "\n" / "\r\n"; null at the end of the file. */
export function readLine(file: OpenFile, maxBytes: number): string | null {
  const parts: Buffer[] = [];
  let length = 0;
  for (;;) {
    let offset = file.position - file.cacheStart;
    if (offset < 0 || offset >= file.cache.length) {
      file.cache = readBytes(file, READ_AHEAD, maxBytes);
      file.cacheStart = file.position;
      offset = 0;
    }
    if (file.cache.length === 0) break;
    const newline = file.cache.indexOf(0x0a, offset);
    if (newline >= 0) {
      parts.push(file.cache.subarray(offset, newline));
      file.position += newline - offset + 1;
      return stripCr(Buffer.concat(parts).toString(file.encoding));
    }
    const rest = file.cache.subarray(offset);
    parts.push(rest);
    length += rest.length;
    file.position += rest.length;
    if (length >= MAX_LINE_BYTES) break;
  }
  if (parts.length === 0) return null;
  return stripCr(Buffer.concat(parts).toString(file.encoding));
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Runs a file-system call; an OS error becomes the FMS failure value. */
export function safe<T>(work: () => T, failure: T): T {
  try {
    return work();
  } catch {
    return failure;
  }
}

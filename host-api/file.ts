/**
 * The File class (fms-api §8). A File object holds only its script path and, while open, a handle
 * the host knows; every operation is a synchronous host call (runtime/sandbox/script-files.ts),
 * which confines the path to the application folder or a configured virtual directory. Directory
 * work (list, mkdir, remove, renameTo, copyTo) and flush() wait for the host instead: it does them
 * off its event loop, so a 13,000-entry folder or a 2 GB copy never stalls the media thread.
 *
 * A path the host refuses (escape attempt, backslash, NUL...) is logged once, when the File is
 * created; the object then answers like a missing file that can't be opened: exists false,
 * open() false, list() null — the failure values FMS scripts test for.
 */
import { defineMethod, defineProperty, host, hostWait, isArray, NumberConstructor, objectCreate, reflectApply, StringConstructor, unsupported } from './host.ts';
import type { FileInfoRecord, FileIoOp, FileType } from './protocol.ts';

interface FileState {
  path: string;
  refused: boolean;
  handle: number;
  type: string;
  mode: string;
}

const states = new WeakMap<object, FileState>();
const FILE_TYPES: readonly string[] = ['text', 'binary', 'utf8'];
const DateConstructor = Date;

function stateOf(file: unknown): FileState | undefined {
  return typeof file === 'object' && file !== null ? states.get(file) : undefined;
}

function infoOf(state: FileState): FileInfoRecord | null {
  return state.refused ? null : host('fileInfo', state.path);
}

function io(state: FileState, op: FileIoOp, arg: string | number | null = null): unknown {
  return state.handle === 0 ? undefined : host('fileIo', state.handle, op, arg);
}

/** A File argument or a path string, as renameTo/copyTo accept. */
function pathOf(target: unknown): string {
  const state = stateOf(target);
  return state ? state.path : StringConstructor(target);
}

function modeHas(state: FileState, word: string): boolean {
  return state.handle !== 0 && state.mode.indexOf(word) >= 0;
}

export function File(this: object, path?: unknown): void {
  const input = path === undefined ? '/' : StringConstructor(path);
  const info = host('fileInfo', input);
  states.set(this, { path: info ? info.name : input, refused: info === null, handle: 0, type: '', mode: '' });
}

const fileProto = File.prototype as Record<string, unknown>;

/**
 * A File for an entry list() returned: its path is the host's own normalised answer, so it is not
 * asked again (a 10,000-entry folder would cost 10,000 host calls); every later operation on it
 * goes through the host's checks like any other.
 */
function listedFile(path: string): object {
  const file = objectCreate(fileProto) as object;
  states.set(file, { path, refused: false, handle: 0, type: '', mode: '' });
  return file;
}

function getter(name: string, read: (state: FileState) => unknown, write?: (state: FileState, value: unknown) => void): void {
  defineProperty(fileProto, name, {
    get(this: unknown) {
      const state = stateOf(this);
      return state ? read(state) : undefined;
    },
    set(this: unknown, value: unknown) {
      // Read-only in FMS: assignments are ignored (except position).
      const state = stateOf(this);
      if (state && write) write(state, value);
    },
    enumerable: false,
    configurable: true,
  });
}

getter('name', (s) => s.path);
getter('exists', (s) => infoOf(s)?.exists === true);
getter('isFile', (s) => infoOf(s)?.isFile === true);
getter('isDirectory', (s) => infoOf(s)?.isDirectory === true);
getter('isOpen', (s) => s.handle !== 0);
getter('type', (s) => (s.handle !== 0 ? s.type : undefined));
getter('mode', (s) => (s.handle !== 0 ? s.mode : undefined));
// A folder's length is its number of entries: listed (off the host's event loop, capped) only when asked.
getter('length', (s) => {
  if (s.handle !== 0) return io(s, 'length');
  const info = infoOf(s);
  if (info?.isDirectory !== true) return info?.length ?? 0;
  return hostWait('fileList', s.path)?.length ?? 0;
});
getter('lastModified', (s) => {
  const time = infoOf(s)?.lastModified;
  return typeof time === 'number' ? new DateConstructor(time) : null;
});
getter('creationTime', (s) => {
  const time = infoOf(s)?.creationTime;
  return typeof time === 'number' ? new DateConstructor(time) : null;
});
// Open: what the mode allows ("read" also matches "readWrite"). Closed: what opening could do.
getter('canRead', (s) => (s.handle !== 0 ? modeHas(s, 'read') || modeHas(s, 'create') : infoOf(s)?.isFile === true));
getter('canWrite', (s) => (s.handle !== 0 ? s.mode !== 'read' : !s.refused && infoOf(s)?.isDirectory !== true));
getter('canAppend', (s) => modeHas(s, 'append'));
getter('canReplace', (s) => modeHas(s, 'write') || modeHas(s, 'create'));
getter(
  'position',
  (s) => (s.handle !== 0 ? io(s, 'position') : 0),
  (s, value) => {
    io(s, 'setPosition', NumberConstructor(value));
  },
);

defineMethod(fileProto, 'open', function (this: unknown, type?: unknown, mode?: unknown): boolean {
  const state = stateOf(this);
  if (!state || state.refused || state.handle !== 0) return false;
  const fileType = type === undefined ? 'text' : StringConstructor(type);
  if (FILE_TYPES.indexOf(fileType) < 0) return false;
  const openMode = mode === undefined ? 'read' : StringConstructor(mode);
  const handle = host('fileOpen', state.path, fileType as FileType, openMode);
  if (handle === 0) return false;
  state.handle = handle;
  state.type = fileType;
  state.mode = openMode;
  return true;
});

defineMethod(fileProto, 'close', function (this: unknown): boolean {
  const state = stateOf(this);
  if (!state || state.handle === 0) return false;
  const closed = io(state, 'close') === true;
  state.handle = 0;
  return closed;
});

function reader(name: string, op: FileIoOp, failure: unknown): void {
  defineMethod(fileProto, name, function (this: unknown, n?: unknown): unknown {
    const state = stateOf(this);
    if (!state || state.handle === 0) return failure;
    const result = io(state, op, n === undefined ? 0 : NumberConstructor(n));
    return result === undefined ? failure : result;
  });
}

reader('read', 'read', null);
reader('readln', 'readln', null);
reader('readlns', 'readlns', null);
reader('readAll', 'readAll', null);
reader('readByte', 'readByte', -1);

function joined(args: unknown[], newline: boolean): string {
  let out = '';
  for (let i = 0; i < args.length; i++) out += StringConstructor(args[i]);
  return newline ? `${out}\n` : out;
}

defineMethod(fileProto, 'write', function (this: unknown, ...args: unknown[]): boolean {
  const state = stateOf(this);
  return state !== undefined && io(state, 'write', joined(args, false)) === true;
});

defineMethod(fileProto, 'writeln', function (this: unknown, ...args: unknown[]): boolean {
  const state = stateOf(this);
  return state !== undefined && io(state, 'write', joined(args, true)) === true;
});

defineMethod(fileProto, 'writeAll', function (this: unknown, lines: unknown): boolean {
  const state = stateOf(this);
  if (!state || !isArray(lines)) return false;
  let text = '';
  for (let i = 0; i < lines.length; i++) text += `${StringConstructor(lines[i])}\n`;
  return io(state, 'write', text) === true;
});

defineMethod(fileProto, 'writeByte', function (this: unknown, value: unknown): boolean {
  const state = stateOf(this);
  return state !== undefined && io(state, 'writeByte', NumberConstructor(value)) === true;
});

defineMethod(fileProto, 'eof', function (this: unknown): boolean {
  const state = stateOf(this);
  return !state || state.handle === 0 || io(state, 'eof') === true;
});

defineMethod(fileProto, 'seek', function (this: unknown, bytes: unknown): boolean {
  const state = stateOf(this);
  return state !== undefined && io(state, 'seek', NumberConstructor(bytes)) === true;
});

// fsync: true once what was written is on disk (the script waits; the host syncs off its event loop).
defineMethod(fileProto, 'flush', function (this: unknown): boolean {
  const state = stateOf(this);
  return state !== undefined && state.handle !== 0 && hostWait('fileFlush', state.handle);
});

defineMethod(fileProto, 'list', function (this: unknown, filter?: unknown): object[] | null {
  const state = stateOf(this);
  if (!state || state.refused) return null;
  const names = hostWait('fileList', state.path);
  if (names === null) return null;
  const out: object[] = [];
  for (let i = 0; i < names.length; i++) {
    const path = names[i] as string;
    const base = path.slice(path.lastIndexOf('/') + 1);
    if (typeof filter === 'function' && !reflectApply(filter, undefined, [base])) continue;
    out.push(listedFile(path));
  }
  return out;
});

function change(name: string, op: 'mkdir' | 'remove' | 'renameTo' | 'copyTo'): void {
  defineMethod(fileProto, name, function (this: unknown, arg?: unknown): boolean {
    const state = stateOf(this);
    if (!state || state.refused) return false;
    const value = op === 'remove' ? arg === true : pathOf(arg);
    const done = hostWait('fileChange', state.path, op, value);
    if (done && op === 'renameTo') {
      const info = host('fileInfo', value as string);
      if (info) state.path = info.name;
    }
    return done;
  });
}

change('mkdir', 'mkdir');
change('remove', 'remove');
change('renameTo', 'renameTo');
change('copyTo', 'copyTo');

defineMethod(fileProto, 'toString', function (this: unknown): string {
  const state = stateOf(this);
  return state ? state.path : '[object File]';
});

defineMethod(fileProto, 'readBytes', function (): number {
  unsupported('File.readBytes');
  return 0;
});

defineMethod(fileProto, 'writeBytes', function (): boolean {
  unsupported('File.writeBytes');
  return false;
});

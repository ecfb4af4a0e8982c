/**
 * The scripts an isolate runs: the host-api bundle first (host-api-bundle.ts), then the
 * application's script found and read the way FMS does, then what `load(file)` asks for.
 *
 * load() timing — deferred, as the FMS reference describes ("compiled and executed after main.asc
 * is successfully loaded and before application.onAppStart()"): a load() during main.asc's top
 * level only queues the name; queued files run after the top level, in call order (a queued file
 * that calls load() appends to the queue), then onAppStart runs. A missing file therefore fails the
 * start, not the load() call. From any handler after that (onAppStart included) load() resolves,
 * reads and runs the file at once, so its definitions are usable on the next line.
 *
 * Where load() looks: the folder of the main script, then the app folder (they differ when the
 * script lives in scripts/), then each configured script library path, then the runtime's own
 * script library (host-api/scriptlib/: netservices.asc), as FMS's scriptlib folder came last. A
 * name that resolves outside the root it was resolved against (../, absolute paths, symlinks) is refused.
 *
 * Size: no script file larger than scripts.maxScriptBytes is read (a 155 MB load() used to stall
 * the event loop for a second). main.asc is read before the isolate exists (synchronously, size
 * checked first); a load() from a handler is read off the event loop while the script waits.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { ErrorCode, ScriptError } from '../errors.ts';
import type { ThrownRecord } from '../../host-api/protocol.ts';
import type { SourceLines } from './isolate-errors.ts';
import { relativeInside } from '../common/path-containment.ts';

/**
 * What FMS shipped in its script library, rewritten here (netservices.asc): load()'s last folder.
 * scripts/build.js copies it to dist/scriptlib/ and defines FMS_SCRIPTLIB_DIR relative to the
 * compiled module; the sources read it from host-api/scriptlib/.
 */
declare const FMS_SCRIPTLIB_DIR: string | undefined;
export const BUILTIN_SCRIPTLIB_DIR = fileURLToPath(new URL(typeof FMS_SCRIPTLIB_DIR === 'string' ? FMS_SCRIPTLIB_DIR : '../../host-api/scriptlib/', import.meta.url));
/** The bundle's file name in stack traces (never a script file, so error locations skip it). */
export const HOST_API_FILENAME = 'fms-host-api.js';

export interface ScriptSource {
  /** Display name used in stack traces and errors: relative to the app folder when inside it. */
  filename: string;
  source: string;
  /** 'windows-1252' when the bytes were not valid UTF-8 (legacy editors); worth a warning. */
  encoding: 'utf-8' | 'windows-1252';
}

export interface ScriptLoaderOptions {
  appDir: string;
  scriptPath: string;
  scriptLibPaths: string[];
  /** scripts.maxScriptBytes (default 8 MiB). */
  maxScriptBytes?: number;
}

/** In the app folder, then scripts/: main.asc, main.js, <app>.asc, <app>.js (case-insensitive). */
export function findAppScript(appDir: string, appName: string): string | null {
  const names = ['main.asc', 'main.js', `${appName}.asc`, `${appName}.js`];
  for (const dir of [appDir, path.join(appDir, 'scripts')]) {
    const entries = listDirectory(dir);
    if (entries === null) continue;
    for (const name of names) {
      const hit = entries.includes(name) ? name : entries.find((entry) => entry.toLowerCase() === name.toLowerCase());
      if (hit !== undefined && isFile(path.join(dir, hit))) return path.join(dir, hit);
    }
  }
  return null;
}

function listDirectory(dir: string): string[] | null {
  try {
    return readdirSync(dir);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const legacy = new TextDecoder('windows-1252');

/**
 * Decodes UTF-8 (falling back to windows-1252 for legacy bytes), strips a BOM and turns CRLF and
 * CR-only line endings into LF. V8 already counts CR as a line break; normalising keeps `linebuf`
 * lookups simple and identical to what the script author sees.
 */
export function decodeScript(bytes: Uint8Array): { text: string; encoding: ScriptSource['encoding'] } {
  let text: string;
  let encoding: ScriptSource['encoding'] = 'utf-8';
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    text = legacy.decode(bytes);
    encoding = 'windows-1252';
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text: text.replace(/\r\n?/g, '\n'), encoding };
}

const LINE_BREAK = /\n|\u2028|\u2029/;

export class ScriptLoader implements SourceLines {
  private readonly appDir: string;
  private readonly roots: string[];
  private readonly lines = new Map<string, string[]>();
  /** Absolute paths of every file read (main.asc and load()ed files): hot reload follows libraries. */
  private readonly filesReadSet = new Set<string>();

  constructor(private readonly options: ScriptLoaderOptions) {
    this.appDir = path.resolve(options.appDir);
    const candidates = [path.dirname(path.resolve(options.scriptPath)), this.appDir, ...options.scriptLibPaths.map((p) => path.resolve(p)), path.resolve(BUILTIN_SCRIPTLIB_DIR)];
    this.roots = [...new Set(candidates)];
  }

  readMain(): ScriptSource {
    return this.read(path.resolve(this.options.scriptPath));
  }

  /** Resolves and reads a load() argument; throws ScriptError(ScriptLoadFailed) when it cannot. */
  loadFile(name: string): ScriptSource {
    return this.read(this.resolve(name));
  }

  /** loadFile, reading off the event loop; rejects with ScriptError(ScriptLoadFailed). */
  async loadFileAsync(name: string): Promise<ScriptSource> {
    const file = this.resolve(name);
    let bytes: Buffer;
    try {
      this.checkSize(file, (await stat(file)).size);
      bytes = await readFile(file);
    } catch (error) {
      throw error instanceof ScriptError ? error : new ScriptError(ErrorCode.ScriptLoadFailed, `cannot read ${file}: ${(error as Error).message}`, {}, { cause: error });
    }
    return this.decoded(file, bytes);
  }

  resolve(name: string): string {
    // Windows-era scripts write load("lib\\helper.asc").
    const wanted = name.replace(/\\/g, '/');
    if (wanted === '' || wanted.includes('\0')) throw loadFailed(name, 'not a file name');
    let refused = false;
    for (const root of this.roots) {
      const candidate = path.resolve(root, wanted);
      if (!isInside(root, candidate)) {
        refused = true;
        continue;
      }
      if (!isFile(candidate)) continue;
      // The real path must stay inside the real root: a symlink may not lead out of it.
      if (!isInside(realpathSync(root), realpathSync(candidate))) {
        refused = true;
        continue;
      }
      return candidate;
    }
    throw loadFailed(name, refused ? 'path escapes the application and script library folders' : 'file not found');
  }

  /** Parses without running (in the host's V8) to locate syntax errors of files run by eval. */
  checkSyntax(file: ScriptSource): ThrownRecord | undefined {
    try {
      new vm.Script(file.source, { filename: file.filename });
      return undefined;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      const line = /^(.*):(\d+)$/m.exec(error.stack ?? '');
      return {
        name: 'SyntaxError',
        message: error.message,
        load: true,
        filename: file.filename,
        ...(line === null ? {} : { lineno: Number(line[2]) }),
      };
    }
  }

  get filesRead(): string[] {
    return [...this.filesReadSet];
  }

  has(filename: string): boolean {
    return this.lines.has(filename);
  }

  lineAt(filename: string, lineno: number): string | undefined {
    return this.lines.get(filename)?.[lineno - 1];
  }

  private read(file: string): ScriptSource {
    let bytes: Buffer;
    try {
      this.checkSize(file, statSync(file).size);
      bytes = readFileSync(file);
    } catch (error) {
      throw error instanceof ScriptError ? error : new ScriptError(ErrorCode.ScriptLoadFailed, `cannot read ${file}: ${(error as Error).message}`, {}, { cause: error });
    }
    return this.decoded(file, bytes);
  }

  private checkSize(file: string, size: number): void {
    const max = this.options.maxScriptBytes ?? 8 * 1024 * 1024;
    if (size > max) throw new ScriptError(ErrorCode.ScriptLoadFailed, `${this.displayName(file)} is ${size} bytes, more than scripts.maxScriptBytes (${max})`);
  }

  private decoded(file: string, bytes: Buffer): ScriptSource {
    const { text, encoding } = decodeScript(bytes);
    const filename = this.displayName(file);
    this.lines.set(filename, text.split(LINE_BREAK));
    this.filesReadSet.add(path.resolve(file));
    return { filename, source: text, encoding };
  }

  private displayName(file: string): string {
    return isInside(this.appDir, file) ? path.relative(this.appDir, file).split(path.sep).join('/') : file;
  }
}

/** Strictly below `root`: the root folder itself is no script file. */
function isInside(root: string, candidate: string): boolean {
  const relative = relativeInside(root, candidate);
  return relative !== null && relative !== '';
}

function loadFailed(name: string, reason: string): ScriptError {
  return new ScriptError(ErrorCode.ScriptLoadFailed, `load("${name}"): ${reason}`, {});
}

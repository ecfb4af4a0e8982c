/**
 * Where a script's File path lands on disk (fms-api §8), and the refusal of every path that would
 * leave its root. Kept apart from the File operations so the security rule is in one short place.
 *
 * FMS rules: paths use "/" and are relative to the application folder ("/" = the app folder);
 * `<VirtualDirectory>/videos;C:\videos` maps a prefix to another folder; backslashes and "."/".."
 * components are refused. We add: NUL bytes are refused, and symlinks are followed — a path whose
 * real location (realpath of its nearest existing ancestor) is outside its root is refused too.
 *
 * Why check the nearest existing ancestor: the target of a write may not exist yet, but its parent
 * folder could be a symlink pointing out of the root. A dangling symlink is refused outright (writing
 * through it would create its target, wherever that is).
 *
 * Limitation: resolution and use are two steps; only the operator (not a script: there is no API to
 * create links) can swap a folder for a symlink in between. open() re-checks the descriptor's real
 * path on Linux (script-files.ts) and truncates only after it; a file created by the open itself,
 * and mkdir / remove / renameTo / copyTo, are not covered.
 */
import fs from 'node:fs';
import path from 'node:path';
import { relativeInside } from '../common/path-containment.ts';

/** A path refused for confinement or syntax reasons; the message is the log line's reason. */
export class FileAccessError extends Error {
  override readonly name = 'FileAccessError';
}

export interface ResolvedPath {
  /** Normalised script-side path: "/", "/logs/a.txt". */
  virtual: string;
  /** Real native path (symlinks of existing ancestors resolved). */
  native: string;
  /** The application folder or a virtual directory itself: can't be renamed or removed. */
  isRoot: boolean;
}

interface Mapping {
  prefix: string[];
  dir: string;
}

/** Parses "/virtual;/native" entries (config already checked their shape). */
function parseMappings(entries: readonly string[]): Mapping[] {
  const mappings: Mapping[] = [];
  for (const entry of entries) {
    // Split at the first ';' only: an Application.xml folder is resolved against the app folder, whose path may hold one.
    const semi = entry.indexOf(';');
    const virtual = semi < 0 ? entry : entry.slice(0, semi);
    const native = semi < 0 ? '' : entry.slice(semi + 1);
    mappings.push({ prefix: virtual.split('/').filter((part) => part !== ''), dir: native });
  }
  // Longest prefix first: "/a/b" wins over "/a".
  return mappings.sort((a, b) => b.prefix.length - a.prefix.length);
}

export class ScriptPaths {
  readonly #appDir: string;
  readonly #mappings: Mapping[];

  constructor(appDir: string, virtualDirectories: readonly string[]) {
    this.#appDir = appDir;
    this.#mappings = parseMappings(virtualDirectories);
  }

  /** Throws FileAccessError when `input` is not a path the script may use. */
  resolve(input: string): ResolvedPath {
    if (input.includes('\0')) throw new FileAccessError('path contains a NUL byte');
    if (input.includes('\\')) throw new FileAccessError('path contains a backslash');
    const parts = input.split('/').filter((part) => part !== '');
    if (parts.some((part) => part === '.' || part === '..')) throw new FileAccessError('path contains a "." or ".." component');
    const mapping = this.#mappings.find((m) => m.prefix.every((part, i) => parts[i] === part));
    const rootDir = mapping?.dir ?? this.#appDir;
    const rest = mapping ? parts.slice(mapping.prefix.length) : parts;
    let realRoot: string;
    try {
      realRoot = fs.realpathSync(rootDir);
    } catch {
      throw new FileAccessError(`root folder ${rootDir} does not exist`);
    }
    const native = realLocation(path.join(realRoot, ...rest));
    const relative = relativeInside(realRoot, native);
    if (relative === null) throw new FileAccessError('path resolves outside its root (symlink)');
    return { virtual: `/${parts.join('/')}`, native, isRoot: relative === '' };
  }
}

/** Real path of `target`: realpath of its nearest existing ancestor plus the missing tail. */
function realLocation(target: string): string {
  const missing: string[] = [];
  let current = target;
  for (;;) {
    try {
      return path.join(fs.realpathSync(current), ...missing.reverse());
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new FileAccessError(`cannot resolve: ${(error as Error).message}`);
    }
    if (isLink(current)) throw new FileAccessError('path goes through a dangling symlink');
    const parent = path.dirname(current);
    if (parent === current) throw new FileAccessError('no existing ancestor');
    missing.push(path.basename(current));
    current = parent;
  }
}

function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

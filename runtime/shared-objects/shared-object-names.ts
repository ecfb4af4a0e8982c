/**
 * Shared-object names: an SO name becomes a path under the instance's data dir, so it is checked
 * before anything is opened or written.
 */
const MAX_NAME_BYTES = 1024;
const MAX_SEGMENT_BYTES = 200;

/** Why `name` cannot be an SO name (it becomes a path under the data dir), or null when fine. */
export function sharedObjectNameProblem(name: string): string | null {
  if (name === '') return 'empty name';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return 'name too long';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'control character in name';
  if (name.includes('\\')) return 'backslash in name';
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return 'absolute name';
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') return 'empty or dot path segment';
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) return 'path segment too long';
  }
  return null;
}

/**
 * An `application.clearSharedObjects(soPath)` path (fms-api §2.2): `/` is every SO of the
 * instance; otherwise literal folders, then a last element that may hold `?` and `*`. A last
 * element without wildcards names one SO (a folder of that name is not cleared); with wildcards
 * it also matches folders, whose SOs are all cleared.
 */
export class SoPathPattern {
  readonly wildcard: boolean;
  readonly #folders: string[];
  readonly #last: RegExp | null;

  private constructor(folders: string[], last: string | null) {
    this.#folders = folders;
    this.wildcard = last === null || /[*?]/.test(last);
    this.#last = last === null ? null : new RegExp(`^${last.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  }

  /** Null when the path cannot name shared objects (dot segments, empty folders, bad characters). */
  static parse(soPath: string): SoPathPattern | null {
    const trimmed = soPath.replace(/^\/+/, '');
    if (trimmed === '') return new SoPathPattern([], null);
    const segments = trimmed.split('/');
    if (segments[segments.length - 1] === '') segments[segments.length - 1] = '*'; // "/foo/" = everything in foo
    if (sharedObjectNameProblem(segments.join('/').replace(/[*?]/g, 'x'))) return null;
    return new SoPathPattern(segments.slice(0, -1), segments[segments.length - 1]!);
  }

  matches(name: string): boolean {
    if (this.#last === null) return true;
    const segments = name.split('/');
    const depth = this.#folders.length;
    if (segments.length <= depth || this.#folders.some((folder, i) => segments[i] !== folder)) return false;
    if (!this.#last.test(segments[depth]!)) return false;
    return segments.length === depth + 1 || this.wildcard;
  }
}

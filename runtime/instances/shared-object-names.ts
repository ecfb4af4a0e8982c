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

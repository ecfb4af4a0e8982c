import path from 'node:path';

/**
 * `candidate` relative to `root` ('' for the root itself), or null when it lies outside: `..` or a
 * `../` prefix, or another drive. A name like `..data` inside the root is inside. The one
 * containment test of load() resolution and of script File paths.
 */
export function relativeInside(root: string, candidate: string): string | null {
  const relative = path.relative(root, candidate);
  if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return null;
  return relative;
}

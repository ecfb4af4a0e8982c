/**
 * FMS readAccess/writeAccess: a semicolon-separated list of path prefixes. "/" allows everything,
 * "" allows nothing, "a" covers "a" and "a/b/c" but not "ab".
 */
export function hasAccess(list: string, resource: string): boolean {
  const target = resource.replace(/^\/+/, '');
  for (const raw of list.split(';')) {
    const entry = raw.trim().replace(/^\/+/, '').replace(/\/+$/, '');
    if (raw.trim() === '') continue;
    if (entry === '') return true; // "/" (or "//"): the whole namespace
    if (target === entry || target.startsWith(`${entry}/`)) return true;
  }
  return false;
}

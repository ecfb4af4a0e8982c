import path from 'node:path';

/**
 * Where recorded streams live: FMS keeps them under `<app>/streams/<instance>/<name>.flv`.
 * Returns null for any name that could leave that folder (.., absolute paths, NUL, backslashes,
 * drive letters) or that names a container we do not record (mp4:, mp3:, f4f:, raw:, id3:).
 */
export function resolveStreamFile(streamsRoot: string, instance: string, name: string): string | null {
  if (instance.split('/').some((s) => s === '' || s === '.' || s === '..')) return null;
  return flvFileIn(path.resolve(streamsRoot, instance), name);
}

/**
 * Application.xml StreamManager/VirtualDirectory/Streams: a name starting with `<prefix>/` lives in
 * `<dir>/<rest>.flv` (no instance folder, like FMS). An empty prefix maps every name. Returns
 * undefined when no mapping applies (use the FMS layout), null when the name is refused.
 */
export function resolveVirtualStreamFile(dirs: readonly { prefix: string; dir: string }[], name: string): string | null | undefined {
  const bare = name.startsWith('flv:') ? name.slice(4) : name;
  const hit = dirs.find((d) => d.prefix === '' || bare.startsWith(`${d.prefix}/`));
  if (!hit) return undefined;
  return flvFileIn(path.resolve(hit.dir), hit.prefix === '' ? bare : bare.slice(hit.prefix.length + 1));
}

function flvFileIn(root: string, name: string): string | null {
  if (!name || name.includes('\0') || name.includes('\\')) return null;
  if (/^[a-z0-9]+:/i.test(name) && !name.startsWith('flv:')) return null;
  const bare = name.startsWith('flv:') ? name.slice(4) : name;
  const segments = bare.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return null;
  const file = path.resolve(root, `${bare.replace(/\.flv$/i, '')}.flv`);
  if (!file.startsWith(root + path.sep)) return null;
  return file;
}

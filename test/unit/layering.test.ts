/**
 * The direction rule of ARCHITECTURE.md, checked on the real import graph: protocol and media code
 * never import instances, shared objects or the sandbox; subsystems do not import each other
 * sideways; host-api imports nothing from runtime/; only the composition roots (runtime/server.ts,
 * runtime/main.ts and the `check` command) wire subsystems together. Type-only imports count: a type
 * is an arrow in the design too.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * What each area may import besides itself (and node:/npm packages). An area is a folder of
 * runtime/ (`media`), a top-level file of runtime/ (`config`), or `host-api`. Runtime code may import
 * only the bridge contract of host-api (`host-api/protocol.ts`); the bundle itself is built by path.
 */
export const ALLOWED: Record<string, readonly string[]> = {
  'host-api': [],
  errors: [],
  log: ['errors'],
  common: ['errors', 'log'],
  rtmp: ['common', 'errors', 'log'],
  client: ['rtmp', 'common', 'errors', 'log'],
  media: ['rtmp', 'common', 'errors', 'log'],
  // Defaults of HLS settings come from the packager's own module.
  config: ['media', 'common', 'errors', 'log'],
  'shared-objects': ['host-api/protocol.ts', 'client', 'rtmp', 'common', 'errors', 'log'],
  sandbox: ['host-api/protocol.ts', 'config', 'rtmp', 'common', 'errors', 'log'],
  sessions: ['host-api/protocol.ts', 'shared-objects', 'media', 'rtmp', 'common', 'errors', 'log'],
  instances: ['host-api/protocol.ts', 'sessions', 'shared-objects', 'media', 'client', 'rtmp', 'common', 'errors', 'log'],
  reload: ['common', 'errors', 'log'],
  admin: ['instances', 'sessions', 'media', 'rtmp', 'common', 'errors', 'log'],
  // Process distribution: the primary's hand-off of sessions, worker processes (forked with the runtime's node flags).
  cluster: ['bin/node-runtime.cjs', 'config', 'sessions', 'media', 'rtmp', 'common', 'errors', 'log'],
  // `npm run check` is a program of its own: it reads Application.xml and loads scripts as the server does.
  check: ['config', 'instances/application-xml.ts', 'sandbox/script-loader.ts', 'common', 'errors', 'log'],
  // Composition roots.
  server: ['*'],
  main: ['*'],
};

/** `host-api`, `media`, `config`… for a repository path (posix separators). */
export function areaOf(file: string): string {
  if (file.startsWith('host-api/')) return 'host-api';
  const inside = file.slice('runtime/'.length);
  const slash = inside.indexOf('/');
  return slash < 0 ? inside.replace(/\.ts$/, '') : inside.slice(0, slash);
}

function allows(from: string, to: string): boolean {
  const area = areaOf(from);
  const target = areaOf(to);
  if (area === target) return true;
  const allowed = ALLOWED[area];
  if (allowed === undefined) return false; // a new area must say what it may import
  const inside = to.startsWith('runtime/') ? to.slice('runtime/'.length) : to;
  return allowed.includes('*') || allowed.includes(inside) || (target !== 'host-api' && allowed.includes(target));
}

/** Every import of `files` that runs against ALLOWED, as "from -> to" (relative imports only). */
export function violations(files: readonly string[], read: (file: string) => string): string[] {
  const found: string[] = [];
  for (const file of files) {
    for (const ref of ts.preProcessFile(read(file), true, true).importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.fileName));
      if (!allows(file, to)) found.push(`${file} -> ${to}`);
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (entry.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

describe('layering (ARCHITECTURE.md direction rule)', () => {
  const files = [...sourceFiles('runtime'), ...sourceFiles('host-api')];

  it('every area of runtime/ is listed with what it may import', () => {
    const unknown = [...new Set(files.map(areaOf))].filter((area) => ALLOWED[area] === undefined);
    assert.deepEqual(unknown, []);
  });

  it('no import runs against the layering', () => {
    assert.deepEqual(violations(files, (file) => readFileSync(path.join(ROOT, file), 'utf8')), []);
  });

  it('the check itself catches an upward import (a media module importing an instance)', () => {
    const sources: Record<string, string> = {
      'runtime/media/x.ts': "import type { AppInstance } from '../instances/app-instance.ts';\nimport { y } from './y.ts';",
      'runtime/sandbox/s.ts': "import type { HostCalls } from '../../host-api/protocol.ts';\nimport { b } from '../../host-api/bootstrap.ts';",
    };
    assert.deepEqual(violations(Object.keys(sources), (file) => sources[file]!), [
      'runtime/media/x.ts -> runtime/instances/app-instance.ts',
      'runtime/sandbox/s.ts -> host-api/bootstrap.ts',
    ]);
  });
});

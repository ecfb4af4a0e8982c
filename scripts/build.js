// `npm run build`: the compiled server in dist/, what `npm start`, the `fms-runtime` command and
// the npm package run (no TypeScript transpiler and no esbuild at run time).
//
//   dist/main.js (+ chunks)  runtime/main.ts bundled by esbuild: ESM for Node 24, packages left as
//                            imports of node_modules; `check` stays a chunk loaded only by that command
//   dist/host-api.js         the script every isolate evaluates first (runtime/sandbox/host-api-bundle.ts)
//   dist/console/            the admin console page, served from next to the compiled module
//   dist/scriptlib/          FMS's script library as shipped here (netservices.asc), found by load()
//
// esbuild rather than tsc: it already bundles host-api, builds all of this in well under a second
// (so `npm start` can rebuild a stale dist/ without a noticeable wait), and one bundled file loads
// faster than a tree of ~130 modules. Type checking stays `npm run typecheck` (tsc --noEmit).
//
// `--if-stale` (npm start's prestart): builds only when dist/ is missing or older than a source.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exitOnUnsupportedNode } from '../bin/node-runtime.cjs';

exitOnUnsupportedNode();

const ROOT = path.resolve(import.meta.dirname, '..');
const DIST = path.join(ROOT, 'dist');
/** Written last: a build that failed half-way is stale. */
const STAMP = path.join(DIST, '.built');
const SOURCES = ['runtime', 'host-api', 'scripts/build.js'].map((p) => path.join(ROOT, p));
const PREBUILT_HOST_API = 'host-api.js';

/** Newest mtime under the given paths (folders count too: a deleted file changes its folder). */
function newestMtimeMs(paths) {
  let newest = 0;
  const visit = (p) => {
    const stat = statSync(p);
    newest = Math.max(newest, stat.mtimeMs);
    if (stat.isDirectory()) for (const entry of readdirSync(p)) visit(path.join(p, entry));
  };
  for (const p of paths) visit(p);
  return newest;
}

function isStale() {
  return !existsSync(STAMP) || statSync(STAMP).mtimeMs < newestMtimeMs(SOURCES);
}

async function build() {
  const started = performance.now();
  // A devDependency, present in a checkout after `npm ci`; the package ships dist/ and never builds.
  const esbuild = await import('esbuild').then(
    (module) => module.default,
    () => {
      process.stderr.write('fms-runtime: cannot build dist/: esbuild is not installed (a checkout needs `npm ci` with its devDependencies).\n');
      process.exit(1);
    },
  );
  // Node's own type stripping loads this one TypeScript module (erasable syntax only), so the
  // bundle is made by the same code the sources use in tests.
  const { buildHostApiBundle } = await import('../runtime/sandbox/host-api-bundle.ts');
  rmSync(DIST, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: { main: path.join(ROOT, 'runtime/main.ts') },
    outdir: DIST,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    packages: 'external',
    // Chunks stay in dist/ itself: import.meta.url of any compiled module then locates host-api.js and console/.
    chunkNames: '[name]-[hash]',
    define: { FMS_PREBUILT_HOST_API: JSON.stringify(PREBUILT_HOST_API), FMS_SCRIPTLIB_DIR: JSON.stringify('scriptlib/') },
    logLevel: 'warning',
  });
  writeFileSync(path.join(DIST, PREBUILT_HOST_API), await buildHostApiBundle());
  cpSync(path.join(ROOT, 'runtime/admin/console'), path.join(DIST, 'console'), { recursive: true });
  // FMS's script library as we ship it (netservices.asc): load()'s last folder.
  cpSync(path.join(ROOT, 'host-api/scriptlib'), path.join(DIST, 'scriptlib'), { recursive: true });
  mkdirSync(DIST, { recursive: true });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  // stderr: stdout may be machine-read (npm pack --json runs this as prepack).
  process.stderr.write(`fms-runtime: built dist/ in ${Math.round(performance.now() - started)} ms\n`);
}

if (!process.argv.includes('--if-stale') || isStale()) await build();

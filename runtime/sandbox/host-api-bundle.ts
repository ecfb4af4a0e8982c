/**
 * host-api as the one script every isolate evaluates first.
 *
 * The compiled server (dist/, `npm start`, the `fms-runtime` command) reads the bundle that
 * scripts/build.js wrote next to it: no esbuild, and no esbuild process, at run time. The
 * TypeScript sources (tests, benches) bundle host-api with esbuild at first use (~25 ms), so a
 * change under host-api/ is live without a build step. Both go through buildHostApiBundle().
 *
 * scripts/build.js imports this module through Node's own type stripping: erasable TypeScript only
 * (no enums, no parameter properties), and no imports from the rest of runtime/.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * Replaced by scripts/build.js (esbuild `define`) with the prebuilt bundle's file name, relative to
 * the compiled module. Undeclared when the sources run, so `typeof` tells the two apart.
 */
declare const FMS_PREBUILT_HOST_API: string | undefined;

const BUNDLE_GLOBAL = '__fmsHostApi';

let bundle: Promise<string> | undefined;

/** The bundle's source text, read or built once per process and kept in memory. */
export function hostApiBundle(): Promise<string> {
  bundle ??= (typeof FMS_PREBUILT_HOST_API === 'string' ? readFile(new URL(FMS_PREBUILT_HOST_API, import.meta.url), 'utf8') : buildHostApiBundle()).catch(
    (error: unknown) => {
      bundle = undefined; // let the next instance try again
      throw error;
    },
  );
  return bundle;
}

/**
 * host-api/bootstrap.ts and everything it imports as one script, wrapped in a function whose value
 * is `install`: the bundle's top-level names stay locals, none lands on the global object, and the
 * directive makes all of host-api strict-mode code (so `caller` and stack frames cannot lead a
 * script into it).
 */
export async function buildHostApiBundle(): Promise<string> {
  // A devDependency: loaded only here, which the compiled server never reaches.
  const { default: esbuild } = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('../../host-api/bootstrap.ts', import.meta.url))],
    bundle: true,
    format: 'iife',
    globalName: BUNDLE_GLOBAL,
    target: 'es2020',
    platform: 'neutral',
    write: false,
    logLevel: 'silent',
  });
  return `(function () {\n'use strict';\n${result.outputFiles[0]?.text ?? ''}\nreturn ${BUNDLE_GLOBAL}.install;\n})()`;
}

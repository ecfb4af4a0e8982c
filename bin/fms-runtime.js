#!/usr/bin/env node
// The `fms-runtime` command (package.json "bin"; `npm start` and `npm run check` run it too): the
// compiled server in dist/, on a supported Node, with the flags the runtime needs. Only
// node-runtime.cjs is imported statically, so an unsupported Node hears so in one line before any
// native module loads.
import { existsSync } from 'node:fs';
import { ensureNodeFlags, exitOnUnsupportedNode } from './node-runtime.cjs';

exitOnUnsupportedNode();
ensureNodeFlags(import.meta.filename);
const server = new URL('../dist/main.js', import.meta.url);
if (!existsSync(server)) {
  // Only a source checkout can get here (the package ships dist/).
  process.stderr.write('fms-runtime: dist/ has not been built: run `npm run build` (npm start builds it for you).\n');
  process.exit(1);
}
await import(server.href);

'use strict';
// Mocha runs the TypeScript sources with the runtime's node flags + tsx, from the one list in
// bin/node-runtime.cjs. An unsupported Node stops here with the same one line as the server.
const { SOURCE_NODE_FLAGS, exitOnUnsupportedNode } = require('./bin/node-runtime.cjs');

exitOnUnsupportedNode();

// Mocha adds test files named on its command line to `spec` instead of replacing it; naming files
// (`npx mocha test/integration/hls.test.ts`) runs just those.
const named = process.argv.slice(2).some((arg) => /\.test\.ts$/.test(arg));

module.exports = {
  // Mocha spells node flags without the leading dashes.
  'node-option': SOURCE_NODE_FLAGS.map((flag) => flag.replace(/^--/, '')),
  spec: named ? [] : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/sandbox/**/*.test.ts'],
  timeout: 20000,
  exit: true,
};

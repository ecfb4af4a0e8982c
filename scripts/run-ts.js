// `node scripts/run-ts.js <file.ts> [args...]`: runs a TypeScript source (fuzz, benches, samples)
// the way the tests do: the runtime's node flags plus tsx, in this same process (execve).
import { SOURCE_NODE_FLAGS, execNode, exitOnUnsupportedNode } from '../bin/node-runtime.cjs';

exitOnUnsupportedNode();
const [file, ...args] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/run-ts.js <file.ts> [args...]\n');
  process.exit(2);
}
execNode([...SOURCE_NODE_FLAGS, file, ...args]);

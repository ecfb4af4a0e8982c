'use strict';
/*
 * The one place that says which Node.js runs fms-runtime and with which flags. Every entry point
 * goes through it: the `fms-runtime` command (bin/fms-runtime.js, also behind `npm start` and
 * `npm run check`), the build, the TypeScript runner of fuzz and benches (scripts/run-ts.js), the
 * mocha config and the test helpers that start the server as a child process.
 *
 * CommonJS with no imports on purpose: it must load on any Node (an unsupported one included, to
 * say so in one line before anything native is loaded) and from `.mocharc.cjs` via require().
 */

/** LTS lines we build, test and support (README "Install"); engines says >= the first. */
const SUPPORTED_NODE_LINES = [24, 26];

/**
 * Garbage-collector settings for a media server, chosen by measurement (bench:relay --gc, 10/50/100
 * relayed 2.6 Mbit/s streams, Node 26; the figures are in the issue 17 note):
 *   --max-semi-space-size=4     young generation semi-spaces of 4 MiB instead of V8's 16. Dead
 *                               socket reads and encoded media are ArrayBuffers that V8 frees only
 *                               when a scavenge finds them dead: a smaller young generation
 *                               scavenges more often and holds less of that garbage (RSS -10 to -30
 *                               MiB at 10-50 streams), at under 1 ms per scavenge.
 *   --heap-growing-percent=200  the old generation may grow to 3x what survived the last full
 *                               collection before the next one. With V8's own factor a media
 *                               server's small live heap (about 13 MiB) left too little room above
 *                               it, and V8 ran an incremental mark-compact after nearly every
 *                               scavenge: 0.4-0.9 full collections per 1,000 messages, 20-50 ms of
 *                               GC per second at 50-100 streams, and pauses that showed as relay
 *                               latency. With this: none at 10 and 50 streams, rare at 100.
 * Both can be overridden: node flags given to the `fms-runtime` command come after these.
 */
const GC_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=200'];

/**
 * Flags the runtime needs on every `node` that loads it:
 *   --no-node-snapshot  isolated-vm's README requires it: V8 shares read-only heap data between
 *                       the isolates of a process, and isolates started from different snapshots
 *                       (Node's startup snapshot, isolated-vm's plain one) can crash the whole
 *                       process with SIGSEGV (laverdet/isolated-vm#420, #472).
 * and the GC settings above. Given as arguments, not NODE_OPTIONS: an environment variable would
 * also reach every child process a user's tooling starts, and Node 20 refused this flag there.
 */
const NODE_FLAGS = ['--no-node-snapshot', ...GC_FLAGS];

/** Running the TypeScript sources (tests, benches, fuzz): the same flags plus tsx. */
const SOURCE_NODE_FLAGS = [...NODE_FLAGS, '--import=tsx'];

/** The one line an unsupported Node gets, or null when this Node is supported. */
function unsupportedNodeMessage(version = process.versions.node) {
  const major = Number(version.split('.')[0]);
  if (major >= SUPPORTED_NODE_LINES[0]) return null;
  const lines = SUPPORTED_NODE_LINES.join(' or ');
  return `fms-runtime: Node.js ${version} is not supported; use Node.js ${lines} (LTS), see "Install" in the README.`;
}

/** Exits with status 1 and the one line on an unsupported Node; call it before loading anything else. */
function exitOnUnsupportedNode() {
  const message = unsupportedNodeMessage();
  if (message === null) return;
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Whether this process was started with every flag in NODE_FLAGS. */
function hasNodeFlags(execArgv = process.execArgv) {
  return NODE_FLAGS.every((flag) => execArgv.includes(flag));
}

/**
 * Becomes `node <nodeArgs...>` in the same process: execve(2) keeps the pid, so signals sent to the
 * command (Ctrl-C, SIGTERM from a supervisor or from npm) reach the server itself and no parent is
 * left to forward them or to be orphaned. Never returns. Windows has no execve: a child with the
 * console inherited, whose exit status becomes ours (Ctrl-C reaches the whole console group there).
 */
function execNode(nodeArgs) {
  const argv = [process.execPath, ...nodeArgs];
  if (process.platform !== 'win32') process.execve(process.execPath, argv, process.env);
  const result = require('node:child_process').spawnSync(process.execPath, nodeArgs, { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

/** Re-executes `script` with NODE_FLAGS (keeping any other node options) unless they are already set. */
function ensureNodeFlags(script, args = process.argv.slice(2)) {
  if (hasNodeFlags()) return;
  const missing = NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  execNode([...missing, ...process.execArgv, script, ...args]);
}

exports.SUPPORTED_NODE_LINES = SUPPORTED_NODE_LINES;
exports.NODE_FLAGS = NODE_FLAGS;
exports.GC_FLAGS = GC_FLAGS;
exports.SOURCE_NODE_FLAGS = SOURCE_NODE_FLAGS;
exports.unsupportedNodeMessage = unsupportedNodeMessage;
exports.exitOnUnsupportedNode = exitOnUnsupportedNode;
exports.hasNodeFlags = hasNodeFlags;
exports.execNode = execNode;
exports.ensureNodeFlags = ensureNodeFlags;

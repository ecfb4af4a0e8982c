/**
 * The OOM-in-GC bomb series of issue 12 (finding 6) on the real server: one server process
 * (runtime/main.ts as operators run it), a healthy instance answering an echo call every 50 ms,
 * and N dictionary bombs (`var o = {}, i = 0; while (true) o['k' + i++] = { a: i }`) in a row, each
 * in a fresh instance. After each bomb: how it ended (the server's log line), and the server's RSS,
 * threads, open fds, live and lost isolates (/proc and /metrics). docs/v8-failures.md quotes it.
 *
 *   npm run bench:v8-bombs -- [--bombs 20] [--memory-mb 64] [--timeout-ms 5000] [--settle-ms 1000] [--shape dict]
 *
 * --shape picks the bomb (default dict, the issue's); `--shape all` runs each shape in turn.
 *
 * Figures only, no assertions (CONVENTIONS); there is no reference server to compare against (the
 * reference is the isolated-vm 5 behaviour recorded in the issue: a segfault on the 4th bomb, or 28
 * threads parked with ~95 MB each).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NetConnection } from '../runtime/client/net-connection.ts';
import { startServerProcess } from '../test/helpers/server-process.ts';
import { tempDir } from '../test/helpers/test-server.ts';
import { ServerSampler, type ServerSample } from '../test/soak/server-sample.ts';

const { values: flags } = parseArgs({
  options: {
    bombs: { type: 'string', default: '20' },
    'memory-mb': { type: 'string', default: '64' },
    'timeout-ms': { type: 'string', default: '5000' },
    'settle-ms': { type: 'string', default: '1000' },
    shape: { type: 'string', default: 'dict' },
  },
});
const BOMBS = Number(flags.bombs);
const SETTLE_MS = Number(flags['settle-ms']);
/** Ways to exhaust a V8 heap; dict is the issue's OOM-in-GC bomb. */
const SHAPES: Record<string, string> = {
  dict: "var o = {}, i = 0; while (true) o['k' + i++] = { a: i };",
  array: 'var a = []; while (true) a.push({ x: a.length, y: [1, 2, 3] });',
  numbers: 'var a = []; for (var i = 0; ; i++) a.push(i + 0.5);',
  strings: "var a = []; while (true) { var s = new Array(100000).join('x') + a.length; s.charCodeAt(0); a.push(s); }",
  closures: 'var a = []; while (true) { (function () { var q = a.length; a.push(function () { return q; }); })(); }',
  chain: 'var o = {}, i = 0; while (true) o = { next: o, v: [i++, i, i] };',
};
const shapes = flags.shape === 'all' ? Object.keys(SHAPES) : [flags.shape];
for (const shape of shapes) if (SHAPES[shape] === undefined) throw new Error(`--shape: ${shape} is not one of all, ${Object.keys(SHAPES).join(', ')}`);
const BOMB = Object.entries(SHAPES)
  .map(([name, body]) => `Client.prototype.${name} = function () { ${body} };`)
  .join('\n');

const apps = tempDir('bomb-apps');
for (const [name, script] of Object.entries({
  healthy: 'application.onConnect = function () { return true; };\nClient.prototype.echo = function (x) { return x; };\n',
  bomb: `application.onConnect = function () { return true; };\n${BOMB}\n`,
})) {
  mkdirSync(path.join(apps, name));
  writeFileSync(path.join(apps, name, 'main.asc'), script);
}
const configFile = path.join(tempDir('bomb-config'), 'config.json');
writeFileSync(
  configFile,
  JSON.stringify({ scripts: { memoryLimitMb: Number(flags['memory-mb']), handlerTimeoutMs: Number(flags['timeout-ms']) }, dataDir: tempDir('bomb-so') }),
);

const server = await startServerProcess(apps, ['--config', configFile, '--no-watch', '--log-level', 'info']);
const httpPort = (await server.logs.waitFor((r) => r.msg === 'server listening'))['httpPort'] as number;
const sampler = new ServerSampler(server.child.pid!, httpPort);
const row = (label: string, s: ServerSample, extra = '') =>
  console.log(
    `${label.padEnd(8)} rss ${s.rssMb.toFixed(0).padStart(4)} MB  threads ${String(s.threads).padStart(3)}  fds ${String(s.fds).padStart(3)}  ` +
      `isolates ${s.isolates} (lost ${s.isolatesLost})  ${extra}`,
  );
console.log(`node ${process.version}, isolated-vm 7, ${os.availableParallelism()} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`scripts.memoryLimitMb ${flags['memory-mb']}, handlerTimeoutMs ${flags['timeout-ms']}, ${BOMBS} bombs of ${shapes.join(', ')}`);

// The healthy instance: its answers (and failures) over the whole series.
const healthy = new NetConnection();
await healthy.connect(server.url('healthy'));
let answers = 0;
const failures: string[] = [];
let asking = true;
const asker = (async () => {
  while (asking) {
    const started = performance.now();
    try {
      await healthy.call('echo', answers);
      answers++;
    } catch (error) {
      failures.push((error as Error).message);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 50 - (performance.now() - started))));
  }
})();

await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
row('before', await sampler.sample());
const outcomes = new Map<string, number>();
for (let k = 0; k < BOMBS * shapes.length && server.child.exitCode === null; k++) {
  const n = k + 1;
  const shape = shapes[k % shapes.length]!;
  const nc = new NetConnection();
  await nc.connect(server.url('bomb'));
  const closed = new Promise<void>((resolve) => nc.once('close', () => resolve()));
  const from = server.logs.records.length;
  const startedAt = performance.now();
  void nc.call(shape).catch(() => undefined);
  const record = await server.logs.waitFor((r) => r.app === 'bomb/_definst_' && r['code'] === 'Application.Script.Error' && server.logs.records.indexOf(r) >= from, 120_000);
  const ms = performance.now() - startedAt;
  await closed;
  const outcome = shapes.length > 1 ? `${shape} ${String(record['errorCode'])}` : String(record['errorCode']);
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  row(`bomb ${n}`, await sampler.sample(), `${outcome} after ${(ms / 1000).toFixed(1)} s`);
}
asking = false;
await asker;
healthy.close();
const alive = server.child.exitCode === null && server.child.signalCode === null;
const lost = server.logs.records.filter((r) => r['code'] === 'SCRIPT_ISOLATE_LOST').length;
const stopStarted = performance.now();
await server.stop('SIGTERM');
console.log(
  `\noutcomes ${[...outcomes].map(([k, v]) => `${k} ×${v}`).join(', ')}; server alive after the series: ${alive}; ` +
    `isolate-lost lines ${lost}; healthy answers ${answers}, failures ${failures.length}; ` +
    `SIGTERM → exit ${(performance.now() - stopStarted).toFixed(0)} ms (code ${server.child.exitCode}, signal ${server.child.signalCode})`,
);

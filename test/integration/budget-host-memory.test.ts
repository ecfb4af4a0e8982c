import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { ErrorCode } from '../../runtime/errors.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/test-server.ts';

/**
 * Host memory is the script's memory (issue 12 item 3 / finding 4): a script adding two 1 MB
 * shared-object slots every 10 ms. The server runs as its own process (the CLI, default config),
 * so its RSS is measured alone; a healthy instance beside the attacker answers calls throughout.
 */
const MIB = 1024 * 1024;

const APPS: Record<string, string> = {
  healthy: 'Client.prototype.echo = function (x) { return x; };\n',
  // Two 1 MB slots every 10 ms, a new (temporary) SO every 8 slots: no per-SO budget stops it,
  // only the host memory budget of the instance.
  spread: `var big = new Array(1000001).join("x");
var n = 0;
application.onConnect = function (client) {
  setInterval(function () {
    var so = SharedObject.get("s" + Math.floor(n / 4), false);
    so.setProperty("a" + n, big);
    so.setProperty("b" + n, big);
    n++;
  }, 10);
  return true;
};
`,
  // The attack as the issue ran it: one persistent SO; the per-SO budget answers false.
  single: `var so = SharedObject.get("bomb", true);
var big = new Array(1000001).join("x");
var n = 0, accepted = 0, refused = 0;
application.onConnect = function (client) {
  setInterval(function () {
    if (so.setProperty("a" + n, big)) accepted++; else refused++;
    if (so.setProperty("b" + n, big)) accepted++; else refused++;
    n++;
  }, 10);
  return true;
};
Client.prototype.stats = function () { return { accepted: accepted, refused: refused }; };
`,
};

function rssBytes(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** FMS_TEST_FIGURES=1 prints the measured figures (for the closing note); tests assert bounds only. */
const figures = (line: string) => process.env['FMS_TEST_FIGURES'] && process.stdout.write(`      ${line}\n`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * While an attack runs: samples the server's RSS every 50 ms and calls echo on the healthy app
 * every 20 ms. stop() tells the RSS growth and peak, how many calls were answered and the longest wait.
 */
function watch(pid: number, nc: NetConnection) {
  const baseline = rssBytes(pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
  let running = true;
  let answers = 0;
  let maxRttMs = 0;
  const calls = (async () => {
    while (running) {
      const t0 = performance.now();
      assert.equal(await nc.call('echo', answers), answers);
      maxRttMs = Math.max(maxRttMs, performance.now() - t0);
      answers++;
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      clearInterval(sampler);
      await calls;
      return { growthMib: (peak - baseline) / MIB, peakMib: peak / MIB, answers, maxRttMs };
    },
  };
}

describe('host memory a script causes counts against its instance (scripts.hostMemoryMb)', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let healthy: NetConnection;

  before(async () => {
    const apps = tempDir('apps');
    for (const [name, script] of Object.entries(APPS)) {
      mkdirSync(path.join(apps, name));
      writeFileSync(path.join(apps, name, 'main.asc'), script);
    }
    const config = path.join(apps, '..', `config-${path.basename(apps)}.json`);
    writeFileSync(config, JSON.stringify({ dataDir: tempDir('data') }));
    server = await startServerProcess(apps, ['--config', config, '--no-watch', '--log-level', 'info']);
    healthy = new NetConnection();
    await healthy.connect(server.url('healthy'));
  });
  after(async () => {
    healthy?.close();
    await server?.stop('SIGKILL');
  });

  it('two 1 MB slots every 10 ms: the instance is shut down (AppShutdown, one log line), RSS stays bounded, the neighbour keeps answering', async () => {
    const watching = watch(server.child.pid!, healthy);
    const attacker = new NetConnection();
    const shutDown = new Promise<InfoObject>((resolve) => attacker.on('status', (info) => info.code === 'NetConnection.Connect.AppShutdown' && resolve(info)));
    const startedAt = performance.now();
    await attacker.connect(server.url('spread'));
    const info = await shutDown;
    const afterMs = performance.now() - startedAt;
    await sleep(500);
    const { growthMib, peakMib, answers, maxRttMs } = await watching.stop();
    figures(`spread: shut down after ${afterMs.toFixed(0)} ms; RSS +${growthMib.toFixed(0)} MiB (peak ${peakMib.toFixed(0)} MiB); neighbour ${answers} answers, max ${maxRttMs.toFixed(0)} ms`);
    const record = await server.logs.waitFor((r) => r['errorCode'] === ErrorCode.ScriptHostMemory);
    assert.equal(record['code'], 'Application.Script.Error');
    assert.equal(server.logs.records.filter((r) => r['errorCode'] === ErrorCode.ScriptHostMemory).length, 1, 'one line');
    assert.equal(info.level, 'error');
    assert.ok(afterMs < 20_000, `shut down after ${afterMs.toFixed(0)} ms`);
    assert.ok(growthMib < 600, `RSS grew by ${growthMib.toFixed(0)} MiB (budget 128 MiB)`);
    assert.ok(answers > 10, `the neighbour answered ${answers} calls meanwhile`);
    assert.ok(maxRttMs < 3000, `the neighbour waited at most ${maxRttMs.toFixed(0)} ms for an answer`);
    assert.equal(server.child.exitCode, null, 'the process lives on');
    assert.equal(await healthy.call('echo', 'after'), 'after');
    // The next connect gets a fresh instance.
    const again = new NetConnection();
    await again.connect(server.url('spread'));
    again.close();
  });

  it('the same into one persistent SO (the issue\'s run): setProperty answers false at sharedObjects.maxObjectBytes, RSS stays bounded', async () => {
    const watching = watch(server.child.pid!, healthy);
    const attacker = new NetConnection();
    await attacker.connect(server.url('single'));
    await sleep(4000); // 800 slots of 1 MB offered
    const stats = (await attacker.call('stats')) as { accepted: number; refused: number };
    const { growthMib, peakMib, answers, maxRttMs } = await watching.stop();
    attacker.close();
    figures(`single SO: ${stats.accepted} accepted, ${stats.refused} refused; RSS +${growthMib.toFixed(0)} MiB (peak ${peakMib.toFixed(0)} MiB); neighbour ${answers} answers, max ${maxRttMs.toFixed(0)} ms`);
    assert.ok(stats.accepted >= 14 && stats.accepted <= 16, `${stats.accepted} slots of 1 MB fit in 16 MiB`);
    assert.ok(stats.refused > 20, `${stats.refused} refused`);
    assert.ok(growthMib < 400, `RSS grew by ${growthMib.toFixed(0)} MiB`);
    assert.ok(answers > 10, `the neighbour answered ${answers} calls meanwhile`);
    assert.ok(maxRttMs < 3000, `the neighbour waited at most ${maxRttMs.toFixed(0)} ms for an answer`);
  });
});

/**
 * Deadlines a script cannot dodge, on the real server with real RTMP clients: a loop of host calls
 * ends like a pure-JS loop; admin unload and application.shutdown() complete within a bound whatever
 * the script does; SIGTERM ends the process within `shutdownTimeoutMs`. Beside every attack a
 * healthy instance keeps answering calls.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { ErrorCode } from '../../runtime/errors.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { startTestServer, tempDir, type LogRecord, type TestServer } from '../helpers/test-server.ts';
import { STALL_LIMIT_MS } from '../sandbox/helpers.ts';

const ACCEPT = 'application.onConnect = function (client) { return true; };\n';
/** Host calls for `ms` milliseconds: slow but within the handler timeout. */
const busy = (ms: number) => `var t = Date.now(); while (Date.now() - t < ${ms}) application.getStats();`;

function writeApps(apps: Record<string, string>): string {
  const root = tempDir('deadline-apps');
  for (const [name, script] of Object.entries(apps)) {
    mkdirSync(path.join(root, name));
    writeFileSync(path.join(root, name, 'main.asc'), script);
  }
  return root;
}

/** A client of the healthy app calling every 20 ms until stopped; every call must be answered. */
async function keepAsking(url: string): Promise<{ stop(): Promise<{ answers: number; failures: string[]; maxRoundTripMs: number }> }> {
  const nc = new NetConnection();
  await nc.connect(url);
  let running = true;
  let answers = 0;
  let maxRoundTripMs = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      const askedAt = performance.now();
      try {
        assert.equal(await nc.call('echo', answers), answers);
        answers++;
      } catch (error) {
        failures.push(String((error as Error).message));
      }
      maxRoundTripMs = Math.max(maxRoundTripMs, performance.now() - askedAt);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      nc.close();
      return { answers, failures, maxRoundTripMs };
    },
  };
}

/** Connects and records every status the client hears until its connection closes. */
async function client(url: string): Promise<{ nc: NetConnection; statuses: string[]; closed: Promise<void> }> {
  const nc = new NetConnection();
  const statuses: string[] = [];
  nc.on('status', (info: InfoObject) => statuses.push(info.code));
  const closed = new Promise<void>((resolve) => nc.once('close', () => resolve()));
  await nc.connect(url);
  return { nc, statuses, closed };
}

const isTimeoutOf = (app: string) => (r: LogRecord) => r.app === `${app}/_definst_` && r['errorCode'] === ErrorCode.ScriptTimeout;

/** Longest a healthy client's call may take while another instance runs away (the loop-gap limit of the sandbox tests, plus the call's own trip). */
const ROUND_TRIP_LIMIT_MS = STALL_LIMIT_MS + 100;

describe('deadlines scripts cannot dodge (real server)', function () {
  this.timeout(60_000);
  const HANDLER_MS = 1000;
  const UNLOAD_MS = 1500;
  let ts: TestServer;

  before(async () => {
    const apps = writeApps({
      healthy: `${ACCEPT}Client.prototype.echo = function (x) { return x; };\n`,
      purejs: `${ACCEPT}Client.prototype.spin = function () { while (true) {} };\n`,
      hostloop: `${ACCEPT}Client.prototype.spin = function () { while (true) application.getStats(); };\n`,
      fileloop: `${ACCEPT}Client.prototype.spin = function () { var f = new File('x.txt'); while (true) f.exists; };\n`,
      // Waiting host calls (isolated-vm applySyncPromise, work done off the event loop): isolated-vm's
      // own timeout does not count the time the isolate waits in them.
      flushloop: `${ACCEPT}Client.prototype.spin = function () { var so = SharedObject.get('state', true); var i = 0; while (true) { so.setProperty('n', i++); if (!so.flush()) throw new Error('flush failed'); } };\n`,
      folderloop: `${ACCEPT}Client.prototype.spin = function () { var root = new File('/'); var d = new File('/spin'); while (true) { if (!root.mkdir('spin') || !d.remove(true) || root.list() === null) throw new Error('folder work failed'); } };\n`,
      loadloop: `${ACCEPT}Client.prototype.spin = function () { while (true) { try { load('missing.asc'); } catch (e) {} } };\n`,
      // trace() does not wait for the host (an isolated-vm callback Node's thread runs until none is queued).
      traceloop: `${ACCEPT}Client.prototype.spin = function () { while (true) trace('spin'); };\n`,
      stopspin: `${ACCEPT}application.onAppStop = function () { while (true) application.getStats(); };\nClient.prototype.quit = function () { application.shutdown(); };\n`,
      slowbye: `${ACCEPT}application.onDisconnect = function (client) { ${busy(800)} };\n`,
    });
    ts = await startTestServer(apps, { scripts: { handlerTimeoutMs: HANDLER_MS, unloadTimeoutMs: UNLOAD_MS }, reload: { watch: false } });
  });
  after(() => ts?.close());

  for (const app of ['purejs', 'hostloop', 'fileloop', 'flushloop', 'folderloop', 'loadloop', 'traceloop']) {
    it(`${app}: the runaway is ended at the handler timeout with the same log line, client status and instance fate`, async () => {
      const healthy = await keepAsking(ts.url('healthy'));
      const spinner = await client(ts.url(app));
      const startedAt = performance.now();
      const call = spinner.nc.call('spin').then(
        () => 'answered',
        (error: Error) => error.message,
      );
      const record = await ts.logs.waitFor(isTimeoutOf(app), 10_000);
      const elapsedMs = performance.now() - startedAt;
      await spinner.closed;
      assert.ok(elapsedMs < HANDLER_MS + 1000, `timed out after ${elapsedMs.toFixed(0)} ms`);
      // The one log line: Application.Script.Error with the loop's location.
      assert.equal(record.msg, `Script timed out: a handler ran longer than ${HANDLER_MS} ms.`);
      assert.equal(record['code'], 'Application.Script.Error');
      assert.equal(record['filename'], 'main.asc');
      assert.equal(record['lineno'], 2);
      assert.equal(ts.logs.records.filter(isTimeoutOf(app)).length, 1, 'logged once');
      // The client: AppShutdown, then the connection closes; its call never gets a result.
      assert.ok(spinner.statuses.includes('NetConnection.Connect.AppShutdown'), spinner.statuses.join(','));
      assert.notEqual(await call, 'answered');
      // The instance: gone; the next client gets a fresh one.
      const next = await client(ts.url(app));
      assert.ok(next.statuses.includes('NetConnection.Connect.Success'));
      next.nc.close();
      const { answers, failures, maxRoundTripMs } = await healthy.stop();
      assert.deepEqual(failures, []);
      assert.ok(answers > 5, `the healthy instance answered ${answers} calls meanwhile`);
      // The runaway's handler timeout is 1 s: a server whose event loop it held would answer that late.
      assert.ok(maxRoundTripMs < ROUND_TRIP_LIMIT_MS, `the healthy instance waited ${maxRoundTripMs.toFixed(0)} ms for an answer`);
    });
  }

  it('admin unload completes within unloadTimeoutMs while every onDisconnect is slow (5 clients × 800 ms)', async () => {
    const healthy = await keepAsking(ts.url('healthy'));
    const clients = await Promise.all(Array.from({ length: 5 }, () => client(ts.url('slowbye'))));
    const startedAt = performance.now();
    const response = await fetch(`http://127.0.0.1:${ts.server.httpPort}/api/instances/slowbye/_definst_/unload`, { method: 'POST' });
    const elapsedMs = performance.now() - startedAt;
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { state: string }).state, 'closed');
    assert.ok(elapsedMs < UNLOAD_MS + 1000, `unload answered after ${elapsedMs.toFixed(0)} ms (the handlers alone need 4000)`);
    const record = await ts.logs.waitFor((r) => r.app === 'slowbye/_definst_' && r['code'] === ErrorCode.ScriptUnloadTimeout, 1000);
    assert.equal(record['unloadTimeoutMs'], UNLOAD_MS);
    for (const c of clients) {
      await c.closed;
      assert.ok(c.statuses.includes('NetConnection.Connect.AppShutdown'), c.statuses.join(','));
    }
    assert.equal(ts.server.instances.instances.some((i) => i.name === 'slowbye/_definst_'), false);
    const { failures } = await healthy.stop();
    assert.deepEqual(failures, []);
  });

  it('application.shutdown() completes although onAppStop loops on host calls; clients get AppShutdown', async () => {
    const healthy = await keepAsking(ts.url('healthy'));
    const a = await client(ts.url('stopspin'));
    const b = await client(ts.url('stopspin'));
    const startedAt = performance.now();
    a.nc.send('quit');
    await ts.logs.waitFor((r) => r.app === 'stopspin/_definst_' && r.msg === 'instance unloaded', HANDLER_MS + 2000);
    await Promise.all([a.closed, b.closed]);
    const elapsedMs = performance.now() - startedAt;
    assert.ok(elapsedMs < HANDLER_MS + 1000, `shutdown took ${elapsedMs.toFixed(0)} ms`);
    assert.ok(b.statuses.includes('NetConnection.Connect.AppShutdown'), b.statuses.join(','));
    await ts.logs.waitFor(isTimeoutOf('stopspin'), 1);
    // A new client starts a new instance.
    const c = await client(ts.url('stopspin'));
    assert.ok(c.statuses.includes('NetConnection.Connect.Success'));
    c.nc.close();
    const { failures } = await healthy.stop();
    assert.deepEqual(failures, []);
  });
});

describe('SIGTERM ends the process within shutdownTimeoutMs (server process)', function () {
  this.timeout(60_000);
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
  });

  async function start(apps: Record<string, string>, config: Record<string, unknown>): Promise<ServerProcess> {
    const root = writeApps(apps);
    const configFile = path.join(root, '..', `${path.basename(root)}.json`);
    writeFileSync(configFile, JSON.stringify({ ...config, dataDir: tempDir('deadline-so') }));
    server = await startServerProcess(root, ['--config', configFile, '--no-watch']);
    return server;
  }

  /** The process has exited and its stdout (the log) is read to the end. */
  const exited = (s: ServerProcess) => new Promise<void>((resolve) => s.child.once('close', () => resolve()));

  it('a host-call loop and slow onDisconnects: a clean stop in the bound (exit code 0)', async () => {
    const s = await start(
      {
        healthy: `${ACCEPT}Client.prototype.echo = function (x) { return x; };\n`,
        hostloop: `${ACCEPT}Client.prototype.spin = function () { while (true) application.getStats(); };\n`,
        slowbye: `${ACCEPT}application.onDisconnect = function (client) { ${busy(2500)} };\n`,
      },
      { shutdownTimeoutMs: 4000, scripts: { handlerTimeoutMs: 3000, unloadTimeoutMs: 2000 } },
    );
    const healthy = await keepAsking(s.url('healthy'));
    const spinner = await client(s.url('hostloop'));
    void spinner.nc.call('spin').catch(() => undefined);
    const slow = await Promise.all([client(s.url('slowbye')), client(s.url('slowbye')), client(s.url('slowbye'))]);
    const { failures } = await healthy.stop();
    assert.deepEqual(failures, []);
    const startedAt = performance.now();
    s.child.kill('SIGTERM');
    await exited(s);
    const elapsedMs = performance.now() - startedAt;
    assert.equal(s.child.exitCode, 0, `exit ${s.child.exitCode} ${s.child.signalCode}`);
    assert.ok(elapsedMs < 4000, `exited ${elapsedMs.toFixed(0)} ms after SIGTERM`);
    assert.ok(s.logs.records.some((r) => r.msg === 'server closed'));
    assert.ok(s.logs.records.some((r) => r.app === 'hostloop/_definst_' && r['code'] === ErrorCode.ScriptUnloadTimeout));
    for (const c of [spinner, ...slow]) assert.ok(c.statuses.includes('NetConnection.Connect.AppShutdown'), c.statuses.join(','));
  });

  it('a stop that cannot finish in time: one SHUTDOWN_TIMEOUT line, then the process ends itself', async () => {
    const s = await start(
      { stopslow: `${ACCEPT}application.onAppStop = function () { ${busy(4000)} };\n` },
      { shutdownTimeoutMs: 1000, scripts: { handlerTimeoutMs: 10_000, unloadTimeoutMs: 8000 } },
    );
    const c = await client(s.url('stopslow'));
    const startedAt = performance.now();
    s.child.kill('SIGTERM');
    await exited(s);
    const elapsedMs = performance.now() - startedAt;
    assert.equal(s.child.signalCode, 'SIGKILL', `exit code ${s.child.exitCode} after ${elapsedMs.toFixed(0)} ms`);
    // 1000 ms deadline + up to 500 ms for the log flush; the rest is room for a loaded 2-core machine
    // (timers run late there). Without the deadline the stop takes the script's 4000 ms at least.
    assert.ok(elapsedMs >= 950 && elapsedMs < 3000, `ended ${elapsedMs.toFixed(0)} ms after SIGTERM`);
    const record = s.logs.records.find((r) => r['code'] === ErrorCode.ShutdownTimeout);
    assert.ok(record, 'the deadline was logged before the end');
    assert.equal(record['shutdownTimeoutMs'], 1000);
    c.nc.close();
  });
});

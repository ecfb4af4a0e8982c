import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';
import { childrenOf, serverListening, type ServerProcess } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/test-server.ts';
import { waitUntil } from '../helpers/poll.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/fms-runtime.js');
/** The command finds `node` on the PATH (its shebang): the Node running the tests. */
const ENV = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}` };

/** Waits for a file a server writes within its flush delay (no event crosses the process boundary). */
async function fileAppears(file: string): Promise<void> {
  await waitUntil(() => existsSync(file), file);
}

/** Sets a property on a persistent shared object and waits for the server's acknowledgement. */
async function setPersistent(url: string, name: string, value: number): Promise<void> {
  const nc = new NetConnection();
  await nc.connect(url);
  try {
    const so = SharedObject.getRemote(nc, name, true);
    await so.connect();
    const synced = new Promise((resolve) => so.once('sync', resolve));
    so.setProperty('n', value);
    await synced;
  } finally {
    nc.close();
  }
}

/** Node binaries older than the supported lines found on this machine (Debian ships one). */
function olderNode(): { node: string; version: string } | null {
  const which = spawnSync('which', ['-a', 'node'], { encoding: 'utf8' }).stdout.split('\n');
  for (const node of new Set(['/usr/bin/node', '/usr/local/bin/node', ...which].filter(Boolean))) {
    if (!existsSync(node)) continue;
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (Number(/^v(\d+)/.exec(version)?.[1] ?? 99) < 24) return { node, version };
  }
  return null;
}

describe('the fms-runtime command (compiled dist/, started from another folder)', function () {
  this.timeout(60_000);
  const servers: ServerProcess[] = [];

  before(function () {
    this.timeout(120_000);
    const build = spawnSync(process.execPath, ['scripts/build.js', '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  });

  function start(cwd: string, args: string[]): Promise<ServerProcess> {
    const child = spawn(BIN, [...args, '--rtmp-port', '0', '--http-port', '0'], { cwd, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    return serverListening(child).then((server) => (servers.push(server), server));
  }

  it('relative --apps resolves against the working folder; persistent SOs land in <apps>/<app>/sharedobjects/<instance>/; scripts run from dist/ without esbuild; SIGTERM reaches the server', async () => {
    const cwd = tempDir('cwd');
    mkdirSync(path.join(cwd, 'apps', 'chat'), { recursive: true });
    mkdirSync(path.join(cwd, 'apps', 'scripted'));
    writeFileSync(path.join(cwd, 'apps', 'scripted', 'main.asc'), 'application.onConnect = function (client) { trace("hello from " + application.name); return true; };\n');
    const server = await start(cwd, ['--apps', 'apps']);
    const listening = await server.logs.waitFor((r) => r.msg === 'server listening');
    assert.equal(listening['appsDir'], path.join(cwd, 'apps'));
    assert.equal(listening['pid'], server.child.pid, 'the command re-executes itself in place (execve): the server is the process that was started');

    await setPersistent(server.url('chat/room'), 'counter', 7);
    await fileAppears(path.join(cwd, 'apps', 'chat', 'sharedobjects', 'room', 'counter.fso.json')); // flushed into the app folder, FMS layout
    assert.deepEqual(readdirSync(cwd), ['apps'], 'nothing written into the working folder itself');

    const nc = new NetConnection();
    await nc.connect(server.url('scripted'));
    const trace = await server.logs.waitFor((r) => r['trace'] === true && r.app === 'scripted/_definst_');
    assert.equal(trace.msg, 'hello from scripted/_definst_');
    nc.close();
    assert.deepEqual(childrenOf(server.child.pid!), [], 'no child process (the host-api bundle is read from dist/, no esbuild service)');

    const exit = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
    server.child.kill('SIGTERM');
    assert.equal(await exit, 0);
    assert.ok(server.logs.records.some((r) => r.msg === 'server closed'));
  });

  it('--data <dir> (relative: against the working folder) gathers persistent SOs under <dir>/sharedobjects/<app>/<instance>/', async () => {
    const cwd = tempDir('cwd');
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'chat'));
    const server = await start(cwd, ['--apps', apps, '--data', 'state']);
    await setPersistent(server.url('chat/room'), 'counter', 8);
    await fileAppears(path.join(cwd, 'state', 'sharedobjects', 'chat', 'room', 'counter.fso.json'));
    assert.ok(!existsSync(path.join(apps, 'chat', 'sharedobjects')), 'not in the app folder when --data is given');
    await server.stop();
  });

  it('--help prints the usage (with --data) and exits 0; `check` runs through the command', () => {
    const help = spawnSync(BIN, ['--help'], { env: ENV, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: fms-runtime \[options\]/);
    assert.match(help.stdout, /--data <dir>/);
    const check = spawnSync(BIN, ['check', '--json', path.join(ROOT, 'test/fixtures/apps/check-supported')], { env: ENV, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.equal(JSON.parse(check.stdout).ok, true);
  });

  it('an unsupported Node (older than 24) exits at once with one line naming 24 and 26', function () {
    const old = olderNode();
    if (old === null) {
      console.warn('    skipping: no Node.js older than 24 on this machine to try');
      this.skip();
    }
    const started = Date.now();
    const result = spawnSync(old.node, [BIN, '--apps', 'applications'], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, new RegExp(`^fms-runtime: Node\\.js ${old.version.slice(1).replace(/\./g, '\\.')} is not supported; use Node\\.js 24 or 26 \\(LTS\\)`));
    assert.ok(Date.now() - started < 5000, 'at once, before loading anything');
  });
});

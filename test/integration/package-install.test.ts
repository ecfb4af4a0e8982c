import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { playWithFfprobe, publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { childrenOf, serverListening, type ServerProcess } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/test-server.ts';
import { pollUntil } from '../helpers/poll.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
/**
 * npm runs on the Node running the tests, without the npm_* variables of an outer `npm test`
 * (npm_config_local_prefix and friends would point the inner npm at this checkout).
 */
const NPM_ENV = Object.fromEntries([
  ...Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')),
  ['PATH', `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`],
]);
/** What a failed install says when the registry cannot be reached (the only reason to skip). */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ENETUNREACH|ECONNRESET/;
/** What a user needs: the command, the compiled server and its assets, the docs. */
const SHIPPED = /^(package\.json|README\.md|LICENSE|bin\/[^/]+|dist\/.+|docs\/[^/]+\.md)$/;

function npm(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('npm', args, { cwd, env: NPM_ENV, encoding: 'utf8', timeout: 180_000 });
}

/** Whether a process still runs (it is not our child: no exit event to await). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the npm package: npm pack, install into an empty folder, npx fms-runtime from another folder', function () {
  this.timeout(120_000);
  let files: string[] = [];
  let installDir = '';
  let server: ServerProcess | null = null;
  /** The server's own pid: its parent is the `sh -c` npm exec puts in between, not the npm we spawned. */
  let serverPid = 0;
  let pub: Publisher | null = null;

  before(function () {
    this.timeout(300_000);
    const work = tempDir('pack');
    const pack = npm(['pack', '--pack-destination', work, '--json'], ROOT); // prepack builds dist/
    assert.equal(pack.status, 0, pack.stderr);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    files = info!.files.map((f) => f.path);
    installDir = path.join(work, 'install');
    mkdirSync(installDir);
    // From the tarball; its dependencies from npm's cache, or the registry for what the cache lacks.
    const install = npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=dev', path.join(work, info!.filename)], installDir);
    if (install.status !== 0 && OFFLINE.test(install.stderr)) {
      console.warn('    skipping: the npm registry is unreachable and the npm cache lacks a dependency');
      this.skip();
    }
    assert.equal(install.status, 0, install.stderr);
  });
  after(async () => {
    await pub?.stop();
    await server?.stop('SIGKILL');
    if (serverPid && running(serverPid)) process.kill(serverPid, 'SIGKILL');
  });

  it('the tarball holds the command, dist/ and the docs, nothing else', () => {
    assert.deepEqual(files.filter((f) => !SHIPPED.test(f)), []);
    for (const needed of ['bin/fms-runtime.js', 'bin/node-runtime.cjs', 'dist/main.js', 'dist/host-api.js', 'dist/console/index.html', 'README.md']) {
      assert.ok(files.includes(needed), `${needed} is in the tarball`);
    }
  });

  it('installs without the dev tools (no esbuild, no tsx, no TypeScript)', () => {
    assert.ok(existsSync(path.join(installDir, 'node_modules/.bin/fms-runtime')));
    for (const dev of ['esbuild', 'tsx', 'typescript', 'mocha']) assert.ok(!existsSync(path.join(installDir, 'node_modules', dev)), `${dev} installed`);
  });

  it('npx fms-runtime runs from another folder: ffmpeg publishes, ffprobe plays back, the console is served; SIGTERM to npx leaves no server behind', async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'live'));
    const npx = spawn('npm', ['exec', '--prefix', installDir, '--offline', '--', 'fms-runtime', '--apps', apps, '--rtmp-port', '0', '--http-port', '0'], {
      cwd: tempDir('cwd'),
      env: NPM_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = await serverListening(npx, 60_000);
    const listening = await server.logs.waitFor((r) => r.msg === 'server listening');
    serverPid = Number(listening['pid']);

    pub = publishWithFfmpeg(testFlv(20), server.url('live/cam'));
    await server.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'cam');
    const play = await playWithFfprobe(server.url('live/cam'), 2);
    assert.ok(play.videoFrames >= 25, `expected ≥25 video frames in 2 s, got ${play.videoFrames} (ffprobe exit ${play.code}: ${play.stderr}; publisher: ${pub.stderr()})`);
    assert.ok(play.audioFrames > 0, `expected audio frames (${play.stderr})`);

    const http = `http://127.0.0.1:${server.httpPort}`;
    assert.equal((await fetch(`${http}/console`)).status, 200, 'console page from dist/console');
    const player = await fetch(`${http}/console/mpegts.js`);
    assert.equal(player.status, 200, 'mpegts.js from the installed dependencies');
    assert.ok((await player.text()).includes('mpegts'));
    assert.deepEqual(childrenOf(serverPid), [], 'no child process of the server (no esbuild)');

    await pub.stop();
    npx.kill('SIGTERM');
    await pollUntil(() => running(serverPid), (alive) => !alive, 'the server to stop with the npm process that started it', { timeoutMs: 10_000, intervalMs: 100 });
    await server.logs.waitFor((r) => r.msg === 'server closed');
  });
});

import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';
import { liveIsolateCount } from '../../runtime/sandbox/isolate-counters.ts';
import { publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * ES3 fixture whose every behaviour names its version: onConnect (rejects the name it is told to),
 * onPublish (relays the stream into the `mirror` app as <name>_v<version>), a client method.
 */
const script = (version: number, rejectName = '') => `// version ${version}
application.onAppStart = function () { trace("v${version} started"); };
application.onConnect = function (client, name) {
  if (name == "${rejectName}") return false;
  trace("v${version} connect " + name);
  return true;
};
application.onPublish = function (client, stream) {
  trace("v${version} publish " + stream.name);
  var nc = new NetConnection();
  nc.onStatus = function (info) {
    if (info.code != "NetConnection.Connect.Success") return;
    var ns = new NetStream(nc);
    ns.attach(stream);
    ns.publish(stream.name + "_v${version}", "live");
  };
  nc.connect("rtmp://localhost/mirror");
};
Client.prototype.version = function () { return ${version}; };
`;

/** Counts video messages a viewer of `url`/`name` receives over `ms`; the connection stays open. */
function watch(nc: NetConnection, name: string) {
  let frames = 0;
  const ready = nc.createStream().then((ns) => {
    ns.on('media', (m) => {
      if (m.type === 9) frames++;
    });
    ns.play(name);
  });
  return { ready, frames: () => frames };
}

async function framesOver(url: string, name: string, ms: number): Promise<number> {
  const nc = new NetConnection();
  await nc.connect(url);
  const viewer = watch(nc, name);
  await viewer.ready;
  await new Promise((r) => setTimeout(r, ms));
  nc.close();
  return viewer.frames();
}

describe('hot reload (default mode): clients and live streams carried into the new generation', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let apps: string;
  let publisher: Publisher | undefined;

  before(async () => {
    apps = tempDir('apps');
    mkdirSync(path.join(apps, 'hot'));
    mkdirSync(path.join(apps, 'mirror')); // no script: accepts everyone
    writeFileSync(path.join(apps, 'hot', 'main.asc'), script(1));
    ts = await startTestServer(apps, { reload: { watch: true, debounceMs: 50 } });
  });
  after(async () => {
    await publisher?.stop();
    await ts?.close();
  });

  it('on save: onAppStart, then onConnect and onPublish replayed; same connection answers with the new code; frames keep flowing; old relay closed, new one runs', async () => {
    const alice = new NetConnection();
    await alice.connect(ts.url('hot'), 'alice');
    const statuses: string[] = [];
    alice.on('status', (i: InfoObject) => statuses.push(i.code));
    assert.equal(await alice.call('version'), 1);

    publisher = publishWithFfmpeg(testFlv(30), ts.url('hot/show'));
    await ts.logs.waitFor((r) => r.msg === 'v1 publish show', 15_000);
    const player = new NetConnection();
    await player.connect(ts.url('hot'), 'player');
    const viewer = watch(player, 'show');
    await viewer.ready;
    assert.ok((await framesOver(ts.url('mirror'), 'show_v1', 1500)) >= 15, 'the v1 relay delivers into mirror');

    const reloadsBefore = ts.logs.records.filter((r) => r.msg === 'instance reloaded').length;
    writeFileSync(path.join(apps, 'hot', 'main.asc'), script(2));
    await ts.logs.waitFor((r) => r.msg === 'v2 publish show', 10_000);

    // The very same connection now runs v2's method.
    assert.equal(await alice.call('version'), 2);
    assert.equal(alice.isConnected, true);
    assert.deepEqual(statuses, [], 'a carried client hears nothing of the reload');
    const v2 = ts.logs.traces('hot/_definst_').filter((t) => t.startsWith('v2 '));
    assert.equal(v2[0], 'v2 started', v2.join(' | '));
    assert.deepEqual(new Set(v2.slice(1, 4)), new Set(['v2 connect alice', 'v2 connect player', 'v2 connect undefined']), v2.join(' | '));
    assert.equal(v2[4], 'v2 publish show', v2.join(' | '));

    // The player on the carried live stream keeps receiving frames.
    const atReload = viewer.frames();
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(viewer.frames() - atReload >= 15, `player got ${viewer.frames() - atReload} frames in 1.5 s after the reload`);
    // The relay the old script started is gone; the one the new script started delivers.
    assert.ok((await framesOver(ts.url('mirror'), 'show_v2', 1500)) >= 15, 'the v2 relay delivers into mirror');
    assert.equal(await framesOver(ts.url('mirror'), 'show_v1', 800), 0, 'the v1 relay was closed');

    const reloads = ts.logs.records.filter((r) => r.msg === 'instance reloaded');
    assert.equal(reloads.length - reloadsBefore, 1, 'exactly one reload logged');
    assert.equal(reloads.at(-1)!.app, 'hot/_definst_');
    assert.equal(reloads.at(-1)!['clients'], 3);
    assert.equal(reloads.at(-1)!['streams'], 1);
    player.close();
    alice.close();
  });

  it('a carried client the new script rejects is disconnected with NetConnection.Connect.Rejected; the others stay', async () => {
    const bob = new NetConnection();
    await bob.connect(ts.url('hot'), 'bob');
    const carol = new NetConnection();
    await carol.connect(ts.url('hot'), 'carol');
    const statuses: string[] = [];
    bob.on('status', (i: InfoObject) => statuses.push(i.code));
    const closed = new Promise((resolve) => bob.once('close', resolve));
    writeFileSync(path.join(apps, 'hot', 'main.asc'), script(3, 'bob'));
    await closed;
    // Rejected from the server, then the client's own Closed as the socket ends (as in Flash).
    assert.deepEqual(statuses, ['NetConnection.Connect.Rejected', 'NetConnection.Connect.Closed']);
    assert.equal(await carol.call('version'), 3);
    carol.close();
  });

  it('200 reloads in a row: isolates and RSS return to baseline', async function () {
    this.timeout(120_000);
    await publisher?.stop();
    publisher = undefined;
    const dave = new NetConnection();
    await dave.connect(ts.url('hot'), 'dave');
    const isolates = liveIsolateCount();
    const manager = ts.server.instances;
    // Warm-up so the baseline includes JIT code and pools a first reload allocates once.
    for (let i = 0; i < 10; i++) await manager.reloadApp('hot', 'carry');
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 200; i++) {
      const result = await manager.reloadApp('hot', 'carry');
      assert.deepEqual(result, { reloaded: ['hot/_definst_'], failed: [] });
    }
    await new Promise((r) => setImmediate(r)); // isolates disposed on the next turn
    global.gc?.();
    const grownMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    assert.equal(liveIsolateCount(), isolates, 'one isolate per instance, however many reloads');
    assert.equal(dave.isConnected, true);
    assert.equal(await dave.call('version'), 3);
    assert.ok(grownMb < 60, `RSS grew ${grownMb.toFixed(1)} MB over 200 reloads`);
    dave.close();
  });
});

describe('hot reload follows script libraries outside the app folder (scripts.libPaths)', function () {
  this.timeout(30_000);

  it('a changed library reloads the apps that load() it, and only those', async () => {
    const apps = tempDir('apps');
    const lib = tempDir('lib');
    writeFileSync(path.join(lib, 'greeting.asc'), 'function greeting() { return "hello"; }\n');
    mkdirSync(path.join(apps, 'uses'));
    writeFileSync(path.join(apps, 'uses', 'main.asc'), 'load("greeting.asc");\nClient.prototype.greet = function () { return greeting(); };\n');
    mkdirSync(path.join(apps, 'ignores'));
    writeFileSync(path.join(apps, 'ignores', 'main.asc'), 'Client.prototype.greet = function () { return "plain"; };\n');
    const ts = await startTestServer(apps, { reload: { watch: true, debounceMs: 50 }, scripts: { libPaths: [lib] } });
    try {
      const user = new NetConnection();
      await user.connect(ts.url('uses'));
      const other = new NetConnection();
      await other.connect(ts.url('ignores'));
      assert.equal(await user.call('greet'), 'hello');
      writeFileSync(path.join(lib, 'greeting.asc'), 'function greeting() { return "bonjour"; }\n');
      await ts.logs.waitFor((r) => r.msg === 'instance reloaded' && r.app === 'uses/_definst_', 10_000);
      assert.equal(await user.call('greet'), 'bonjour');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ts.logs.records.filter((r) => r.msg === 'instance reloaded').length, 1, 'the app that does not load the library is not touched');
      assert.equal(await other.call('greet'), 'plain');
      user.close();
      other.close();
    } finally {
      await ts.close();
    }
  });
});

describe('hot reload keeps shared objects: data, subscriptions, and no lock left behind', function () {
  this.timeout(30_000);

  /** v1 takes the lock on the board and never releases it (a script bug a reload should not freeze in place). */
  const soScript = (version: number, lockForever: boolean) => `// version ${version}
var board;
application.onAppStart = function () {
  board = SharedObject.get("board", true);
  ${lockForever ? 'board.lock();' : ''}
};
Client.prototype.bump = function () {
  board.setProperty("n", (board.getProperty("n") || 0) + ${version});
  board.setProperty("by", "v${version}");
  return board.getProperty("n");
};
`;

  it('persistent data and client subscriptions carry over; a lock the old script held is released', async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'board'));
    writeFileSync(path.join(apps, 'board', 'main.asc'), soScript(1, false));
    const ts = await startTestServer(apps, { reload: { watch: true, debounceMs: 50 } });
    try {
      const nc = new NetConnection();
      await nc.connect(ts.url('board'));
      const so = SharedObject.getRemote(nc, 'board', true);
      await so.connect();
      assert.equal(await nc.call('bump'), 1);
      writeFileSync(path.join(apps, 'board', 'main.asc'), soScript(2, true));
      await ts.logs.waitFor((r) => r.msg === 'instance reloaded', 10_000);
      assert.equal(await nc.call('bump'), 3, 'v2 adds 2 to the value v1 left');

      // v2 holds its lock: a client's change waits. Reloading to v3 releases it and the change lands.
      so.setProperty('note', 'from client');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ts.server.instances.instances[0]!.sharedObjects.get('board', true)?.getProperty('note'), undefined, 'held by the v2 lock');
      const synced = new Promise<void>((resolve) =>
        so.on('sync', () => {
          if (so.data['note'] === 'from client' && so.data['by'] === 'v3') resolve();
        }),
      );
      writeFileSync(path.join(apps, 'board', 'main.asc'), soScript(3, false));
      await ts.logs.waitFor((r) => r.msg === 'instance reloaded' && r['generation'] === 3, 10_000);
      assert.equal(await nc.call('bump'), 6);
      await synced; // the subscription made under v1 still receives v3's changes
      assert.equal(nc.isConnected, true);
      nc.close();
    } finally {
      await ts.close();
    }
  });
});

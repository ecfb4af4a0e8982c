import { strict as assert } from 'node:assert';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject, type SyncItem } from '../../runtime/client/shared-object.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { waitUntil } from '../helpers/poll.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');
const APP = 'soadmin';

function nextSync(so: SharedObject): Promise<SyncItem[]> {
  return new Promise((resolve) => so.once('sync', resolve));
}

/** Resolves once the SO has `count` "success" answers (our own changes confirmed by the server). */
function successes(so: SharedObject, count: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const onSync = (list: SyncItem[]) => {
      seen += list.filter((i) => i.code === 'success').length;
      if (seen >= count) {
        so.off('sync', onSync);
        resolve();
      }
    };
    so.on('sync', onSync);
  });
}

const summary = (list: SyncItem[]) => list.map((i) => (i.name ? `${i.code} ${i.name}` : i.code));

describe('shared objects: version, resyncDepth and clearSharedObjects (main.asc + real clients)', function () {
  this.timeout(20_000);
  let ts: TestServer;
  let dataDir: string;
  const open: NetConnection[] = [];

  async function connection(): Promise<NetConnection> {
    const nc = new NetConnection();
    await nc.connect(ts.url(APP));
    open.push(nc);
    return nc;
  }

  async function joined(name: string, persistent = true) {
    const nc = await connection();
    const so = SharedObject.getRemote(nc, name, persistent);
    await so.connect();
    return { nc, so };
  }

  const instanceDir = () => path.join(dataDir, 'sharedobjects', APP, '_definst_');
  const fileOf = (name: string) => path.join(instanceDir(), ...name.split('/')) + '.fso.json';

  beforeEach(async () => {
    const apps = tempDir('apps');
    dataDir = tempDir('so-data');
    cpSync(path.join(FIXTURES, APP), path.join(apps, APP), { recursive: true });
    mkdirSync(path.join(apps, 'plain'));
    ts = await startTestServer(apps, { dataDir });
  });

  afterEach(async () => {
    for (const nc of open.splice(0)) nc.close();
    await ts?.close();
  });

  it('version: +1 per client change, deletion, script change and clear; clients and the script agree', async () => {
    const a = await joined('board');
    const start = a.so.version;
    assert.equal(await a.nc.call('boardVersion'), start);
    const done = successes(a.so, 3);
    a.so.setProperty('x', 1);
    a.so.setProperty('y', 2);
    a.so.setProperty('x', null);
    await done;
    assert.equal(a.so.version, start + 3);
    assert.equal(await a.nc.call('boardVersion'), start + 3);
    const scriptChange = nextSync(a.so);
    assert.equal(await a.nc.call('scriptSet', 'z', 'from script'), start + 4);
    assert.deepEqual(summary(await scriptChange), ['change z']);
    assert.equal(a.so.version, start + 4, 'the sync carries the version');
    const cleared = nextSync(a.so);
    assert.equal(await a.nc.call('clearSOs', '/board'), true);
    assert.deepEqual(summary(await cleared), ['clear']);
    assert.equal(a.so.version, start + 5);
    assert.deepEqual(Object.keys(a.so.data), []);
  });

  it('a client that reconnects within resyncDepth gets only what changed since its version, without Clear', async () => {
    const a = await joined('board');
    let done = successes(a.so, 3);
    a.so.setProperty('keep', 'same');
    a.so.setProperty('edit', 'old');
    a.so.setProperty('gone', true);
    await done;
    a.nc.close(); // a goes away holding version v

    const b = await joined('board');
    done = successes(b.so, 3);
    b.so.setProperty('edit', 'new');
    b.so.setProperty('gone', null);
    b.so.setProperty('added', 42);
    await done;

    const resync = nextSync(a.so);
    await a.so.connect(await connection());
    assert.deepEqual(summary(await resync).sort(), ['change added', 'change edit', 'delete gone']);
    assert.deepEqual({ ...a.so.data }, { keep: 'same', edit: 'new', added: 42 });
    assert.equal(a.so.version, b.so.version);
  });

  it('a client further behind than resyncDepth (set by the script) gets Clear and every slot', async () => {
    const a = await joined('board');
    assert.equal(await a.nc.call('setDepth', 2), 2);
    let done = successes(a.so, 2);
    a.so.setProperty('keep', 'same');
    a.so.setProperty('n', 0);
    await done;
    a.nc.close();

    const b = await joined('board');
    done = successes(b.so, 2);
    b.so.setProperty('n', 1);
    b.so.setProperty('n', 2);
    await done;
    // Two versions behind = within depth 2: a delta.
    let resync = nextSync(a.so);
    await a.so.connect(await connection());
    assert.deepEqual(summary(await resync), ['change n']);
    a.so.nc.close(); // the connection it moved to

    done = successes(b.so, 3);
    b.so.setProperty('n', 3);
    b.so.setProperty('n', 4);
    b.so.setProperty('n', 5);
    await done;
    // Three behind: beyond depth 2, so Clear and then every slot.
    resync = nextSync(a.so);
    await a.so.connect(await connection());
    assert.deepEqual(summary(await resync), ['clear', 'change keep', 'change n']);
    assert.deepEqual({ ...a.so.data }, { keep: 'same', n: 5 });
  });

  it('purge(version) forgets older deletions: a client older than them gets a full resync', async () => {
    const a = await joined('board');
    let done = successes(a.so, 1);
    a.so.setProperty('doomed', 1);
    await done;
    a.nc.close();
    const b = await joined('board');
    done = successes(b.so, 1);
    b.so.setProperty('doomed', null);
    await done;
    assert.equal(await b.nc.call('purgeBoard', b.so.version + 1), true);
    const resync = nextSync(a.so);
    await a.so.connect(await connection());
    assert.deepEqual(summary(await resync), ['clear']);
    assert.deepEqual({ ...a.so.data }, {});
  });

  it('application.clearSharedObjects: wildcards, folders, live subscribers, files of unloaded SOs', async () => {
    // Persistent SOs written and then released (not loaded any more) ...
    for (const name of ['rooms/a', 'rooms/b', 'rooms/deep/c', 'lobby', 'lounge']) {
      const x = await joined(name);
      const done = successes(x.so, 1);
      x.so.setProperty('v', name);
      await done;
      x.nc.close();
      await waitUntil(() => existsSync(fileOf(name)), `${name} written`);
    }
    // ... one in use with a subscriber, and a temporary one in use.
    const live = await joined('rooms/live');
    const temp = await joined('rooms/temp', false);
    const done = successes(live.so, 1);
    live.so.setProperty('v', 1);
    await done;
    await waitUntil(() => existsSync(fileOf('rooms/live')), 'rooms/live written');
    writeFileSync(path.join(instanceDir(), 'rooms', 'notes.txt'), 'not a shared object');

    const probe = live.nc;
    assert.equal(await probe.call('clearSOs', '/rooms/nothing'), false, 'a name without wildcards that matches nothing');
    assert.equal(await probe.call('clearSOs', '/rooms/../lobby'), false, 'not a shared object path');
    assert.equal(await probe.call('clearSOs', '/rooms'), false, 'a folder named without a wildcard is not cleared');
    assert.ok(existsSync(fileOf('rooms/a')));

    const liveCleared = nextSync(live.so);
    const tempCleared = nextSync(temp.so);
    assert.equal(await probe.call('clearSOs', '/rooms/*'), true);
    assert.deepEqual(summary(await liveCleared), ['clear']);
    assert.deepEqual(summary(await tempCleared), ['clear']);
    assert.deepEqual({ ...live.so.data }, {});
    assert.equal(existsSync(fileOf('rooms/live')), false, 'the live SO file is gone when clearSharedObjects returns true');
    for (const name of ['rooms/a', 'rooms/b', 'rooms/deep/c']) assert.equal(existsSync(fileOf(name)), false, name);
    assert.ok(existsSync(path.join(instanceDir(), 'rooms', 'notes.txt')), 'other files are left alone');
    assert.ok(existsSync(fileOf('lobby')) && existsSync(fileOf('lounge')));

    assert.equal(await probe.call('clearSOs', '/lo?by'), true);
    assert.equal(existsSync(fileOf('lobby')), false);
    assert.ok(existsSync(fileOf('lounge')));
    assert.equal(await probe.call('clearSOs', '/'), true);
    assert.equal(existsSync(fileOf('lounge')), false);
    // A cleared SO starts empty for the next client.
    const again = await joined('rooms/a');
    assert.deepEqual({ ...again.so.data }, {});
  });

  it('clearSharedObjects answers false when a loaded SO\'s file cannot be deleted (subscribers still get Clear)', async () => {
    const jam = await joined('jam');
    const done = successes(jam.so, 1);
    jam.so.setProperty('v', 1);
    await done;
    await waitUntil(() => existsSync(fileOf('jam')), 'jam written');
    // Something the server cannot remove where the file should be.
    rmSync(fileOf('jam'));
    mkdirSync(fileOf('jam'));
    writeFileSync(path.join(fileOf('jam'), 'keep'), 'x');
    const cleared = nextSync(jam.so);
    assert.equal(await jam.nc.call('clearSOs', '/jam'), false);
    assert.deepEqual(summary(await cleared), ['clear']);
    assert.deepEqual({ ...jam.so.data }, {});
  });

  it('a temporary SO recreated after its last user left is a new life: a client from the old life gets Clear and every slot', async () => {
    await connection(); // keeps the instance loaded between the two lives
    const store = () => ts.server.instances.instances.find((i) => i.name === `${APP}/_definst_`)!.sharedObjects;
    const a = await joined('scratch', false);
    let done = successes(a.so, 3);
    a.so.setProperty('x', 1);
    a.so.setProperty('y', 2);
    a.so.setProperty('z', 3);
    await done;
    const oldVersion = a.so.version;
    a.nc.close();
    await waitUntil(() => !store().objects.has('scratch'), 'the temporary SO destroyed with its last user');

    const b = await joined('scratch', false);
    assert.deepEqual({ ...b.so.data }, {});
    done = successes(b.so, 5);
    for (let i = 0; i < 5; i++) b.so.setProperty('n', i); // more changes than the old life had
    await done;
    assert.ok(b.so.version > oldVersion + 1, `the new life counts on from the old one (${oldVersion} → ${b.so.version})`);

    const resync = nextSync(a.so);
    await a.so.connect(await connection()); // brings version oldVersion, from the earlier life
    assert.deepEqual(summary(await resync), ['clear', 'change n']);
    assert.deepEqual({ ...a.so.data }, { n: 4 }, 'nothing of the old life survives');
    assert.equal(a.so.version, b.so.version);
  });
});

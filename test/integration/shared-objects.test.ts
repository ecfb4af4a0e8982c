import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject, type SyncItem } from '../../runtime/client/shared-object.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

async function joined(ts: TestServer, uri: string, name: string, persistent = false, ...args: unknown[]) {
  const nc = new NetConnection();
  await nc.connect(ts.url(uri), ...args);
  const so = SharedObject.getRemote(nc, name, persistent);
  await so.connect();
  return { nc, so };
}

function nextSync(so: SharedObject): Promise<SyncItem[]> {
  return new Promise((resolve) => so.once('sync', resolve));
}

describe('remote shared objects over RTMP (messages 19/16) with our client', function () {
  this.timeout(20_000);
  let apps: string;
  let dataDir: string;
  let ts: TestServer;

  before(async () => {
    apps = tempDir('apps');
    dataDir = tempDir('so-data');
    mkdirSync(path.join(apps, 'chat'));
    cpSync(path.join(FIXTURES, 'scripted'), path.join(apps, 'scripted'), { recursive: true });
    ts = await startTestServer(apps, { dataDir });
  });
  after(async () => ts?.close());

  it('a change by one client reaches the others as "change" and its owner as "success"', async () => {
    const a = await joined(ts, 'chat/room1', 'users');
    const b = await joined(ts, 'chat/room1', 'users');
    const aSync = nextSync(a.so);
    const bSync = nextSync(b.so);
    a.so.setProperty('topic', { text: 'hello', n: 1 });
    assert.deepEqual((await aSync).map((i) => [i.code, i.name]), [['success', 'topic']]);
    assert.deepEqual((await bSync).map((i) => [i.code, i.name]), [['change', 'topic']]);
    assert.deepEqual(b.so.data['topic'], { text: 'hello', n: 1 });
    // A late joiner gets the current slots in its initial sync.
    const c = await joined(ts, 'chat/room1', 'users');
    assert.deepEqual(c.so.data['topic'], { text: 'hello', n: 1 });
    for (const x of [a, b, c]) x.nc.close();
  });

  it('one change reaches AMF0 and AMF3 subscribers alike (each gets the encoding it speaks)', async () => {
    const join = async (objectEncoding: 0 | 3) => {
      const nc = new NetConnection({ objectEncoding });
      await nc.connect(ts.url('chat/mixed'));
      const so = SharedObject.getRemote(nc, 'board', false);
      await so.connect();
      return { nc, so };
    };
    const writer = await join(0);
    const readers = [await join(0), await join(3), await join(0), await join(3)];
    const synced = readers.map((r) => nextSync(r.so));
    const value = { text: 'héllo', list: [1, 2, 3], when: new Date(1_700_000_000_000) };
    writer.so.setProperty('card', value);
    for (const [i, sync] of synced.entries()) {
      assert.deepEqual((await sync).map((item) => [item.code, item.name]), [['change', 'card']], `reader ${i}`);
      assert.deepEqual(readers[i]!.so.data['card'], value, `reader ${i}`);
    }
    for (const x of [writer, ...readers]) x.nc.close();
  });

  it('send() reaches every subscriber\'s handler; other instances are separate', async () => {
    const a = await joined(ts, 'chat/room2', 'chat');
    const b = await joined(ts, 'chat/room2', 'chat');
    const other = await joined(ts, 'chat/room3', 'chat');
    let otherGot = 0;
    other.so.client = { onMsg: () => otherGot++ };
    const got = new Promise((resolve) => (b.so.client = { onMsg: (text: unknown) => resolve(text) }));
    a.so.send('onMsg', 'hi there');
    assert.equal(await got, 'hi there');
    assert.equal(otherGot, 0);
    for (const x of [a, b, other]) x.nc.close();
  });

  it('writeAccess "" (set by the script) turns a change into a reject', async () => {
    const ro = await joined(ts, 'scripted', 'board', false, 'readonly');
    const sync = nextSync(ro.so);
    ro.so.setProperty('x', 1);
    assert.deepEqual((await sync).map((i) => i.code), ['reject']);
    ro.nc.close();
  });

  it('a persistent shared object survives a server restart', async () => {
    const a = await joined(ts, 'chat/keep', 'counter', true);
    const sync = nextSync(a.so);
    a.so.setProperty('n', 41);
    await sync;
    a.nc.close();
    await ts.close();
    ts = await startTestServer(apps, { dataDir });
    const b = await joined(ts, 'chat/keep', 'counter', true);
    assert.equal(b.so.data['n'], 41);
    b.nc.close();
  });
});

describe('server-side SharedObject API (main.asc) with clients', function () {
  this.timeout(20_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    cpSync(path.join(FIXTURES, 'soapp'), path.join(apps, 'soapp'), { recursive: true });
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  it('script changes reach clients; client changes reach so.onSync; lock batches; so.send reaches handlers', async () => {
    const ann = await joined(ts, 'soapp', 'users', false, 'ann');
    assert.deepEqual(ann.so.data['ann'], { joined: true }, 'set by onConnect, in the initial sync');
    const annSeesBob = new Promise<SyncItem[]>((resolve) => ann.so.on('sync', (list) => list.some((i) => i.name === 'bob') && resolve(list)));
    const bob = await joined(ts, 'soapp', 'users', false, 'bob');
    await annSeesBob;
    assert.equal(await bob.nc.call('count'), 2);

    const annSeesTopic = new Promise<void>((resolve) => ann.so.on('sync', (list) => list.some((i) => i.name === 'topic') && resolve()));
    bob.so.setProperty('topic', 'news');
    await ts.logs.waitFor((r) => r.msg === 'sync change topic' && r.app === 'soapp/_definst_');
    await annSeesTopic; // otherwise ann's next sync may still be the topic (seen under load)

    const batched = nextSync(ann.so);
    assert.equal(await bob.nc.call('batch'), 3);
    assert.deepEqual((await batched).map((i) => i.name).sort(), ['a', 'b'], 'lock/unlock: both changes in one sync');

    bob.so.send('shout', 'hey');
    await ts.logs.waitFor((r) => r.msg === 'shout hey');

    const annSeesBobLeave = new Promise<SyncItem[]>((resolve) => ann.so.on('sync', (list) => list.some((i) => i.code === 'delete' && i.name === 'bob') && resolve(list)));
    bob.nc.close();
    await annSeesBobLeave;
    ann.nc.close();
  });
});

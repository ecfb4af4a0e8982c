import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject, type SyncItem } from '../../runtime/client/shared-object.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { waitUntil } from '../helpers/poll.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');
const PROXY = 'soproxy/_definst_';

function nextSync(so: SharedObject, slot: string): Promise<SyncItem[]> {
  return new Promise((resolve) => {
    const onSync = (list: SyncItem[]) => {
      if (!list.some((i) => i.name === slot)) return;
      so.off('sync', onSync);
      resolve(list);
    };
    so.on('sync', onSync);
  });
}

describe('proxied shared objects: SharedObject.get(name, persistent, netConnection) in main.asc', function () {
  this.timeout(20_000);
  let ts: TestServer;
  const open: NetConnection[] = [];

  before(async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'owner')); // no script: the SO lives in owner/room
    cpSync(path.join(FIXTURES, 'soproxy'), path.join(apps, 'soproxy'), { recursive: true });
    cpSync(path.join(FIXTURES, 'soguard'), path.join(apps, 'soguard'), { recursive: true });
    ts = await startTestServer(apps);
  });
  after(async () => {
    for (const nc of open.splice(0)) nc.close();
    await ts?.close();
  });

  async function connect(uri: string): Promise<NetConnection> {
    const nc = new NetConnection();
    await nc.connect(ts.url(uri));
    open.push(nc);
    return nc;
  }

  const traced = (text: string) => ts.logs.waitFor((r) => r.app === PROXY && r['trace'] === true && r.msg === text);
  const count = (text: string) => ts.logs.traces(PROXY).filter((t) => t === text).length;

  it('the script reads, changes and broadcasts on an SO owned by another instance, and hears its changes', async () => {
    const ownerClient = await connect('owner/room');
    const board = SharedObject.getRemote(ownerClient, 'board', false);
    await board.connect();
    const seeded = nextSync(board, 'topic');
    board.setProperty('topic', 'hello');
    await seeded;

    const p = await connect('soproxy'); // starts the proxy instance, whose onAppStart connects to owner/room
    await traced('proxy ready');

    // The owner's slots reach the proxy's copy; a client change shows in the proxy's onSync.
    await traced('proxy sync change topic');
    assert.equal(await p.call('remoteGet', 'topic'), 'hello');
    const moved = traced('proxy sync change moved');
    board.setProperty('moved', { by: 'owner client' });
    await moved;
    assert.deepEqual(await p.call('remoteGet', 'moved'), { by: 'owner client' });

    // The script's setProperty goes to the owner: its clients see a change, the script a success.
    const ownerSees = nextSync(board, 'fromScript');
    const scriptSuccess = traced('proxy sync success fromScript');
    assert.equal(await p.call('remoteSet', 'fromScript', 42), true);
    assert.deepEqual((await ownerSees).map((i) => [i.code, i.name]), [['change', 'fromScript']]);
    assert.equal(board.data['fromScript'], 42);
    await scriptSuccess;

    // send() both ways: the owner's subscribers run the handler; the script's so.ping runs too.
    const pinged = new Promise((resolve) => (board.client = { ping: (text: unknown) => resolve(text) }));
    const scriptPinged = traced('proxy ping from script');
    assert.equal(await p.call('remoteSend', 'ping', 'from script'), true);
    assert.equal(await pinged, 'from script');
    await scriptPinged;
    const clientPing = traced('proxy ping from owner client');
    board.send('ping', 'from owner client');
    await clientPing;

    // FMS rules for proxied SOs: lock/unlock are -1; size and version are the owner's.
    const info = (await p.call('remoteInfo')) as Record<string, unknown>;
    assert.deepEqual({ ...info }, { name: 'board', size: 3, lock: -1, unlock: -1, version: board.version });
    assert.equal(await p.call('withoutConnection'), true, 'not a NetConnection: get returns null');
  });

  it('get() before the NetConnection connects; after a reconnect the SO resyncs and keeps working', async () => {
    const ownerClient = await connect('owner/room');
    const early = SharedObject.getRemote(ownerClient, 'early', false);
    await early.connect();
    const p = await connect('soproxy');
    // setProperty made before nc2.connect() was replayed once the owner answered.
    await waitUntil(() => early.data['queued'] === 'before connect', 'the queued change at the owner');
    await traced('early sync success queued');

    assert.equal(await p.call('reconnectEarly'), true);
    await waitUntil(() => count('early sync clear') >= 2, 'a second full resync (Clear) after the reconnect');
    const seen = nextSync(early, 'after');
    assert.equal(await p.call('earlySet', 'after', 1), true);
    await seen;
    assert.equal(early.data['after'], 1);
  });

  it('the owner\'s refusals reach so.onStatus: NoReadAccess at use, NoWriteAccess (and a reject) on setProperty', async () => {
    const p = await connect('soproxy');
    const noRead = traced('guarded noread status error SharedObject.NoReadAccess');
    assert.equal(await p.call('guarded', 'noread'), true);
    await noRead;
    const noWrite = traced('guarded nowrite status error SharedObject.NoWriteAccess');
    const rejected = traced('guarded nowrite sync reject x');
    assert.equal(await p.call('guarded', 'nowrite'), true);
    await Promise.all([noWrite, rejected]);
    assert.equal(count('guarded nowrite status error SharedObject.NoWriteAccess'), 1, 'one status per refusal');
    assert.equal(await p.call('withoutConnection'), true, 'the proxy instance keeps serving');
  });
});

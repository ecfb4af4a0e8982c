import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConnectError, NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { publishWithFfmpeg, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

async function connect(ts: TestServer, mode: string, ...extra: unknown[]): Promise<NetConnection> {
  const nc = new NetConnection({ flashVer: 'WIN 9,0,45,0' });
  await nc.connect(ts.url('scripted'), mode, ...extra);
  return nc;
}

async function rejected(ts: TestServer, mode: string): Promise<InfoObject> {
  const nc = new NetConnection();
  try {
    await nc.connect(ts.url('scripted'), mode);
  } catch (error) {
    assert.ok(error instanceof ConnectError);
    return error.info;
  }
  throw new Error(`connect "${mode}" unexpectedly succeeded`);
}

describe('script runtime: a legacy main.asc drives the connection life cycle', function () {
  this.timeout(30_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    cpSync(path.join(FIXTURES, 'scripted'), path.join(apps, 'scripted'), { recursive: true });
    // Same script again with a UTF-8 BOM and CRLF line endings, as real files come.
    mkdirSync(path.join(apps, 'crlf'));
    cpSync(path.join(FIXTURES, 'scripted', 'lib'), path.join(apps, 'crlf', 'lib'), { recursive: true });
    const source = (await import('node:fs')).readFileSync(path.join(FIXTURES, 'scripted', 'main.asc'), 'utf8');
    writeFileSync(path.join(apps, 'crlf', 'main.asc'), '\uFEFF' + source.replace(/\n/g, '\r\n'));
    ts = await startTestServer(apps, { rtmp: { connectTimeoutMs: 1500 } });
  });
  after(async () => ts?.close());

  it('top level and load()ed files run, then onAppStart, then the first onConnect; traces carry app', async () => {
    const nc = await connect(ts, 'accept');
    const traces = ts.logs.traces('scripted/_definst_');
    assert.equal(traces[0], 'onAppStart scripted/_definst_');
    assert.equal(traces[1], 'onConnect accept agent=WIN 9,0,45,0');
    assert.equal(await nc.call('helper', 'hi'), 'HI! 101', 'load()ed library and onAppStart state are visible to handlers');
    nc.close();
  });

  it('Client.prototype methods run with this = the client and their return value is the _result', async () => {
    const nc = await connect(ts, 'accept');
    assert.equal(await nc.call('add', 2, 3), 5);
    const me = (await nc.call('whoami')) as Record<string, unknown>;
    assert.equal(me['mode'], 'accept');
    assert.equal(me['ip'], '127.0.0.1');
    assert.equal(me['agent'], 'WIN 9,0,45,0');
    assert.equal(typeof me['id'], 'string');
    nc.close();
  });

  it('unknown and reserved method names fail with NetConnection.Call.Failed', async () => {
    const nc = await connect(ts, 'accept');
    for (const name of ['noSuchMethod', 'play', 'connect', 'getStats', 'ping']) {
      await assert.rejects(nc.call(name), (e: { info: InfoObject }) => e.info.code === 'NetConnection.Call.Failed', name);
    }
    nc.close();
  });

  it('a throw in a client method: _error to the caller and one Application.Script.Error with file:line', async () => {
    const nc = await connect(ts, 'accept');
    await assert.rejects(nc.call('boom'), (e: { info: InfoObject }) => e.info.code === 'NetConnection.Call.Failed');
    const record = await ts.logs.waitFor((r) => r['code'] === 'Application.Script.Error' && r.app === 'scripted/_definst_');
    assert.match(String(record['filename']), /main\.asc$/);
    assert.equal(typeof record['lineno'], 'number');
    assert.equal(await nc.call('add', 1, 1), 2, 'the instance keeps serving');
    nc.close();
  });

  it('onConnect returning false rejects; rejectConnection delivers errObj as info.application', async () => {
    assert.equal((await rejected(ts, 'false')).code, 'NetConnection.Connect.Rejected');
    const info = await rejected(ts, 'reject');
    assert.equal(info.code, 'NetConnection.Connect.Rejected');
    assert.equal(info.level, 'error');
    assert.deepEqual(info['application'], { message: 'go away', code: 42 });
  });

  it('redirectConnection: Rejected with ex.code 302, ex.redirect, description and application', async () => {
    const info = await rejected(ts, 'redirect');
    assert.equal(info.code, 'NetConnection.Connect.Rejected');
    assert.deepEqual(info['ex'], { code: 302, redirect: 'rtmp://elsewhere.example/app' });
    assert.equal(info.description, 'Moved');
    assert.deepEqual(info['application'], { why: 'moved' });
  });

  it('undefined return leaves the client pending until acceptConnection from a timer; 1 is not true', async () => {
    const t0 = Date.now();
    const nc = await connect(ts, 'pending');
    assert.ok(Date.now() - t0 >= 150, 'accepted only after the timer fired');
    nc.close();
    const info = await rejected(ts, 'one'); // stays pending, then the connect timeout rejects it
    assert.equal(info.code, 'NetConnection.Connect.Rejected');
  });

  it('connect arguments of any AMF type reach onConnect', async () => {
    const payload = { user: 'ann', roles: ['a', 'b'], n: 1.5, nested: { ok: true } };
    const nc = await connect(ts, 'args', payload);
    assert.deepEqual(await nc.call('echoArgs'), payload);
    nc.close();
  });

  it('client.call with a responder: the server calls the client, the result comes back to onResult', async () => {
    const nc = await connect(ts, 'accept');
    const got = new Promise<unknown>((resolve) => {
      nc.client = { double: (x: unknown) => (x as number) * 2, gotAnswer: (r: unknown) => resolve(r) };
    });
    assert.equal(await nc.call('askClient', 21), 'asked');
    assert.equal(await got, 42);
    nc.close();
  });

  it('broadcastMsg reaches every accepted client; application.clients lists them (for..in works)', async () => {
    const a = await connect(ts, 'accept');
    const b = await connect(ts, 'args', 1);
    const received = [a, b].map((nc) => new Promise((resolve) => (nc.client = { onBroadcast: resolve })));
    assert.ok(((await a.call('broadcast', 'hello')) as number) >= 2);
    assert.deepEqual(await Promise.all(received), ['hello', 'hello']);
    assert.match(String(await a.call('modes')), /accept.*args|args.*accept/);
    a.close();
    b.close();
  });

  it('application.disconnect closes the client and onDisconnect runs', async () => {
    const nc = await connect(ts, 'accept');
    const closed = new Promise((resolve) => nc.once('close', resolve));
    void nc.call('kick').catch(() => {});
    await closed;
    await ts.logs.waitFor((r) => r.msg === 'onDisconnect accept');
  });

  it('onPublish and onUnpublish fire for an ffmpeg publisher with the stream name and query string', async () => {
    const pub = publishWithFfmpeg(testFlv(20), ts.url('scripted/_definst_/cam?key=abc'), ['-t', '2']);
    await ts.logs.waitFor((r) => r.msg === 'onPublish cam q=key=abc', 15_000);
    await pub.exited;
    await ts.logs.waitFor((r) => r.msg === 'onUnpublish cam', 15_000);
  });

  it('writeAccess set in onConnect is enforced on publish', async () => {
    const nc = await connect(ts, 'readonly');
    const ns = await nc.createStream();
    await assert.rejects(ns.publish('forbidden'), (e: { info: InfoObject }) => e.info.code === 'NetStream.Publish.BadName');
    nc.close();
  });

  it('no setTimeout, JSON, require or process inside the script', async () => {
    const nc = await connect(ts, 'accept');
    assert.equal(await nc.call('features'), 'undefined,undefined,undefined,undefined');
    nc.close();
  });

  it('a main.asc with a BOM and CRLF line endings runs the same', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('crlf/room'), 'accept');
    assert.equal(await nc.call('helper', 'x'), 'X! 101');
    assert.ok(ts.logs.traces('crlf/room').includes('onAppStart crlf/room'));
    nc.close();
  });
});

import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ConnectError, NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { encodeAmf0 } from '../../runtime/rtmp/amf0.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { chunkBytes, RawRtmpPeer } from '../helpers/raw-rtmp.ts';
import { startTestServer, tempDir, type LogRecord, type TestServer } from '../helpers/test-server.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');
const CONNECT_TIMEOUT_MS = 1500;
const INFO = 30;
const WARN = 40;

/**
 * The connect path has one owner (ClientSession): one timer from the end of the handshake to the
 * decision, one decide() whoever decides, and one end line per connection with the reason.
 */
describe('the connect path: one timer, one decision, one end line', function () {
  this.timeout(30_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('connect-path');
    cpSync(path.join(FIXTURES, 'scripted'), path.join(apps, 'scripted'), { recursive: true });
    mkdirSync(path.join(apps, 'live'));
    ts = await startTestServer(apps, { rtmp: { connectTimeoutMs: CONNECT_TIMEOUT_MS } });
  });
  after(async () => ts?.close());

  /** Runs `work` and returns the one 'client closed' record it caused (fails on none or several). */
  async function oneEnd(work: () => Promise<unknown>): Promise<LogRecord> {
    const before = ts.logs.records.length;
    await work();
    await ts.logs.waitFor((r) => r.msg === 'client closed' && ts.logs.records.indexOf(r) >= before, 5000);
    await new Promise((r) => setTimeout(r, 200)); // a second end line would show up by now
    const ends = ts.logs.records.slice(before).filter((r) => r.msg === 'client closed');
    assert.equal(ends.length, 1, JSON.stringify(ends));
    return ends[0]!;
  }

  async function refusedWith(url: string, ...args: unknown[]): Promise<InfoObject> {
    const nc = new NetConnection();
    try {
      await nc.connect(url, ...args);
    } catch (error) {
      assert.ok(error instanceof ConnectError);
      return error.info;
    }
    nc.close();
    throw new Error(`connect to ${url} unexpectedly succeeded`);
  }

  it('one connect timer from the handshake: a connect sent late gets only the rest of the time', async () => {
    const peer = await RawRtmpPeer.open(ts.rtmpPort);
    const handshakeDone = Date.now();
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // mode "one": onConnect returns 1, not true — the connect stays pending until the timer.
      peer.write(chunkBytes(MessageType.CommandAmf0, encodeAmf0(['connect', 1, { app: 'scripted', tcUrl: ts.url('scripted') }, 'one'])));
      assert.ok(await peer.closedWithin(5000), 'the pending connect is closed');
      const elapsed = Date.now() - handshakeDone;
      // A timer started again at the connect command would close it 1000 + 1500 ms after the handshake.
      assert.ok(elapsed >= CONNECT_TIMEOUT_MS - 100 && elapsed < 2300, `closed ${elapsed} ms after the handshake`);
      assert.ok(peer.saw('NetConnection.Connect.Rejected') && peer.saw('timed out'), 'the client hears why');
    } finally {
      peer.destroy();
    }
    const end = ts.logs.records.filter((r) => r.msg === 'client closed').at(-1)!;
    assert.deepEqual([end['reason'], end.level, end['app']], ['connect not decided in time', WARN, 'scripted/_definst_']);
  });

  it('a handshake without a connect command: closed at the same timer, one warning', async () => {
    const end = await oneEnd(async () => {
      const peer = await RawRtmpPeer.open(ts.rtmpPort);
      assert.ok(await peer.closedWithin(CONNECT_TIMEOUT_MS + 2000));
      peer.destroy();
    });
    assert.deepEqual([end['reason'], end.level, end['wasAccepted']], ['no connect command in time', WARN, false]);
  });

  it('whoever refuses — the script, the handler, the router — the client gets the FMS status and the end line says why', async () => {
    const cases: [string, () => Promise<InfoObject>, string, string][] = [
      ['rejectConnection', () => refusedWith(ts.url('scripted'), 'reject'), 'rejected by the application', 'NetConnection.Connect.Rejected'],
      ['onConnect returns false', () => refusedWith(ts.url('scripted'), 'false'), 'rejected by the application', 'NetConnection.Connect.Rejected'],
      ['redirectConnection', () => refusedWith(ts.url('scripted'), 'redirect'), 'redirected by the application', 'NetConnection.Connect.Rejected'],
      ['unknown application', () => refusedWith(ts.url('nosuchapp')), 'unknown application', 'NetConnection.Connect.InvalidApp'],
    ];
    for (const [what, run, reason, code] of cases) {
      let info: InfoObject | undefined;
      const end = await oneEnd(async () => (info = await run()));
      assert.equal(info?.code, code, what);
      assert.deepEqual([end['reason'], end['answer'], end.level, end['wasAccepted']], [reason, code, INFO, false], what);
      if (what === 'redirectConnection') assert.equal(end['redirect'], 'rtmp://elsewhere.example/app');
    }
  });

  it('a first command that is not connect: one warning with the reason', async () => {
    const end = await oneEnd(async () => {
      const peer = await RawRtmpPeer.open(ts.rtmpPort);
      peer.write(chunkBytes(MessageType.CommandAmf0, encodeAmf0(['createStream', 2, null])));
      assert.ok(await peer.closedWithin(3000));
      peer.destroy();
    });
    assert.deepEqual([end['reason'], end['command'], end.level], ['protocol: first command is not connect', 'createStream', WARN]);
  });

  it('the first decision wins: acceptConnection, then rejectConnection and a false return change nothing', async () => {
    const before = ts.logs.records.length;
    const nc = new NetConnection();
    const info = await nc.connect(ts.url('scripted'), 'twice');
    assert.equal(info.code, 'NetConnection.Connect.Success');
    assert.equal(await nc.call('add', 2, 3), 5, 'the client stays connected');
    const end = await oneEnd(async () => nc.close());
    assert.deepEqual([end['reason'], end['wasAccepted']], ['peer closed', true]);
    assert.equal(ts.logs.records.slice(before).filter((r) => r.msg === 'client accepted').length, 1);
  });
});

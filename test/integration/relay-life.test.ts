import { strict as assert } from 'node:assert';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { RelayStats } from '../../runtime/media/relay.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type LogRecord, type TestServer } from '../helpers/test-server.ts';
import { pollUntil } from '../helpers/poll.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

type ListedRelay = RelayStats & { instance: string };

/** GET /api/relays of a test server. */
async function relaysOf(ts: TestServer): Promise<ListedRelay[]> {
  const res = await fetch(`http://127.0.0.1:${ts.server.httpPort}/api/relays`);
  return ((await res.json()) as { relays: ListedRelay[] }).relays;
}

/** Polls /api/relays until `check` holds (relays change on their own; there is no event to await over HTTP). */
async function relaysWhen(ts: TestServer, check: (relays: ListedRelay[]) => boolean, what: string, timeoutMs = 10_000): Promise<ListedRelay[]> {
  return pollUntil(() => relaysOf(ts), check, (relays) => `${what}: ${JSON.stringify(relays)}`, { timeoutMs, intervalMs: 100 });
}

const endsOf = (ts: TestServer, id: string): LogRecord[] => ts.logs.records.filter((r) => r.msg === 'relay ended' && r['relay'] === id);

describe('relays own their loop: NetStream republishes and Stream.play pulls', function () {
  this.timeout(60_000);
  let origin: TestServer;
  let dest: TestServer;
  let destClosed = false;

  beforeEach(async () => {
    const apps = tempDir('relay-origin');
    cpSync(path.join(FIXTURES, 'relayer'), path.join(apps, 'relayer'), { recursive: true });
    origin = await startTestServer(apps);
    const plain = tempDir('relay-dest');
    cpSync(path.join(FIXTURES, 'plain'), path.join(plain, 'live'), { recursive: true });
    dest = await startTestServer(plain);
    destClosed = false;
  });
  afterEach(async () => {
    await Promise.all([origin?.close(), destClosed ? undefined : dest?.close()]);
  });

  /** Publishes `cam` to the origin for `ms` of media; the relayer fixture republishes it to `dest`. */
  async function publishRelayed(ms: number): Promise<{ publisher: NetConnection; publishing: Promise<void>; destUri: string }> {
    const destUri = dest.url('live');
    const publisher = new NetConnection();
    await publisher.connect(origin.url('relayer'));
    const ns = await publisher.createStream();
    await ns.publish(`cam?to=${encodeURIComponent(destUri)}`);
    return { publisher, publishing: publishTags(ns, testFlv(20), { realtime: true, limitMs: ms }), destUri };
  }

  it('a republish and a local pull are listed while they run; closed by their owner, each logs its end once', async () => {
    const { publisher, publishing } = await publishRelayed(4000);
    const viewer = new NetConnection();
    await viewer.connect(origin.url('relayer'));
    // Stream.get('mirror').play('cam', -1): a pull of a local live stream.
    assert.equal(await viewer.call('playFrom', 'mirror', 'cam', -1), true);
    const running = await relaysWhen(
      origin,
      (rs) => rs.some((r) => r.kind === 'republish' && r.state === 'publishing' && r.bytes > 0) && rs.some((r) => r.kind === 'pull' && r.bytes > 0),
      'a publishing republish and a playing pull, both carrying bytes',
    );
    const republish = running.find((r) => r.kind === 'republish')!;
    assert.equal(republish.instance, 'relayer/_definst_');
    assert.equal(republish.source, 'cam');
    assert.equal(republish.streamName, 'cam');
    assert.ok(republish.destination.includes(`:${dest.rtmpPort}/live`), republish.destination);
    const pull = running.find((r) => r.kind === 'pull')!;
    assert.deepEqual([pull.state, pull.source, pull.destination, pull.lastError], ['playing', 'cam', 'mirror', null]);

    await publishing;
    publisher.close(); // onUnpublish closes the script's NetConnections: the republish ends
    await origin.logs.waitFor((r) => r.msg === 'stopped relaying cam');
    const closed = (await relaysWhen(origin, (rs) => rs.some((r) => r.kind === 'republish' && r.state === 'closed'), 'the republish closed')).find((r) => r.kind === 'republish')!;
    assert.equal(closed.endReason, 'connection closed');
    assert.equal(closed.lastError, null, 'closed by its owner: no error');
    // The pull waits for the next publisher of `cam` (FMS: a live Stream.play survives an unpublish) until the script stops it.
    assert.equal((await relaysOf(origin)).find((r) => r.kind === 'pull')!.state, 'playing');
    assert.equal(await viewer.call('playFrom', 'mirror', false, -1), true);
    await relaysWhen(origin, (rs) => rs.some((r) => r.kind === 'pull' && r.state === 'closed'), 'the pull closed');
    viewer.close();
    for (const relay of [republish, pull]) {
      const ends = endsOf(origin, relay.id);
      assert.equal(ends.length, 1, `${relay.id} logged its end ${ends.length} times`);
      assert.equal(ends[0]!['state'], 'closed');
      assert.equal(ends[0]!.level, 30, 'a normal end is logged at info');
      assert.ok(Number(ends[0]!['packets']) > 0, `${relay.id} counted its packets`);
    }
  });

  it('when the far server goes away, a republish and a remote pull fail on their own with the reason; the script decides about reconnecting', async () => {
    const { publisher, publishing, destUri } = await publishRelayed(6000);
    await dest.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'cam');
    const puller = new NetConnection();
    await puller.connect(origin.url('relayer'));
    // Stream.get('pulled').play('cam', -1, -1, true, nc): a pull from the destination server.
    assert.equal(await puller.call('pull', destUri, 'cam', 'pulled'), true);
    const running = await relaysWhen(
      origin,
      (rs) => rs.some((r) => r.kind === 'pull' && r.bytes > 0) && rs.some((r) => r.kind === 'republish' && r.bytes > 0),
      'a remote pull and a republish carrying bytes',
    );
    const pull = running.find((r) => r.kind === 'pull')!;
    assert.deepEqual([pull.state, pull.destination, pull.streamName], ['playing', 'pulled', 'cam']);
    assert.ok(pull.source?.includes(`:${dest.rtmpPort}/live`), `a remote pull's source is the remote server: ${pull.source}`);

    await dest.close();
    destClosed = true;
    const failed = await relaysWhen(origin, (rs) => rs.length === 2 && rs.every((r) => r.state === 'failed'), 'both relays failed');
    for (const relay of failed) assert.match(String(relay.lastError), /^NetConnection\.(Connect\.Closed|Call\.Failed)/, `${relay.id}: ${relay.lastError}`);
    // The script's NetConnection heard Closed and reconnects on its own (the relayer fixture retries): the relays do not.
    await origin.logs.waitFor((r) => String(r.msg).startsWith(`nc ${destUri} NetConnection.Connect.Failed`), 15_000);
    assert.equal((await relaysOf(origin)).filter((r) => r.state !== 'failed').length, 0, 'no relay retried by itself');
    await publishing;
    publisher.close();
    await origin.logs.waitFor((r) => r.msg === 'stopped relaying cam');
    puller.close();
    for (const relay of failed) {
      const ends = endsOf(origin, relay.id);
      assert.equal(ends.length, 1, `${relay.id} logged its end ${ends.length} times`);
      assert.equal(ends[0]!['state'], 'failed');
      assert.equal(ends[0]!.level, 40, 'a failure is logged at warn');
      assert.equal(ends[0]!['lastError'], relay.lastError);
    }
  });
});

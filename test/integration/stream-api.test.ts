import { strict as assert } from 'node:assert';
import { copyFileSync, cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { pollUntil } from '../helpers/poll.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

interface Times {
  published: number;
  mirror: number;
  relay: number;
  relayAfterWrite: number;
  idle: number;
  idleNs: number;
}

describe('server-side Stream members (fms-api §5, §6.2)', function () {
  this.timeout(60_000);
  let ts: TestServer;
  before(async () => {
    const apps = tempDir('streamapi');
    appsDir = apps;
    cpSync(path.join(FIXTURES, 'streamapi'), path.join(apps, 'streamapi'), { recursive: true });
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());
  let appsDir = '';

  it('time: a published stream, its Stream.get().play() mirror and its relay all advance; 0 when idle or unpublished', async () => {
    const viewer = new NetConnection();
    await viewer.connect(ts.url('streamapi'));
    const times = async (): Promise<Times> => (await viewer.call('times', 'cam')) as Times;

    const before = await times();
    assert.equal(before.published, -1, 'nothing published yet');
    assert.equal(before.idle, 0, 'a Stream nobody plays into is at 0');
    assert.equal(before.idleNs, 0, 'an unconnected NetStream is at 0');

    const publisherNc = new NetConnection();
    await publisherNc.connect(ts.url('streamapi'));
    const ns = await publisherNc.createStream();
    await ns.publish('cam');
    const publishing = publishTags(ns, testFlv(20), { realtime: true, limitMs: 6000 });
    try {
      await ts.logs.waitFor((r) => r.msg === 'relay NetStream.Publish.Start', 10_000);
      await new Promise((r) => setTimeout(r, 1000));
      const first = await times();
      await new Promise((r) => setTimeout(r, 1500));
      const second = await times();
      for (const key of ['published', 'mirror', 'relay'] as const) {
        assert.ok(first[key] > 0, `${key}.time is running (${first[key]})`);
        const advanced = second[key] - first[key];
        // Real-time publishing: 1.5 s of wall clock is ~1.5 s of media (loose bounds for a busy machine).
        assert.ok(advanced > 0.8 && advanced < 2.5, `${key}.time advanced ${advanced} s in 1.5 s (${first[key]} → ${second[key]})`);
      }
      assert.ok(second.published < 7, `seconds, not milliseconds: ${second.published}`);
      assert.ok(second.relayAfterWrite > 0 && second.relayAfterWrite < 100, `ns.time is read-only: ${second.relayAfterWrite}`);
      assert.equal(second.idle, 0);
    } finally {
      await publishing;
    }
    publisherNc.close();
    // The publisher left: its Stream object (kept by the script) reads 0 once the server has seen it go.
    await pollUntil(times, (after) => after.published === 0, 'the publisher left: its stream at 0', { intervalMs: 100 });
    viewer.close();
  });

  it('clear(): deletes the recorded file (Clear.Success); absent or being recorded → false and Clear.Failed', async () => {
    const streamsDir = path.join(appsDir, 'streamapi', 'streams', '_definst_');
    mkdirSync(streamsDir, { recursive: true });
    copyFileSync(testFlv(20), path.join(streamsDir, 'old.flv'));
    const nc = new NetConnection();
    await nc.connect(ts.url('streamapi'));
    try {
      assert.ok(((await nc.call('streamLength', 'old')) as number) > 19);
      const cleared = ts.logs.waitFor((r) => r.msg === 'clear old NetStream.Clear.Success');
      assert.equal(await nc.call('clearStream', 'old'), true);
      await cleared;
      assert.equal(existsSync(path.join(streamsDir, 'old.flv')), false, 'the file is gone');
      assert.equal(await nc.call('streamLength', 'old'), 0);
      const again = ts.logs.waitFor((r) => r.msg === 'clear old NetStream.Clear.Failed');
      assert.equal(await nc.call('clearStream', 'old'), false, 'nothing left to delete');
      await again;

      // A client recording: the file is in use, so clear() refuses rather than lose the recording.
      const ns = await nc.createStream();
      await ns.publish('rec', 'record');
      await publishTags(ns, testFlv(20), { realtime: false, limitMs: 1000 });
      const refused = ts.logs.waitFor((r) => r.msg === 'clear rec NetStream.Clear.Failed');
      assert.equal(await nc.call('clearStream', 'rec'), false);
      await refused;
      assert.ok(existsSync(path.join(streamsDir, 'rec.flv')), 'the recording is intact');
      ns.close(); // the recording stops when the server sees the stream close
      await pollUntil(() => nc.call('clearStream', 'rec'), (cleared) => cleared === true, 'clear() to delete the recording once it stopped', { intervalMs: 100 });
      assert.equal(existsSync(path.join(streamsDir, 'rec.flv')), false);
    } finally {
      nc.close();
    }
  });
});

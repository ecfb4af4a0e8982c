import { strict as assert } from 'node:assert';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

interface Times {
  published: number;
  mirror: number;
  relay: number;
  relayAfterWrite: number;
  idle: number;
  idleNs: number;
}

describe('Stream.time and server-side NetStream.time follow the live media (fms-api §5, §6.2)', function () {
  this.timeout(60_000);
  let ts: TestServer;
  before(async () => {
    const apps = tempDir('streamtime');
    cpSync(path.join(FIXTURES, 'streamtime'), path.join(apps, 'streamtime'), { recursive: true });
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  it('a published stream, its Stream.get().play() mirror and its relay all advance; 0 when idle or unpublished', async () => {
    const viewer = new NetConnection();
    await viewer.connect(ts.url('streamtime'));
    const times = async (): Promise<Times> => (await viewer.call('times', 'cam')) as Times;

    const before = await times();
    assert.equal(before.published, -1, 'nothing published yet');
    assert.equal(before.idle, 0, 'a Stream nobody plays into is at 0');
    assert.equal(before.idleNs, 0, 'an unconnected NetStream is at 0');

    const publisherNc = new NetConnection();
    await publisherNc.connect(ts.url('streamtime'));
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
    const deadline = Date.now() + 5000;
    let after = await times();
    while (after.published !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await times();
    }
    assert.equal(after.published, 0, 'the publisher left: its stream is at 0');
    viewer.close();
  });
});

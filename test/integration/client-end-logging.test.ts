import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { publishWithFfmpeg, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type LogRecord, type TestServer } from '../helpers/test-server.ts';

const WARN = 40;

/** A keyframe-sized H.264 video payload is not needed: the server relays whatever a publisher sends. */
const VIDEO = Buffer.from([0x17, 0x01, 0, 0, 0, 1, 2, 3]);

describe('how a client end is logged (JSON records): a normal end is not a warning', function () {
  this.timeout(60_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'live'));
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  const closedRecord = (client: unknown) => ts.logs.waitFor((r) => r.msg === 'client closed' && r['client'] === client);
  const warningsOf = (client: unknown) => ts.logs.records.filter((r: LogRecord) => r['client'] === client && (r.level ?? 0) >= WARN);

  /** Our client publishes a few frames on live/<stream> and returns its server-side client id. */
  async function publisher(stream: string): Promise<{ nc: NetConnection; client: unknown; end: () => void }> {
    const nc = new NetConnection({ flashVer: `end-logging-${stream}/1.0` });
    await nc.connect(ts.url('live'));
    const accepted = await ts.logs.waitFor((r) => r.msg === 'client accepted' && r['agent'] === `end-logging-${stream}/1.0`);
    const ns = await nc.createStream();
    await ns.publish(stream);
    for (let i = 0; i < 5; i++) ns.sendMedia(MessageType.Video, i * 40, VIDEO);
    return { nc, client: accepted['client'], end: () => ns.close() };
  }

  it('ffmpeg publishing a clip to its end: "client closed" at info, no warning for that client', async () => {
    const clip = testFlv(2);
    const pub = publishWithFfmpeg(clip, ts.url('live/ffmpeg-end'));
    try {
      const started = await ts.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'ffmpeg-end');
      assert.equal(await pub.exited, 0, pub.stderr());
      const closed = await closedRecord(started['client']);
      assert.equal(closed.level, 30, JSON.stringify(closed));
      assert.equal(closed['reason'], 'peer closed');
      assert.deepEqual(warningsOf(started['client']), []);
    } finally {
      await pub.stop();
    }
  });

  it('a connection reset after deleteStream (what ffmpeg races into) is a normal end at info', async () => {
    const { nc, client, end } = await publisher('reset-after-delete');
    end(); // deleteStream
    await ts.logs.waitFor((r) => r.msg === 'publish stopped' && r['client'] === client);
    nc.connection!.socket.resetAndDestroy(); // RST: the server's next read fails with ECONNRESET
    const closed = await closedRecord(client);
    assert.equal(closed.level, 30, JSON.stringify(closed));
    assert.equal(closed['reason'], 'peer closed');
    assert.equal(closed['socketCode'], 'ECONNRESET');
    assert.deepEqual(warningsOf(client), []);
  });

  it('a reset while still publishing cuts media off: that stays a warning with the socket error', async () => {
    const { nc, client } = await publisher('reset-mid-publish');
    nc.connection!.socket.resetAndDestroy();
    const closed = await closedRecord(client);
    assert.equal(closed.level, WARN, JSON.stringify(closed));
    assert.equal(closed['reason'], 'socket error');
    assert.equal((closed['err'] as { code?: string }).code, 'ECONNRESET');
  });
});

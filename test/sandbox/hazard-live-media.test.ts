import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ConnectError, NetConnection } from '../../runtime/client/net-connection.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

describe('sandbox hazard over real RTMP: a runaway onConnect beside a live stream', function () {
  this.timeout(40_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    cpSync(path.join(FIXTURES, 'spinner'), path.join(apps, 'spinner'), { recursive: true });
    mkdirSync(path.join(apps, 'live'));
    ts = await startTestServer(apps, { scripts: { handlerTimeoutMs: 1000 } });
  });
  after(async () => ts?.close());

  it('the spinning instance is disposed and its client rejected; the healthy stream never stalls', async () => {
    const publisher = new NetConnection();
    await publisher.connect(ts.url('live'));
    const pub = await publisher.createStream();
    await pub.publish('healthy');
    const viewer = new NetConnection();
    await viewer.connect(ts.url('live'));
    const play = await viewer.createStream();
    const arrivals: number[] = [];
    play.on('media', (m) => {
      if (m.type === 9) arrivals.push(performance.now());
    });
    play.play('healthy');

    const sending = publishTags(pub, testFlv(20), { realtime: true, limitMs: 4000 });
    await new Promise((r) => setTimeout(r, 500));
    // Two clients hit the runaway app while media flows.
    for (let i = 0; i < 2; i++) {
      const victim = new NetConnection();
      const outcome = await victim.connect(ts.url('spinner')).then(
        () => 'accepted',
        (e: ConnectError) => e.info.code,
      );
      assert.equal(outcome, 'NetConnection.Connect.Rejected');
    }
    await sending;
    await ts.logs.waitFor((r) => r['code'] === 'Application.Script.Error' && r.app === 'spinner/_definst_');
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    const worst = Math.max(...gaps.slice(5));
    assert.ok(arrivals.length >= 90, `viewer got ${arrivals.length} video frames`);
    // A stall would last the 1000 ms handler timeout; 400 ms leaves room for a busy 2-core machine.
    assert.ok(worst < 400, `worst gap between video frames ${worst.toFixed(1)} ms (frames every 40 ms; a stall would be ~1000 ms)`);
    publisher.close();
    viewer.close();
  });
});

import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const SCRIPT = `
Client.prototype.appStats = function () { return application.getStats(); };
`;

describe('application.getStats(): traffic counters of the instance (fms-api §2.2)', function () {
  this.timeout(30_000);
  let ts: TestServer;
  before(async () => {
    const apps = tempDir('appstats');
    mkdirSync(path.join(apps, 'stats'));
    writeFileSync(path.join(apps, 'stats', 'main.asc'), SCRIPT);
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  it('bw_in/bw_out are the kilobytes received/sent (Adobe\'s definition), consistent with bytes_in/bytes_out', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('stats'));
    try {
      const ns = await nc.createStream();
      await ns.publish('load');
      await publishTags(ns, testFlv(20), { realtime: false, limitMs: 3000 }); // ~200 KB at 500 kbit/s
      await new Promise((r) => setTimeout(r, 200));
      const stats = (await nc.call('appStats')) as Record<string, number>;
      assert.ok(stats.bytes_in! > 150 * 1024, `bytes_in ${stats.bytes_in}`);
      assert.equal(stats.bw_in, Math.floor(stats.bytes_in! / 1024));
      assert.equal(stats.bw_out, Math.floor(stats.bytes_out! / 1024));
      assert.equal(stats.total_connects, 1);
    } finally {
      nc.close();
    }
  });
});

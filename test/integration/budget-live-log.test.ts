import { strict as assert } from 'node:assert';
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEFAULT_CONFIG } from '../../runtime/config.ts';
import { assertHealthy, HealthyClients } from '../helpers/healthy-clients.ts';
import { connectCommand, RawRtmpPeer } from '../helpers/raw-rtmp.ts';
import { appsFolder, startTestServer, type TestServer } from '../helpers/test-server.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MB = 1024 * 1024;
const NAME_CHARS = 8_000_000; // the 8 MB unknown app name (fits rtmp.maxMessageBytes)
const CONNECTS = 30;
/** The server decodes (second test) and logs 8 MB per connect on a loaded 2-core machine; before, the heap grew ~8 MB per connect. */
const HEALTHY_BOUND_MS = 1000;

/**
 * Heap in use once closed sockets are gone: both ends keep a closed socket (and what its listeners
 * reach) for the 2 s grace before destroy(), so the measure waits that out.
 */
async function heapUsedMb(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 2500));
  gc();
  return process.memoryUsage().heapUsed / MB;
}

/**
 * Two connect commands whose app is an 8 MB name of no application, encoded once: the flood then costs
 * this process (which also runs the healthy clients) a socket write per connect, not an 8 MB encode.
 */
const CONNECT_BYTES = ['a', 'b'].map((first) => connectCommand({ app: `${first}${'n'.repeat(NAME_CHARS - 1)}` }));

/** CONNECTS such connects, one after the other; resolves with what the server sent the last one. */
async function flood(ts: TestServer): Promise<string> {
  let answer = '';
  for (let i = 0; i < CONNECTS; i++) {
    const peer = await RawRtmpPeer.open(ts.rtmpPort);
    peer.write(CONNECT_BYTES[i % 2]!);
    assert.ok(await peer.closedWithin(10_000), 'answered and closed');
    answer = Buffer.concat(peer.data).toString('latin1');
    peer.destroy();
  }
  return answer;
}

describe('budget: live-log memory, and connects with 8 MB unknown app names (finding 3)', function () {
  this.timeout(120_000);
  let apps: string;
  before(() => {
    apps = appsFolder({ live: null });
  });

  it('default budgets: refused before decoding (rtmp.maxConnectBytes); heap and live log stay flat', async () => {
    const ts = await startTestServer(apps);
    const healthy = await HealthyClients.start(ts.url('live/health'));
    try {
      const heapBefore = await heapUsedMb();
      const answer = await flood(ts);
      assert.ok(answer.includes('_error') && answer.includes('NetConnection.Connect.Rejected'), 'Connect.Rejected');
      assert.match(answer, new RegExp(`Connect command is \\d+ bytes; the limit is ${DEFAULT_CONFIG.rtmp.maxConnectBytes}\\.`));
      assertHealthy(await healthy.report(), HEALTHY_BOUND_MS, '30 connects of 8 MB');
      const grown = (await heapUsedMb()) - heapBefore;
      assert.ok(grown < 40, `heap grew ${grown.toFixed(1)} MB after ${CONNECTS} connects of 8 MB`);
      assert.equal(ts.logs.records.filter((r) => r['budget'] === 'rtmp.maxConnectBytes').length, 1, 'one rate-limited line');
      assert.equal(ts.server.liveLog.ringCount, 2, 'the shared ring and live/health');
    } finally {
      healthy.stop();
      await ts.close();
    }
  });

  it('budgets raised so the names get through: InvalidApp, and still one shared bounded ring, heap flat', async () => {
    const ts = await startTestServer(apps, { rtmp: { maxConnectBytes: 16 * MB, maxUrlChars: 16 * MB, maxNameChars: 16 * MB } });
    const healthy = await HealthyClients.start(ts.url('live/health'));
    try {
      const heapBefore = await heapUsedMb();
      const answer = await flood(ts);
      assert.ok(answer.includes('NetConnection.Connect.InvalidApp'), 'Connect.InvalidApp');
      assertHealthy(await healthy.report(), HEALTHY_BOUND_MS, '30 connects of 8 MB');
      const rejected = ts.logs.records.filter((r) => r.msg === 'client closed' && r['reason'] === 'unknown application');
      assert.equal(rejected.length, CONNECTS);
      for (const record of rejected) assert.ok(String(record.app).length < DEFAULT_CONFIG.log.maxFieldChars + 40, 'the app field is cut');
      const liveLog = ts.server.liveLog;
      assert.equal(liveLog.ringCount, 2, 'no ring per made-up app name');
      assert.ok(liveLog.retainedBytes <= DEFAULT_CONFIG.log.liveSharedRingBytes + DEFAULT_CONFIG.log.liveRingBytes, `${liveLog.retainedBytes} bytes retained`);
      const grown = (await heapUsedMb()) - heapBefore;
      assert.ok(grown < 40, `heap grew ${grown.toFixed(1)} MB after ${CONNECTS} connects of 8 MB`);
    } finally {
      healthy.stop();
      await ts.close();
    }
  });
});

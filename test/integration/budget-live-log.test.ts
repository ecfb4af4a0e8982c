import { strict as assert } from 'node:assert';
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEFAULT_CONFIG } from '../../runtime/config.ts';
import { assertHealthy, HealthyClients } from '../helpers/healthy-clients.ts';
import { rawConnect } from '../helpers/raw-rtmp.ts';
import { appsFolder, startTestServer, type TestServer } from '../helpers/test-server.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MB = 1024 * 1024;
const NAME_CHARS = 8_000_000; // the 8 MB unknown app name (fits rtmp.maxMessageBytes)
const CONNECTS = 30;

/**
 * Heap in use once closed sockets are gone: both ends keep a closed socket (and what its listeners
 * reach) for the 2 s grace before destroy(), so the measure waits that out.
 */
async function heapUsedMb(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 2500));
  gc();
  return process.memoryUsage().heapUsed / MB;
}

/** CONNECTS connects whose app is an 8 MB name of no application, one after the other. */
async function flood(ts: TestServer): Promise<{ name: string; info: Record<string, unknown> } | 'closed'> {
  let last: Awaited<ReturnType<typeof rawConnect>> = 'closed';
  for (let i = 0; i < CONNECTS; i++) last = await rawConnect(ts.rtmpPort, { app: `${String.fromCharCode(97 + (i % 26))}${'n'.repeat(NAME_CHARS - 1)}` });
  return last;
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
      assert.ok(answer !== 'closed');
      assert.equal(answer.name, '_error');
      assert.equal(answer.info['code'], 'NetConnection.Connect.Rejected');
      assert.match(String(answer.info['description']), new RegExp(`^Connect command is \\d+ bytes; the limit is ${DEFAULT_CONFIG.rtmp.maxConnectBytes}\\.$`));
      assertHealthy(await healthy.report(), 1000, '30 connects of 8 MB');
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
      assert.ok(answer !== 'closed');
      assert.equal(answer.info['code'], 'NetConnection.Connect.InvalidApp');
      assertHealthy(await healthy.report(), 1000, '30 connects of 8 MB');
      const rejected = ts.logs.records.filter((r) => r.msg === 'connect to unknown application rejected');
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

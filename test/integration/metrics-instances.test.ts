import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/** Distinct `instance` labels of fms_script_dispatch_seconds in a /metrics scrape. */
async function dispatchInstances(ts: TestServer): Promise<Set<string>> {
  const text = await (await fetch(`http://127.0.0.1:${ts.server.httpPort}/metrics`)).text();
  const labels = [...text.matchAll(/^fms_script_dispatch_seconds_count\{instance="([^"]*)"/gm)].map((m) => m[1]!);
  return new Set(labels);
}

/**
 * Instance names are chosen by RTMP clients (rtmp://host/app/<anything>), so a per-instance
 * series that outlives its instance lets any client grow the server's memory and every scrape
 * without bound. The dispatch histogram keeps series for loaded instances only.
 */
describe('metrics: per-instance dispatch series end with their instance', function () {
  this.timeout(60_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'scripted'));
    writeFileSync(path.join(apps, 'scripted', 'main.asc'), 'application.onConnect = function (c) { return true; };\n');
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  it('20 client-named instances, unloaded: their series are gone from the scrape; a loaded one stays', async () => {
    for (let i = 0; i < 20; i++) {
      const nc = new NetConnection();
      await nc.connect(ts.url(`scripted/room${i}`));
      nc.close();
    }
    const keep = new NetConnection();
    await keep.connect(ts.url('scripted/kept'));
    assert.ok((await dispatchInstances(ts)).has('scripted/room0'), 'series exist while the instance is loaded');
    for (const instance of ts.server.instances.instances) {
      if (instance.instanceName !== 'kept') await instance.unload('Application.Shutdown');
    }
    assert.deepEqual([...(await dispatchInstances(ts))], ['scripted/kept']);
    keep.close();
  });
});

import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { ErrorCode } from '../../runtime/errors.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * scripts.maxOutboundConnections: a script that opens server-side NetConnections without end (to
 * its own server: ~5,000 were possible) gets connect() false and NetConnection.Connect.Failed once
 * the instance has that many open; closing one makes room. A healthy client keeps working.
 */
const SCRIPT = `
var ncs = [];
var statuses = {};
Client.prototype.open = function (count) {
  var answers = [];
  for (var i = 0; i < count; i++) {
    var nc = new NetConnection();
    var index = ncs.length;
    nc.onStatus = (function (k) { return function (info) { statuses[k] = info.code; }; })(index);
    ncs.push(nc);
    answers.push(nc.connect("rtmp://localhost/target"));
  }
  return answers;
};
Client.prototype.statuses = function () { return statuses; };
Client.prototype.closeFirst = function () { ncs[0].close(); return true; };
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('scripts.maxOutboundConnections: server-side NetConnections per instance', function () {
  this.timeout(30_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'opener'));
    writeFileSync(path.join(apps, 'opener', 'main.asc'), SCRIPT);
    mkdirSync(path.join(apps, 'target')); // script-less: accepts every connection
    ts = await startTestServer(apps, { scripts: { maxOutboundConnections: 3 } });
  });
  after(async () => ts?.close());

  it('over the budget connect() answers false and onStatus gets NetConnection.Connect.Failed (one log line); closing one makes room', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('opener'));
    assert.deepEqual(await nc.call('open', 6), [true, true, true, false, false, false]);
    let statuses: Record<string, string> = {};
    for (let i = 0; i < 100 && Object.keys(statuses).length < 6; i++) {
      statuses = (await nc.call('statuses')) as Record<string, string>;
      await sleep(20);
    }
    assert.deepEqual(statuses, {
      0: 'NetConnection.Connect.Success', 1: 'NetConnection.Connect.Success', 2: 'NetConnection.Connect.Success',
      3: 'NetConnection.Connect.Failed', 4: 'NetConnection.Connect.Failed', 5: 'NetConnection.Connect.Failed',
    });
    assert.equal(ts.logs.records.filter((r) => r['code'] === ErrorCode.ScriptOutboundLimit).length, 1, 'one rate-limited line');
    assert.equal(await nc.call('closeFirst'), true);
    assert.deepEqual(await nc.call('open', 2), [true, false], 'one slot freed');
    // A healthy client of another app is unaffected.
    const healthy = new NetConnection();
    await healthy.connect(ts.url('target'));
    assert.equal(healthy.isConnected, true);
    healthy.close();
    nc.close();
  });
});

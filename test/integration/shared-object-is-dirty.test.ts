import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/** so.isDirty at each step: a fresh handle, after a change, after flush() — for a persistent and a temporary SO. */
const MAIN_ASC = `
Client.prototype.dirtiness = function (name, persistent) {
  var so = SharedObject.get(name, persistent);
  var steps = [so.isDirty];
  so.setProperty("x", 1);
  steps.push(so.isDirty);
  steps.push(so.flush());
  steps.push(so.isDirty);
  so.isDirty = true; // read-only, as on FMS: the write is ignored
  steps.push(so.isDirty);
  return steps;
};
`;

describe('so.isDirty (fms-api §7): a persistent shared object changed since it was last stored', function () {
  this.timeout(20_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('isdirty');
    mkdirSync(path.join(apps, 'dirty'));
    writeFileSync(path.join(apps, 'dirty', 'main.asc'), MAIN_ASC);
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  it('persistent: false, true after a change, false once flush() stored it; temporary: always false', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('dirty'));
    assert.deepEqual(await nc.call('dirtiness', 'kept', true), [false, true, true, false, false]);
    assert.deepEqual(await nc.call('dirtiness', 'fleeting', false), [false, false, false, false, false]);
    nc.close();
  });
});

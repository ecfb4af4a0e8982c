import { strict as assert } from 'node:assert';
import { ConnectError, NetConnection } from '../../runtime/client/net-connection.ts';
import { assertHealthy, HealthyClients } from '../helpers/healthy-clients.ts';
import { appsFolder, startTestServer, type TestServer } from '../helpers/test-server.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function connectCode(url: string): Promise<{ code: string; description?: string; nc: NetConnection }> {
  const nc = new NetConnection();
  try {
    return { ...(await nc.connect(url)), nc };
  } catch (error) {
    return { ...(error as ConnectError).info, nc };
  }
}

describe('budget: loaded instances per app and in total (instances.maxPerApp, instances.maxTotal)', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let healthy: HealthyClients;
  const clients: NetConnection[] = [];

  before(async () => {
    const apps = appsFolder({ rooms: 'application.onAppStop = function (info) { trace("stop " + application.name + " " + info.code); };\n', live: null });
    ts = await startTestServer(apps, { instances: { maxPerApp: 3, maxTotal: 4 } });
    healthy = await HealthyClients.start(ts.url('live/health')); // one instance: live/health
  });
  after(async () => {
    healthy?.stop();
    for (const nc of clients) nc.close();
    await ts?.close();
  });

  const loaded = () => ts.server.instances.instances.filter((i) => i.state === 'starting' || i.state === 'running').map((i) => i.name).sort();

  it('a 4th instance of one app is refused with NetConnection.Connect.Rejected while the 3 have clients', async () => {
    for (const room of ['r1', 'r2', 'r3']) {
      const answer = await connectCode(ts.url(`rooms/${room}`));
      assert.equal(answer.code, 'NetConnection.Connect.Success');
      clients.push(answer.nc);
    }
    for (let i = 0; i < 3; i++) {
      const refused = await connectCode(ts.url(`rooms/attacker-${i}`));
      assert.equal(refused.code, 'NetConnection.Connect.Rejected');
      assert.equal(refused.description, 'Resource limit reached: no more instances of application rooms can be loaded.');
    }
    assert.equal(ts.logs.records.filter((r) => r['budget'] === 'instances.maxPerApp').length, 1, 'one rate-limited line');
    assert.deepEqual(loaded(), ['live/health', 'rooms/r1', 'rooms/r2', 'rooms/r3']);
    const again = await connectCode(ts.url('rooms/r1'));
    assert.equal(again.code, 'NetConnection.Connect.Success', 'a loaded instance takes more clients');
    again.nc.close();
    assertHealthy(await healthy.report(), 500, 'instance limit');
  });

  it('the total is a budget of its own', async () => {
    const refused = await connectCode(ts.url('live/another'));
    assert.equal(refused.code, 'NetConnection.Connect.Rejected');
    assert.ok(ts.logs.records.some((r) => r['budget'] === 'instances.maxTotal'));
  });

  it('an instance nobody uses any more is unloaded early (Application.GC) to make room', async () => {
    clients[1]!.close(); // rooms/r2 now waits for its idle unload (20 minutes)
    for (let waited = 0; waited < 5000 && ts.server.instances.instances.find((i) => i.name === 'rooms/r2')?.idleSince == null; waited += 20) await sleep(20);
    const answer = await connectCode(ts.url('rooms/r4'));
    assert.equal(answer.code, 'NetConnection.Connect.Success');
    clients.push(answer.nc);
    await ts.logs.waitFor((r) => r['trace'] === true && r.msg === 'stop rooms/r2 Application.GC');
    assert.deepEqual(loaded(), ['live/health', 'rooms/r1', 'rooms/r3', 'rooms/r4']);
  });

  it('churn of made-up instance names (the issue: 1,500 → 1,501 isolates) never loads more than the cap', async () => {
    for (const nc of clients) nc.close(); // every room is idle now: each new name unloads the oldest idle one
    await sleep(200);
    let most = 0;
    for (let i = 0; i < 40; i++) {
      const answer = await connectCode(ts.url(`rooms/made-up-${i}`));
      assert.equal(answer.code, 'NetConnection.Connect.Success');
      answer.nc.close();
      await sleep(10);
      most = Math.max(most, loaded().length);
    }
    assert.ok(most <= 4, `at most 4 loaded, saw ${most}`);
    assertHealthy(await healthy.report(), 500, 'instance churn');
  });
});

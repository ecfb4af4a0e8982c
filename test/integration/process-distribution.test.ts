import { strict as assert } from 'node:assert';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { encodeAmf0 } from '../../runtime/rtmp/amf0.ts';
import { ChunkEncoder } from '../../runtime/rtmp/chunk-encoder.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { countFrames, playWithFfprobe, publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { chunkBytes, RawRtmpPeer } from '../helpers/raw-rtmp.ts';
import { startServerProcess } from '../helpers/server-process.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { pollUntil, waitUntil } from '../helpers/poll.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

interface ProcessInfo {
  index: number;
  pid: number | null;
  ready: boolean;
  instances: string[];
}

async function json<T>(ts: TestServer, route: string, method = 'GET'): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${ts.server.httpPort}${route}`, { method });
  assert.equal(response.status, 200, `${method} ${route}: ${response.status}`);
  return (await response.json()) as T;
}

const processes = async (ts: TestServer) => (await json<{ processes: ProcessInfo[] }>(ts, '/api/server')).processes;

/** The worker index that has `instance` loaded (polls: workers report what they load within half a second). */
async function workerOf(ts: TestServer, instance: string, timeoutMs = 5000): Promise<ProcessInfo> {
  const owner = async () => {
    const list = await processes(ts);
    return { list, found: list.find((p) => p.instances.includes(instance)) };
  };
  const { found } = await pollUntil(owner, (answer) => answer.found !== undefined, (last) => `${instance} is in no worker: ${JSON.stringify(last.list)}`, { timeoutMs, intervalMs: 100 });
  return found!;
}

async function connected(url: string): Promise<NetConnection> {
  const nc = new NetConnection({ connectTimeoutMs: 15_000 });
  await nc.connect(url);
  return nc;
}

describe('process distribution (distribute.processes 2, scope instance): instances in worker processes', function () {
  this.timeout(90_000);
  let ts: TestServer;
  const clients: NetConnection[] = [];
  const publishers: Publisher[] = [];
  let apps: string;

  before(async () => {
    apps = tempDir('apps');
    cpSync(path.join(FIXTURES, 'distributed'), path.join(apps, 'distributed'), { recursive: true });
    ts = await startTestServer(apps, { distribute: { processes: 2, restartDelayMs: 200 }, reload: { watch: true, debounceMs: 50 } });
  });
  afterEach(async () => {
    for (const nc of clients.splice(0)) nc.close();
    await Promise.all(publishers.splice(0).map((p) => p.stop()));
  });
  after(async () => ts?.close());

  it('two instances land in two worker processes; the admin API, metrics and the live log show both', async () => {
    const a = await connected(ts.url('distributed/a'));
    const b = await connected(ts.url('distributed/b'));
    clients.push(a, b);
    assert.equal(await a.call('whoami'), 'distributed/a rtmp v1');
    assert.equal(await b.call('whoami'), 'distributed/b rtmp v1');
    const [wa, wb] = [await workerOf(ts, 'distributed/a'), await workerOf(ts, 'distributed/b')];
    assert.notEqual(wa.index, wb.index, 'a new instance goes to the worker with fewest');
    assert.notEqual(wa.pid, wb.pid);
    assert.ok(wa.pid !== process.pid && wb.pid !== process.pid, 'instances run in worker processes, not the primary');
    // One view of the whole server, merged from both workers.
    const instances = (await json<{ instances: { name: string; clients: number }[] }>(ts, '/api/instances')).instances;
    assert.deepEqual(instances.map((i) => [i.name, i.clients]).sort(), [['distributed/a', 1], ['distributed/b', 1]]);
    const server = await json<{ connections: number; instances: unknown[] }>(ts, '/api/server');
    assert.equal(server.connections, 2);
    assert.equal(server.instances.length, 2);
    const clientsOfB = await json<{ clients: { protocol: string }[] }>(ts, '/api/instances/distributed/b/clients');
    assert.deepEqual(clientsOfB.clients.map((c) => c.protocol), ['rtmp']);
    const metrics = await (await fetch(`http://127.0.0.1:${ts.server.httpPort}/metrics`)).text();
    assert.match(metrics, /fms_clients\{instance="distributed\/a"\} 1/);
    assert.match(metrics, /fms_clients\{instance="distributed\/b"\} 1/);
    // trace() in a worker reaches the primary's log and its live log.
    await b.call('say', 'hello from b');
    await ts.logs.waitFor((r) => r.msg === 'say distributed/b hello from b' && r.app === 'distributed/b');
    const log = await json<{ records: { msg: string }[] }>(ts, '/api/log?app=distributed/b');
    assert.ok(log.records.some((r) => r.msg === 'say distributed/b hello from b'), JSON.stringify(log.records.map((r) => r.msg)));
  });

  it('a stream published in an instance plays from it over RTMP and HTTP-FLV (through the primary)', async () => {
    const publisher = publishWithFfmpeg(testFlv(20, 500), ts.url('distributed/room/cam'));
    publishers.push(publisher);
    const frames = await countFramesWhenLive(ts.url('distributed/room'), 'cam');
    assert.ok(frames >= 20, `RTMP player got ${frames} video frames in 2 s`);
    const flv = await playWithFfprobe(`http://127.0.0.1:${ts.server.httpPort}/distributed/room/cam.flv`, 2);
    assert.ok(flv.videoFrames >= 20, `HTTP-FLV player got ${flv.videoFrames} video frames`);
    // An instance nobody loaded has no stream: the primary answers 404 itself.
    const missing = await fetch(`http://127.0.0.1:${ts.server.httpPort}/distributed/nowhere/cam.flv`);
    assert.equal(missing.status, 404);
  });

  it('what the primary read before the hand-off reaches the worker: a Set Chunk Size sent with the connect still applies there', async () => {
    // One write after the handshake: Set Chunk Size 4096, then a connect of ~1.5 KB in a single
    // 4096-byte chunk. The primary reads both to route the connect; the worker decodes the connect
    // (and every later message) only if it got the Set Chunk Size too.
    const peer = await RawRtmpPeer.open(ts.server.rtmpPort);
    try {
      const encoder = new ChunkEncoder();
      const size = Buffer.alloc(4);
      size.writeUInt32BE(4096);
      const setChunkSize = encoder.encode({ type: MessageType.SetChunkSize, streamId: 0, timestamp: 0, payload: size }, 2);
      encoder.setChunkSize(4096);
      const props = { app: 'distributed/raw', tcUrl: `rtmp://127.0.0.1:${ts.server.rtmpPort}/distributed/raw`, pageUrl: `http://example.test/${'p'.repeat(1400)}`, objectEncoding: 0 };
      const connect = encoder.encode({ type: MessageType.CommandAmf0, streamId: 0, timestamp: 0, payload: encodeAmf0(['connect', 1, props]) }, 3);
      peer.write(Buffer.concat([...setChunkSize, ...connect]));
      await pollUntil(() => peer.saw('NetConnection.Connect.Success'), Boolean, () => `no Connect.Success; the server sent ${Buffer.concat(peer.data).toString('latin1').replace(/[^ -~]/g, '.')}`, { timeoutMs: 10_000 });
      const call = encoder.encode({ type: MessageType.CommandAmf0, streamId: 0, timestamp: 0, payload: encodeAmf0(['whoami', 2, null, 'x'.repeat(1000)]) }, 3);
      peer.write(Buffer.concat(call));
      await waitUntil(() => peer.saw('distributed/raw rtmp v1'), 'an answer to the call after the connect', { timeoutMs: 10_000 });
      assert.equal((await workerOf(ts, 'distributed/raw')).ready, true);
    } finally {
      peer.destroy();
    }
  });

  it('RTMPT sessions are carried by the primary to the worker: client.protocol is rtmpt there', async () => {
    const nc = await connected(`rtmpt://127.0.0.1:${ts.server.httpPort}/distributed/t`);
    clients.push(nc);
    assert.equal(await nc.call('whoami'), 'distributed/t rtmpt v1');
    await workerOf(ts, 'distributed/t');
  });

  it('the primary keeps at most rtmp.maxConnectBytes + 64 KiB read before a connect: more closes that connection, a healthy client is served', async () => {
    // 9,000 Window Acknowledgement Size messages (16 bytes each, 144,000 bytes — past the 131,072-byte
    // budget of the defaults) and no connect: each is a valid control message, so only the primary's
    // hand-off budget (bytes kept to replay to the worker) can end this connection before the
    // 30 s connect timer.
    const peer = await RawRtmpPeer.open(ts.server.rtmpPort);
    try {
      const size = Buffer.alloc(4);
      size.writeUInt32BE(2_500_000);
      const one = chunkBytes(MessageType.WindowAckSize, size, 2);
      assert.equal(one.length, 16);
      peer.write(Buffer.concat(Array.from({ length: 9000 }, () => one)));
      assert.equal(await peer.closedWithin(5000), true, 'the connection holding more than the hand-off budget was not closed');
    } finally {
      peer.destroy();
    }
    const nc = await connected(`rtmp://127.0.0.1:${ts.server.rtmpPort}/distributed/healthy`);
    clients.push(nc);
    assert.equal(await nc.call('whoami'), 'distributed/healthy rtmp v1');
  });

  it('a script change reloads the app in every worker, keeping the clients (carry)', async () => {
    const a = await connected(ts.url('distributed/a'));
    const b = await connected(ts.url('distributed/b'));
    clients.push(a, b);
    assert.notEqual((await workerOf(ts, 'distributed/a')).index, (await workerOf(ts, 'distributed/b')).index);
    const script = path.join(apps, 'distributed', 'main.asc');
    writeFileSync(script, readFileSync(script, 'utf8').replace('var version = "v1";', 'var version = "v2";'));
    await pollUntil(
      async () => [await a.call('whoami'), await b.call('whoami')],
      (answers) => answers[0] === 'distributed/a rtmp v2' && answers[1] === 'distributed/b rtmp v2',
      (answers) => `not reloaded in both workers: ${answers.join(', ')}`,
      { timeoutMs: 15_000, intervalMs: 200 },
    );
  });

  it('a killed worker: its clients get NetConnection.Connect.AppShutdown, the other worker’s are untouched, it comes back', async () => {
    const victim = await connected(ts.url('distributed/victim'));
    const bystander = await connected(ts.url('distributed/bystander'));
    clients.push(victim, bystander);
    const dead = await workerOf(ts, 'distributed/victim');
    const alive = await workerOf(ts, 'distributed/bystander');
    assert.notEqual(dead.index, alive.index);
    const statuses: InfoObject[] = [];
    victim.on('status', (info) => statuses.push(info));
    const closed = new Promise<void>((resolve) => victim.once('close', () => resolve()));
    process.kill(dead.pid!, 'SIGKILL');
    await closed;
    const shutdown = statuses.find((s) => s.code === 'NetConnection.Connect.AppShutdown');
    assert.ok(shutdown, `statuses: ${statuses.map((s) => s.code).join(', ')}`);
    assert.match(String(shutdown.description), /ended unexpectedly/);
    // The other worker's client never noticed.
    assert.match(String(await bystander.call('whoami')), /^distributed\/bystander rtmp v\d$/);
    assert.equal(bystander.isConnected, true);
    // Restarted in its slot: a new process, and the instance can be loaded again.
    await pollUntil(() => processes(ts), (list) => list.some((p) => p.index === dead.index && p.ready && p.pid !== dead.pid), 'the killed worker to be restarted', { timeoutMs: 15_000, intervalMs: 100 });
    const again = await connected(ts.url('distributed/victim'));
    clients.push(again);
    assert.match(String(await again.call('whoami')), /^distributed\/victim rtmp /);
    await ts.logs.waitFor((r) => r.msg === 'worker process died' && r['worker'] === dead.index);
  });
});

describe('process distribution, scope app: every instance of an app in one worker', function () {
  this.timeout(60_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    cpSync(path.join(FIXTURES, 'distributed'), path.join(apps, 'distributed'), { recursive: true });
    cpSync(path.join(FIXTURES, 'distributed'), path.join(apps, 'other'), { recursive: true });
    ts = await startTestServer(apps, { distribute: { processes: 2, scope: 'app' } });
  });
  after(async () => ts?.close());

  it('instances of one app share a worker; another app gets the other', async () => {
    const ncs = await Promise.all(['distributed/one', 'distributed/two', 'other/three'].map((p) => connected(ts.url(p))));
    try {
      const [one, two, three] = [await workerOf(ts, 'distributed/one'), await workerOf(ts, 'distributed/two'), await workerOf(ts, 'other/three')];
      assert.equal(one.index, two.index);
      assert.notEqual(one.index, three.index);
    } finally {
      for (const nc of ncs) nc.close();
    }
  });
});

describe('process distribution: the fms-runtime command with --processes 2', function () {
  this.timeout(60_000);

  it('SIGTERM ends the primary with status 0 within shutdownTimeoutMs, and its workers with it', async () => {
    const apps = tempDir('apps');
    cpSync(path.join(FIXTURES, 'distributed'), path.join(apps, 'distributed'), { recursive: true });
    const server = await startServerProcess(apps, ['--processes', '2']);
    const ncs: NetConnection[] = [];
    try {
      ncs.push(await connected(server.url('distributed/a')), await connected(server.url('distributed/b')));
      const answer = await fetch(`http://127.0.0.1:${server.httpPort}/api/server`);
      const workers = ((await answer.json()) as { processes: ProcessInfo[] }).processes.map((p) => p.pid!);
      assert.equal(workers.length, 2);
      const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
      const started = Date.now();
      server.child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms (shutdownTimeoutMs is 10 s)`);
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      assert.deepEqual(workers.filter(alive), [], 'no worker process outlives its primary');
    } finally {
      for (const nc of ncs) nc.close();
      await server.stop('SIGKILL');
    }
  });
});

/** Video frames our player gets in 2 s once the stream is live (the publisher needs a moment to start). */
async function countFramesWhenLive(url: string, stream: string): Promise<number> {
  return pollUntil(() => countFrames(url, stream, 2000), (frames) => frames > 0, `video frames of ${stream}`, { timeoutMs: 15_000, intervalMs: 0 });
}

import { strict as assert } from 'node:assert';
import { statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { AdminApi, type AdminSource } from '../../runtime/admin/admin-api.ts';
import { Metrics } from '../../runtime/admin/metrics.ts';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { LiveLog } from '../../runtime/log/live-log.ts';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import type { MediaPacket } from '../../runtime/media/media-packet.ts';
import { playWithFfprobe, publishTags, testFlv } from '../helpers/media-tools.ts';
import { assertFlvStart, serverWithLiveCam } from '../helpers/flv-egress.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** GETs an FLV URL until `minTags` complete tags arrived, then hangs up. */
function readFlvStart(url: string, minTags: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; head: Buffer; tags: MediaPacket[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const data = Buffer.concat(chunks);
        const tags = data.length > 13 ? readFlvTags(data) : [];
        if (tags.length >= minTags) {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, head: data.subarray(0, 13), tags });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, head: Buffer.alloc(0), tags: [] }));
    });
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
    req.setTimeout(15_000, () => req.destroy(new Error('FLV read timed out')));
  });
}

async function getJson(port: number, pathPart: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${pathPart}`, init);
  return { status: res.status, body: await res.json() };
}

describe('HTTP-FLV egress, admin API and /metrics on the HTTP port', function () {
  this.timeout(90_000);
  let ts: TestServer;
  let port: number;
  let close: () => Promise<void> = async () => undefined;

  before(async () => {
    ({ ts, port, close } = await serverWithLiveCam());
  });
  after(async () => close());

  it('ffprobe plays /live/_definst_/cam.flv: at least 50 video packets in 3 s', async () => {
    const play = await playWithFfprobe(`http://127.0.0.1:${port}/live/_definst_/cam.flv`, 3);
    assert.ok(play.videoFrames >= 50, `ffprobe got ${play.videoFrames} video packets: ${play.stderr}`);
    assert.ok(play.audioFrames > 0, `ffprobe got no audio: ${play.stderr}`);
  });

  it('a player gets the FLV header, metadata, codec configs, then media from a keyframe at time 0', async () => {
    const { status, headers, head, tags } = await readFlvStart(`http://127.0.0.1:${port}/live/cam.flv`, 10);
    assert.equal(status, 200);
    assert.equal(headers['content-type'], 'video/x-flv');
    assertFlvStart(head, tags);
  });

  it('unknown streams get 404; publishing over HTTP gets 405', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${port}/live/_definst_/nothing.flv`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${port}/nolive/_definst_/cam.flv`)).status, 404);
    const post = await fetch(`http://127.0.0.1:${port}/live/_definst_/cam.flv`, { method: 'POST', body: Buffer.from('FLV\x01\x05\0\0\0\x09') });
    assert.equal(post.status, 405);
  });

  it('the admin API lists the instance, its stream and its client', async () => {
    const server = await getJson(port, '/api/server');
    assert.equal(server.status, 200);
    assert.equal(server.body.rtmpPort, ts.rtmpPort);
    assert.ok(server.body.connections >= 1);
    assert.ok(server.body.apps.includes('live'));
    const live = server.body.instances.find((i: { name: string }) => i.name === 'live/_definst_');
    assert.deepEqual(live.streams.find((s: { name: string }) => s.name === 'cam'), { name: 'cam', publishing: true, subscribers: 0 });

    const instances = await getJson(port, '/api/instances');
    const instance = instances.body.instances.find((i: { name: string }) => i.name === 'live/_definst_');
    assert.equal(instance.state, 'running');
    assert.equal(instance.clients, 1);

    const clients = await getJson(port, '/api/instances/live/_definst_/clients');
    assert.equal(clients.body.clients.length, 1);
    assert.equal(clients.body.clients[0].ip, '127.0.0.1');
    assert.match(clients.body.clients[0].agent, /FMLE|Lavf/);
    assert.ok(clients.body.clients[0].bytesIn > 0);

    const streams = await getJson(port, '/api/streams');
    const cam = streams.body.streams.find((s: { name: string }) => s.name === 'cam');
    assert.equal(cam.instance, 'live/_definst_');
    assert.equal(cam.publishing, true);
    assert.equal(cam.flvPath, '/live/_definst_/cam.flv');

    assert.deepEqual((await getJson(port, '/api/relays')).body, { relays: [] });
    assert.deepEqual((await getJson(port, '/api/apps')).body.apps.find((a: { name: string }) => a.name === 'live'), { name: 'live', instances: ['_definst_'], clients: 1 });
    assert.equal((await getJson(port, '/api/instances/live/nope/clients')).status, 404);
    assert.equal((await getJson(port, '/api/nope')).status, 404);
  });

  it('FMS Administration API aliases answer FMS result objects as JSON', async () => {
    const apps = await getJson(port, '/admin/getApps');
    assert.equal(apps.body.code, 'NetConnection.Call.Success');
    assert.ok(apps.body.data.includes('live'));
    const streams = await getJson(port, '/admin/getLiveStreams?appInst=live/_definst_');
    assert.deepEqual(streams.body.data, ['cam']);
    const appStats = await getJson(port, '/admin/getAppStats?app=live');
    assert.equal(appStats.body.level, 'status');
    assert.equal(appStats.body.data.connected, 1);
    assert.ok(appStats.body.data.bytes_in > 0);
    const serverStats = await getJson(port, '/admin/getServerStats');
    assert.equal(serverStats.body.level, 'status');
    assert.ok(serverStats.body.data.up_time >= 0);
    assert.equal(serverStats.body.data.num_cores, os.availableParallelism(), 'the CPUs this process may use, not a constant');
    assert.equal((await getJson(port, '/admin/getAppStats?app=missing')).body.level, 'error');
    assert.equal((await getJson(port, '/admin/getLiveStreams?appInst=live/missing')).body.level, 'error');
  });

  it('/metrics exposes the fms_ metrics in Prometheus text format', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    for (const name of [
      'fms_rtmp_connections', 'fms_clients', 'fms_instances', 'fms_streams', 'fms_stream_subscribers', 'fms_relays',
      'fms_rtmp_received_bytes_total', 'fms_rtmp_sent_bytes_total', 'fms_http_flv_players', 'fms_http_flv_sent_bytes_total',
      'fms_http_flv_dropped_packets_total', 'fms_script_errors_total', 'process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} missing`);
    }
    assert.match(text, /^fms_clients\{instance="live\/_definst_"\} 1$/m);
    assert.match(text, /^fms_streams\{instance="live\/_definst_"\} 1$/m);
    assert.match(text, /^fms_instances\{state="running"\} \d+$/m);
    const received = Number(/^fms_rtmp_received_bytes_total (\d+)$/m.exec(text)?.[1]);
    assert.ok(received > 100_000, `received ${received}`);
  });

  it('a slow HTTP player is bounded (drops to the next keyframe) and its response ends with the publish', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('live'));
    const ns = await nc.createStream();
    await ns.publish('fast');
    await publishTags(ns, testFlv(20), { realtime: false, limitMs: 2000 }); // a GOP cache to start from
    // A player that sends its request and then does not read.
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET /live/_definst_/fast.flv HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    socket.pause();
    await ts.logs.waitFor((r) => r.msg === 'http-flv play started' && r.stream === 'fast');
    await publishTags(ns, testFlv(20), { realtime: false, repeat: 12 }); // ~16 MB, far beyond socket buffers + 256 KiB
    const stats = (await getJson(port, '/api/server')).body.httpFlv;
    assert.ok(stats.packetsDropped > 0, `no packets dropped: ${JSON.stringify(stats)}`);
    // Unpublish: the response completes (chunked terminator) and the player is logged out once.
    let received = Buffer.alloc(0);
    const completed = new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        received = Buffer.concat([received, d]);
        if (received.subarray(-7).toString('latin1') === '\r\n0\r\n\r\n') resolve();
      }),
    );
    socket.resume();
    ns.close();
    const record = await ts.logs.waitFor((r) => r.msg === 'http-flv play ended' && r.stream === 'fast');
    assert.equal(record['reason'], 'unpublished');
    assert.ok(Number(record['packetsDropped']) > 0);
    await completed;
    socket.destroy();
    nc.close();
    assert.ok(received.length < 12 * statSync(testFlv(20)).size, `the slow player got all ${received.length} bytes`);
  });

  it('POST /api/instances/<app>/<inst>/unload unloads the instance; GET is refused', async () => {
    assert.equal((await getJson(port, '/api/instances/live/_definst_/unload')).status, 405);
    const res = await getJson(port, '/api/instances/live/_definst_/unload', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(res.body.unloaded, 'live/_definst_');
    assert.equal(res.body.state, 'closed');
    const instances = await getJson(port, '/api/instances');
    assert.ok(!instances.body.instances.some((i: { name: string }) => i.name === 'live/_definst_'));
    assert.equal((await getJson(port, '/api/instances/live/_definst_/unload', { method: 'POST' })).status, 404);
  });
});

describe('admin routes with a token configured', () => {
  let server: http.Server;
  let port: number;
  let metrics: Metrics;
  const token = 'c0rrect-h0rse';

  before(async () => {
    const log = pino({ level: 'silent' });
    const source: AdminSource = {
      startedAt: Date.now(),
      rtmpPort: () => 1935,
      httpPort: () => port,
      rtmpConnections: () => 0,
      connectionsByTransport: () => ({ rtmp: 0, rtmps: 0, rtmpt: 0, rtmpts: 0, rtmpe: 0, rtmpte: 0 }),
      ports: () => ({ rtmp: 1935, http: port, rtmps: 0, https: 0 }),
      rtmptSessions: () => 0,
      apps: () => ['live'],
      instances: () => [],
      httpFlv: () => ({ players: 0, totalPlayers: 0, bytesSent: 0, packetsDropped: 0 }),
      isolates: () => ({ live: 0, lost: 0 }),
      hls: () => ({ packagedStreams: 0, blockedRequests: 0, bytesInMemory: 0, requests: 0 }),
    };
    const admin = new AdminApi(source, { token, log });
    metrics = new Metrics(source, { token, liveLog: new LiveLog(), log });
    server = http.createServer((req, res) => {
      if (admin.handle(req, res) || metrics.handle(req, res)) return;
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    metrics?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('every request needs the bearer token, loopback included', async () => {
    for (const route of ['/api/server', '/admin/getApps', '/metrics']) {
      const refused = await fetch(`http://127.0.0.1:${port}${route}`);
      assert.equal(refused.status, 401, route);
      assert.equal(refused.headers.get('www-authenticate'), 'Bearer');
      const wrong = await fetch(`http://127.0.0.1:${port}${route}`, { headers: { authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401, route);
      const admitted = await fetch(`http://127.0.0.1:${port}${route}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(admitted.status, 200, route);
    }
  });
});

describe('/metrics counts script errors past an instance unload', function () {
  this.timeout(30_000);
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer(path.join(ROOT, 'test/fixtures/apps'));
  });
  after(async () => ts?.close());

  it('a throw in a client method is one fms_script_errors_total for its instance, kept after unload', async () => {
    const port = ts.server.httpPort;
    const nc = new NetConnection();
    await nc.connect(ts.url('scripted'), 'accept');
    await assert.rejects(nc.call('boom'));
    await ts.logs.waitFor((r) => r['code'] === 'Application.Script.Error' && r.app === 'scripted/_definst_');
    const line = /^fms_script_errors_total\{instance="scripted\/_definst_"\} (\d+)$/m;
    assert.equal(line.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1], '1');
    assert.equal((await getJson(port, '/api/instances/scripted/_definst_/unload', { method: 'POST' })).status, 200);
    nc.close();
    assert.equal(line.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1], '1');
  });
});

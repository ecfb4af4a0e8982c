import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ConnectError, NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';
import { playWithFfmpeg, playWithRtmpdump, type FramesResult } from '../helpers/flv-player.ts';
import { countFrames, publishTags, publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { makeTlsFixtures, type TlsFixtures } from '../helpers/tls-fixtures.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');
/** The test FLV is 25 fps; a player must get ≥ 90 % of that over the 5 s window. */
const MIN_FRAMES_5S = Math.ceil(25 * 5 * 0.9);

/** A server with every door open: RTMP, RTMPS, HTTP (RTMPT), HTTPS (RTMPTS), RTMPE on. */
async function serverWithEveryTransport(tlsFiles: TlsFixtures, apps: string): Promise<TestServer & { uri(scheme: string, rest: string): string }> {
  const ts = await startTestServer(apps, {
    rtmps: { host: '127.0.0.1', port: 0, cert: tlsFiles.cert, key: tlsFiles.key },
    https: { enabled: true, port: 0 },
    outbound: { caFiles: [tlsFiles.caFile] },
  });
  const s = ts.server;
  const ports: Record<string, number> = { rtmp: s.rtmpPort, rtmpe: s.rtmpPort, rtmps: s.rtmpsPort, rtmpt: s.httpPort, rtmpte: s.httpPort, rtmpts: s.httpsPort };
  return Object.assign(ts, { uri: (scheme: string, rest: string) => `${scheme}://127.0.0.1:${ports[scheme]}/${rest}` });
}

function appsWith(...names: string[]): string {
  const apps = tempDir('apps');
  mkdirSync(path.join(apps, 'live')); // no script: accepts everyone
  for (const name of names) cpSync(path.join(FIXTURES, name), path.join(apps, name), { recursive: true });
  return apps;
}

function assertFrames(result: FramesResult, what: string): void {
  assert.ok(result.windowVideoFrames >= MIN_FRAMES_5S, `${what}: ${result.windowVideoFrames} video frames in 5 s (want ≥ ${MIN_FRAMES_5S}); ${result.stderr}`);
}

describe('transports: RTMPS, RTMPT(S), RTMPE(TE) with real clients', function () {
  this.timeout(120_000);
  let tlsFiles: TlsFixtures;
  let ts: Awaited<ReturnType<typeof serverWithEveryTransport>>;
  const publishers: Publisher[] = [];
  const open: NetConnection[] = [];

  before(async () => {
    tlsFiles = makeTlsFixtures();
    ts = await serverWithEveryTransport(tlsFiles, appsWith('transports', 'rtmpeonly', 'relayer'));
  });
  afterEach(async () => {
    for (const nc of open.splice(0)) nc.close();
    await Promise.all(publishers.splice(0).map((p) => p.stop()));
  });
  after(async () => ts?.close());

  const publishing = (stream: string) => ts.logs.waitFor((r) => r.msg === 'publish started' && r.stream === stream, 20_000);

  async function connect(uri: string): Promise<NetConnection> {
    const nc = new NetConnection({ ca: [tlsFiles.caPem] });
    open.push(nc);
    await nc.connect(uri);
    return nc;
  }

  it('ffmpeg publishes H.264/AAC over rtmps, rtmpt and rtmpts and plays it back over the same transport', async () => {
    const schemes = ['rtmps', 'rtmpt', 'rtmpts'];
    for (const scheme of schemes) publishers.push(publishWithFfmpeg(testFlv(20), ts.uri(scheme, `live/ff-${scheme}`), [], ['-stream_loop', '-1']));
    await Promise.all(schemes.map((scheme) => publishing(`ff-${scheme}`)));
    const played = await Promise.all(schemes.map((scheme) => playWithFfmpeg(ts.uri(scheme, `live/ff-${scheme}`))));
    schemes.forEach((scheme, i) => assertFrames(played[i]!, `ffmpeg over ${scheme}`));
  });

  it('rtmpdump plays over rtmpe, rtmpte, rtmpt, rtmps and rtmpts; the script sees each client.protocol', async () => {
    publishers.push(publishWithFfmpeg(testFlv(20), ts.uri('rtmp', 'transports/cam'), [], ['-stream_loop', '-1']));
    await publishing('cam');
    const schemes = ['rtmpe', 'rtmpte', 'rtmpt', 'rtmps', 'rtmpts'];
    const played = await Promise.all(schemes.map((scheme) => playWithRtmpdump(ts.uri(scheme, 'transports/cam'))));
    schemes.forEach((scheme, i) => assertFrames(played[i]!, `rtmpdump over ${scheme}`));
    const traces = ts.logs.traces('transports/_definst_');
    for (const expected of ['connect rtmpe secure=false', 'connect rtmpte secure=false', 'connect rtmpt secure=false', 'connect rtmps secure=true']) {
      assert.ok(traces.includes(expected), `missing trace "${expected}" in ${JSON.stringify(traces)}`);
    }
    // RTMPTS reports "rtmps" as FMS did; rtmps and rtmpts both say secure=true.
    assert.equal(traces.filter((t) => t === 'connect rtmps secure=true').length, 2);
  });

  it('our client over all six schemes: client.protocol/secure in the script, the admin API and the log', async () => {
    const expected: Record<string, string> = {
      rtmp: 'connect rtmp secure=false',
      rtmps: 'connect rtmps secure=true',
      rtmpt: 'connect rtmpt secure=false',
      rtmpts: 'connect rtmps secure=true',
      rtmpe: 'connect rtmpe secure=false',
      rtmpte: 'connect rtmpte secure=false',
    };
    for (const scheme of Object.keys(expected)) await connect(ts.uri(scheme, 'transports/probe'));
    const traces = ts.logs.traces('transports/probe');
    for (const [scheme, line] of Object.entries(expected)) assert.ok(traces.includes(line), `${scheme}: ${JSON.stringify(traces)}`);
    const { clients: api } = (await (await fetch(`http://127.0.0.1:${ts.server.httpPort}/api/instances/transports/probe/clients`)).json()) as { clients: { protocol: string; secure: boolean; transport: string }[] };
    assert.deepEqual(api.map((c) => c.transport).sort(), ['rtmp', 'rtmpe', 'rtmps', 'rtmpt', 'rtmpte', 'rtmpts']);
    assert.deepEqual(api.find((c) => c.transport === 'rtmpts'), { ...api.find((c) => c.transport === 'rtmpts'), protocol: 'rtmps', secure: true });
    const server = await (await fetch(`http://127.0.0.1:${ts.server.httpPort}/api/server`)).json() as { connectionsByTransport: Record<string, number> };
    for (const scheme of Object.keys(expected)) assert.ok(server.connectionsByTransport[scheme]! >= 1, `${scheme} counted: ${JSON.stringify(server.connectionsByTransport)}`);
    const metrics = await (await fetch(`http://127.0.0.1:${ts.server.httpPort}/metrics`)).text();
    assert.match(metrics, /fms_rtmp_connections_by_transport\{transport="rtmpte"\} [1-9]/);
    assert.ok(ts.logs.records.some((r) => r.msg === 'client accepted' && r['transport'] === 'rtmpts'), 'the accept log line names the transport');
  });

  it('an app that accepts only rtmpe refuses plain rtmp and rtmpt, and serves rtmpe and rtmpte (our publisher, rtmpdump player)', async () => {
    for (const scheme of ['rtmp', 'rtmpt', 'rtmps']) {
      await assert.rejects(connect(ts.uri(scheme, 'rtmpeonly')), (e: unknown) => e instanceof ConnectError && e.info.code === 'NetConnection.Connect.Rejected');
    }
    const publisher = await connect(ts.uri('rtmpe', 'rtmpeonly'));
    const stream = await publisher.createStream();
    await stream.publish('secret');
    const sending = publishTags(stream, testFlv(20), { realtime: true, limitMs: 12_000 });
    const [rtmpe, rtmpte, plain] = await Promise.all([
      playWithRtmpdump(ts.uri('rtmpe', 'rtmpeonly/secret')),
      playWithRtmpdump(ts.uri('rtmpte', 'rtmpeonly/secret')),
      playWithRtmpdump(ts.uri('rtmp', 'rtmpeonly/secret'), { windowMs: 1000 }),
    ]);
    await sending;
    assertFrames(rtmpe, 'rtmpdump over rtmpe');
    assertFrames(rtmpte, 'rtmpdump over rtmpte');
    assert.equal(plain.videoFrames, 0, 'plain rtmp got no media');
    const traces = ts.logs.traces('rtmpeonly/_definst_');
    assert.ok(traces.includes('refused rtmp') && traces.includes('accepted rtmpte'), JSON.stringify(traces));
  });

  describe('server-side NetConnections to a second server', () => {
    let dest: Awaited<ReturnType<typeof serverWithEveryTransport>>;
    before(async () => {
      const apps = tempDir('dest');
      for (const name of ['viaRtmps', 'viaRtmpt', 'viaRtmpe', 'owner']) mkdirSync(path.join(apps, name));
      dest = await serverWithEveryTransport(tlsFiles, apps);
    });
    after(async () => dest?.close());

    const framesFrom = (uri: string, stream: string, ms: number) => countFrames(uri, stream, ms, { ca: [tlsFiles.caPem] });

    it('a relay (NetStream.attach/publish) over rtmps, rtmpt and rtmpe delivers frames', async () => {
      const targets = [dest.uri('rtmps', 'viaRtmps'), dest.uri('rtmpt', 'viaRtmpt'), dest.uri('rtmpe', 'viaRtmpe')];
      publishers.push(publishWithFfmpeg(testFlv(20), ts.uri('rtmp', `relayer/show?to=${encodeURIComponent(targets.join('|'))}`), [], ['-stream_loop', '-1']));
      for (const uri of targets) await ts.logs.waitFor((r) => r.msg === `ns ${uri} NetStream.Publish.Start`, 20_000);
      const frames = await Promise.all(['viaRtmps', 'viaRtmpt', 'viaRtmpe'].map((app) => framesFrom(dest.uri('rtmp', app), 'show', 3000)));
      for (const [i, n] of frames.entries()) assert.ok(n >= 50, `${targets[i]}: ${n} frames in 3 s`);
    });

    it('Stream.play(name, …, nc) pulls over rtmpte, and a proxied shared object works over rtmps', async () => {
      const source = await connect(dest.uri('rtmp', 'viaRtmpe'));
      const stream = await source.createStream();
      await stream.publish('origin');
      const sending = publishTags(stream, testFlv(20), { realtime: true, limitMs: 8000 });
      const client = await connect(ts.uri('rtmp', 'relayer'));
      await client.call('pull', dest.uri('rtmpte', 'viaRtmpe'), 'origin', 'pulled');
      await ts.logs.waitFor((r) => r.msg === 'pull stream NetStream.Play.Start', 10_000);
      const pulled = await framesFrom(ts.uri('rtmp', 'relayer'), 'pulled', 3000);
      assert.ok(pulled >= 50, `pulled over rtmpte: ${pulled} frames in 3 s`);
      await sending;

      const owner = await connect(dest.uri('rtmp', 'owner'));
      const board = SharedObject.getRemote(owner, 'board', false);
      await board.connect();
      const synced = new Promise<void>((resolve) => board.on('sync', () => board.data['v'] === 'over tls' && resolve()));
      const scripted = await connect(ts.uri('rtmp', 'transports/so'));
      await scripted.call('remoteSet', dest.uri('rtmps', 'owner'), 'over tls');
      await synced;
      assert.ok(ts.logs.traces('transports/so').includes('remote nc NetConnection.Connect.Success'));
    });
  });
});

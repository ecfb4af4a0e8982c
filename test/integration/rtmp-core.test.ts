import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { NetConnection, ConnectError } from '../../runtime/client/net-connection.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { playWithFfprobe, publishTags, publishWithFfmpeg, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

describe('RTMP core (real server, real clients on loopback)', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let flv: string;

  before(async () => {
    flv = testFlv(20);
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'live'));
    ts = await startTestServer(apps);
  });
  after(async () => {
    await ts?.close();
  });

  it('ffmpeg publishes to app/inst/name and ffprobe plays it back from the same instance', async () => {
    const pub = publishWithFfmpeg(flv, ts.url('live/inst1/cam'));
    try {
      await ts.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'cam');
      const play = await playWithFfprobe(ts.url('live/inst1/cam'), 3);
      assert.ok(play.videoFrames >= 50, `expected ≥50 video frames in 3 s, got ${play.videoFrames} (${play.stderr})`);
      assert.ok(play.audioFrames >= 50, `expected audio frames, got ${play.audioFrames}`);
    } finally {
      await pub.stop();
    }
  });

  it('OBS/FMLE-style publish (releaseStream, FCPublish, createStream, publish) gets Publish.Start and FCPublish errors are tolerated', async () => {
    const pub = publishWithFfmpeg(flv, ts.url('live/obs/stream1'));
    try {
      const record = await ts.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'stream1');
      assert.equal(record['type'], 'live');
      assert.equal(pub.child.exitCode, null, `ffmpeg exited early: ${pub.stderr()}`);
    } finally {
      await pub.stop();
    }
  });

  it('a second instance of the same app does not see the stream (per-instance namespaces)', async () => {
    const publisher = new NetConnection({ defaultPort: ts.rtmpPort });
    await publisher.connect(ts.url('live/roomA'));
    const ns = await publisher.createStream();
    await ns.publish('shared-name');
    const viewerA = new NetConnection();
    const viewerB = new NetConnection();
    await viewerA.connect(ts.url('live/roomA'));
    await viewerB.connect(ts.url('live/roomB'));
    const [playA, playB] = [await viewerA.createStream(), await viewerB.createStream()];
    let framesA = 0;
    let framesB = 0;
    playA.on('media', () => framesA++);
    playB.on('media', () => framesB++);
    const startedA = playA.waitStatus('NetStream.Play.Start');
    playA.play('shared-name');
    playB.play('shared-name');
    await startedA;
    await publishTags(ns, flv, { realtime: true, limitMs: 1500 });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(framesA > 40, `roomA viewer got ${framesA} frames`);
    assert.equal(framesB, 0, 'roomB viewer must get nothing');
    for (const nc of [publisher, viewerA, viewerB]) nc.close();
  });

  it('several streams on one connection, media goes out on the createStream id, late joiner starts on a keyframe', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('live/multi'));
    const [s1, s2] = [await nc.createStream(), await nc.createStream()];
    assert.notEqual(s1.id, s2.id);
    await s1.publish('one');
    await s2.publish('two');
    const sending = Promise.all([publishTags(s1, flv, { realtime: true, limitMs: 3000 }), publishTags(s2, flv, { realtime: true, limitMs: 3000 })]);
    await new Promise((r) => setTimeout(r, 1300)); // join mid-GOP
    const viewer = new NetConnection();
    await viewer.connect(ts.url('live/multi'));
    const [p1, p2] = [await viewer.createStream(), await viewer.createStream()];
    const got = new Map<number, { first?: Buffer; videoCount: number; streamIds: Set<number>; configFirst?: boolean }>();
    for (const p of [p1, p2]) {
      got.set(p.id, { videoCount: 0, streamIds: new Set() });
      p.on('media', (m) => {
        const entry = got.get(p.id)!;
        entry.streamIds.add(m.streamId);
        if (m.type !== MessageType.Video) return;
        if (entry.videoCount === 0) entry.first = m.payload;
        entry.videoCount++;
      });
    }
    p1.play('one');
    p2.play('two');
    await sending;
    for (const p of [p1, p2]) {
      const entry = got.get(p.id)!;
      assert.ok(entry.videoCount > 20, `stream ${p.id}: ${entry.videoCount} video messages`);
      assert.deepEqual([...entry.streamIds], [p.id], 'media must arrive on the play stream id');
      // first video message: AVC sequence header (keyframe + packet type 0), then the cached GOP's keyframe
      assert.equal(entry.first![0], 0x17);
      assert.equal(entry.first![1], 0);
    }
    nc.close();
    viewer.close();
  });

  it('publishing a name that is taken gets NetStream.Publish.BadName', async () => {
    const a = new NetConnection();
    const b = new NetConnection();
    await a.connect(ts.url('live'));
    await b.connect(ts.url('live'));
    await (await a.createStream()).publish('taken');
    const sb = await b.createStream();
    await assert.rejects(sb.publish('taken'), (e: Error & { info?: { code: string; level: string } }) => {
      assert.equal(e.info?.code, 'NetStream.Publish.BadName');
      assert.equal(e.info?.level, 'error');
      return true;
    });
    a.close();
    b.close();
  });

  it('players get UnpublishNotify at once when the publisher stops, and PublishNotify when it comes back', async () => {
    const pubNc = new NetConnection();
    await pubNc.connect(ts.url('live'));
    const pub = await pubNc.createStream();
    await pub.publish('notify');
    const viewer = new NetConnection();
    await viewer.connect(ts.url('live'));
    const play = await viewer.createStream();
    const codes: string[] = [];
    play.on('status', (i) => codes.push(i.code));
    const started = play.waitStatus('NetStream.Play.Start');
    play.play('notify');
    await started;
    const unpublished = play.waitStatus('NetStream.Play.UnpublishNotify');
    const t0 = Date.now();
    pub.close();
    await unpublished;
    assert.ok(Date.now() - t0 < 500, 'UnpublishNotify must not wait for a grace period');
    const republished = play.waitStatus('NetStream.Play.PublishNotify');
    const pub2 = await pubNc.createStream();
    await pub2.publish('notify');
    await republished;
    assert.deepEqual(codes, ['NetStream.Play.Reset', 'NetStream.Play.Start', 'NetStream.Data.Start', 'NetStream.Play.UnpublishNotify', 'NetStream.Play.PublishNotify']);
    pubNc.close();
    viewer.close();
  });

  it('an unknown application is rejected with NetConnection.Connect.InvalidApp', async () => {
    const nc = new NetConnection();
    await assert.rejects(nc.connect(ts.url('nosuchapp/x')), (e: ConnectError) => {
      assert.equal(e.info.code, 'NetConnection.Connect.InvalidApp');
      assert.equal(e.info.level, 'error');
      return true;
    });
  });

  it('a client that never reads costs bounded memory and the others keep flowing', async () => {
    // Raw socket: handshake + connect + play, then never read again.
    const nc = new NetConnection();
    await nc.connect(ts.url('live/slow'));
    const stalled = await nc.createStream();
    stalled.play('big');
    nc.connection!.socket.pause(); // stop reading: the kernel buffers fill, then the server's
    const good = new NetConnection();
    await good.connect(ts.url('live/slow'));
    const goodPlay = await good.createStream();
    let goodFrames = 0;
    goodPlay.on('media', () => goodFrames++);
    goodPlay.play('big');
    const pubNc = new NetConnection();
    await pubNc.connect(ts.url('live/slow'));
    const pub = await pubNc.createStream();
    await pub.publish('big');
    await publishTags(pub, testFlv(20, 4000), { realtime: false, repeat: 3 });
    await new Promise((r) => setTimeout(r, 500));
    const instance = ts.server.instances.instances.find((i) => i.name === 'live/slow')!;
    const stalledId = instance.sessions.find((s) => s.connection.socket.remotePort === nc.connection!.socket.localPort)?.id;
    const stalledSession = instance.sessions.find((s) => s.id === stalledId);
    assert.ok(goodFrames > 2000, `healthy player got ${goodFrames}`);
    assert.ok(stalledSession, 'the stalled session is still open (dropping, not closed)');
    assert.ok(stalledSession.connection.bufferedBytes < 4 * 1024 * 1024, `stalled backlog ${stalledSession.connection.bufferedBytes} bytes`);
    const queue = stalledSession.streams.find((s) => s.playing)!.playing!.queue;
    assert.ok(queue.packetsDropped > 0, 'packets were dropped for the stalled player');
    for (const c of [nc, good, pubNc]) c.close();
  });
});

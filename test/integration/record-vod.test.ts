import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import { playWithFfprobe, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

describe('recording and VOD playback', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let apps: string;

  before(async () => {
    apps = tempDir('apps');
    mkdirSync(path.join(apps, 'vod'));
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  it('publish "record" writes <app>/streams/<instance>/<name>.flv, which plays back as VOD with every frame', async () => {
    const source = readFlvTags(readFileSync(testFlv(20)));
    const nc = new NetConnection();
    await nc.connect(ts.url('vod/room1'));
    const ns = await nc.createStream();
    const codes: string[] = [];
    ns.on('status', (i) => codes.push(i.code));
    await ns.publish('clip', 'record');
    const sent = source.filter((t) => t.type !== 18 && t.timestamp <= 3000);
    for (const tag of sent) ns.sendMedia(tag.type as 8 | 9, tag.timestamp, tag.payload);
    const stopped = ns.waitStatus('NetStream.Unpublish.Success');
    ns.command('closeStream');
    await stopped;
    assert.deepEqual(codes.slice(0, 2), ['NetStream.Publish.Start', 'NetStream.Record.Start']);
    assert.ok(codes.includes('NetStream.Record.Stop'));
    const file = path.join(apps, 'vod', 'streams', 'room1', 'clip.flv');
    assert.ok(existsSync(file), 'recorded file exists');
    const recorded = readFlvTags(readFileSync(file));
    assert.equal(recorded.filter((t) => t.type === 9).length, sent.filter((t) => t.type === 9).length);
    nc.close();

    const play = await playWithFfprobe(ts.url('vod/room1/clip'), 10);
    const expectedVideo = sent.filter((t) => t.type === 9).length - 1; // minus the AVC sequence header
    assert.equal(play.videoFrames, expectedVideo, play.stderr);

    // append continues the same file after its last timestamp
    const nc2 = new NetConnection();
    await nc2.connect(ts.url('vod/room1'));
    const ns2 = await nc2.createStream();
    await ns2.publish('clip', 'append');
    for (const tag of sent) ns2.sendMedia(tag.type as 8 | 9, tag.timestamp, tag.payload);
    const stopped2 = ns2.waitStatus('NetStream.Unpublish.Success');
    ns2.command('closeStream');
    await stopped2;
    const appended = readFlvTags(readFileSync(file)).filter((t) => t.type === 9);
    assert.equal(appended.length, 2 * sent.filter((t) => t.type === 9).length);
    for (let i = 1; i < appended.length; i++) assert.ok(appended[i]!.timestamp >= appended[i - 1]!.timestamp, 'timestamps stay monotonic');
    nc2.close();
  });

  it('playing a missing recorded stream with start >= 0 gets NetStream.Play.StreamNotFound', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('vod/room1'));
    const ns = await nc.createStream();
    const notFound = ns.waitStatus('NetStream.Play.StreamNotFound', 'NetStream.Play.Start');
    ns.play('nothing-here', 0);
    assert.equal((await notFound).code, 'NetStream.Play.StreamNotFound');
    nc.close();
  });

  it('stream names cannot escape the streams folder', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('vod/room1'));
    for (const bad of ['../../../escape', '/etc/passwd', 'a/../../b', 'x\\..\\y']) {
      const ns = await nc.createStream();
      const result = ns.waitStatus('NetStream.Record.NoAccess', 'NetStream.Publish.Start');
      void ns.publish(bad, 'record').catch(() => {});
      assert.equal((await result).code, 'NetStream.Record.NoAccess', bad);
    }
    assert.equal(existsSync(path.join(apps, 'escape.flv')), false);
    assert.equal(existsSync(path.join(apps, 'vod', 'escape.flv')), false);
    nc.close();
  });

});

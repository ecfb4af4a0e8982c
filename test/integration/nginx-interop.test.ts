import { strict as assert } from 'node:assert';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { playWithFfprobe, publishWithFfmpeg, testFlv } from '../helpers/media-tools.ts';
import { nginxRtmpAvailable, startNginxRtmp, type NginxRtmp } from '../helpers/nginx-rtmp.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/apps');

describe('interop with a plain nginx-rtmp server (Debian libnginx-mod-rtmp)', function () {
  this.timeout(60_000);
  let nginx: NginxRtmp;
  let ts: TestServer;

  before(async function () {
    if (!nginxRtmpAvailable()) {
      // .ci/run installs nginx + libnginx-mod-rtmp; a developer machine may not have them.
      this.skip();
    }
    nginx = await startNginxRtmp();
    const apps = tempDir('apps');
    cpSync(path.join(FIXTURES, 'relayer'), path.join(apps, 'relayer'), { recursive: true });
    ts = await startTestServer(apps);
  });
  after(async () => {
    await ts?.close();
    await nginx?.stop();
  });

  it('a script relays into nginx-rtmp (NetStream.publish) and pulls back from it (Stream.play over a NetConnection)', async () => {
    const nginxLive = `rtmp://127.0.0.1:${nginx.port}/live`;
    const pub = publishWithFfmpeg(testFlv(20), ts.url(`relayer/show?to=${encodeURIComponent(nginxLive)}`), [], ['-stream_loop', '-1']);
    try {
      await ts.logs.waitFor((r) => r.msg === `ns ${nginxLive} NetStream.Publish.Start`, 15_000);
      const atNginx = await playWithFfprobe(`${nginxLive}/show`, 3);
      assert.ok(atNginx.videoFrames >= 50, `nginx-rtmp viewer got ${atNginx.videoFrames}: ${atNginx.stderr}`);

      const nc = new NetConnection();
      await nc.connect(ts.url('relayer/pull'));
      assert.equal(await nc.call('pull', nginxLive, 'show', 'pulled'), true);
      await ts.logs.waitFor((r) => r.msg === 'pull stream NetStream.Play.Start', 15_000);
      const pulled = await playWithFfprobe(ts.url('relayer/pull/pulled'), 3);
      assert.ok(pulled.videoFrames >= 50, `viewer of the pulled stream got ${pulled.videoFrames}: ${pulled.stderr}`);
      nc.close();
    } finally {
      await pub.stop();
    }
  });
});

import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { fetchText, parseMediaPlaylist, waitForPlaylist } from '../helpers/hls.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/** The HLS budgets other than those hls.test.ts covers, each hit while a healthy reader goes on. */
describe('HLS budgets: packaged streams, blocked requests in all, block time, VOD indexing', function () {
  this.timeout(90_000);
  let ts: TestServer;
  let base: string;
  const publishers: Publisher[] = [];

  before(async () => {
    const apps = tempDir('hls-budget-apps');
    mkdirSync(path.join(apps, 'live', 'streams', '_definst_'), { recursive: true });
    for (const name of ['a', 'b']) cpSync(testFlv(20), path.join(apps, 'live', 'streams', '_definst_', `${name}.flv`));
    ts = await startTestServer(apps, { reload: { watch: false }, hls: { maxPackagedStreams: 1, maxBlockedTotal: 3, blockTimeoutMs: 800, vodMaxIndexing: 1, vodMaxIndexedFiles: 1 } });
    base = `http://127.0.0.1:${ts.server.httpPort}`;
    for (const name of ['one', 'two']) {
      publishers.push(publishWithFfmpeg(testFlv(20), ts.url(`live/${name}`), [], ['-stream_loop', '-1']));
      await ts.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === name);
    }
  });

  after(async () => {
    for (const pub of publishers) await pub.stop();
    await ts?.close();
  });

  it('hls.maxPackagedStreams: one more stream gets 503 with Retry-After; the packaged one keeps playing', async () => {
    await waitForPlaylist(`${base}/live/one/index.m3u8`, (p) => p.segments.length >= 1);
    const refused = await fetchText(`${base}/live/two/index.m3u8`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    await ts.logs.waitFor((r) => r['budget'] === 'hls.maxPackagedStreams' && r['code'] === 'HLS_BUDGET');
    assert.equal((await fetchText(`${base}/live/one/index.m3u8`)).status, 200);
  });

  it('hls.blockTimeoutMs: a request held longer gets 503; hls.maxBlockedTotal: one more than 3 held gets 503 at once', async () => {
    const p = parseMediaPlaylist((await fetchText(`${base}/live/one/index.m3u8`)).text);
    const open = p.mediaSequence + p.segments.length;
    // Two segments ahead: not there within 800 ms.
    const far = `${base}/live/one/index.m3u8?_HLS_msn=${open + 1}&_HLS_part=8`;
    const held = [fetchText(far), fetchText(far), fetchText(far)];
    await new Promise((r) => setTimeout(r, 100));
    const extra = await fetchText(far);
    assert.equal(extra.status, 503, extra.text);
    assert.match(extra.text, /hls\.maxBlockedTotal/);
    assert.ok(extra.ms < 300, 'refused at once');
    const answers = await Promise.all(held);
    for (const a of answers) {
      assert.equal(a.status, 503, a.text);
      assert.ok(a.ms >= 700 && a.ms < 3000, `held ${a.ms.toFixed(0)} ms`);
    }
    // The healthy reader was never refused.
    assert.equal((await fetchText(`${base}/live/one/index.m3u8`)).status, 200);
  });

  it('hls.vodMaxIndexing: a second recording indexed at the same time gets 503; both play once indexed', async () => {
    const [a, b] = await Promise.all([fetchText(`${base}/live/a/vod.m3u8`), fetchText(`${base}/live/b/vod.m3u8`)]);
    assert.deepEqual([a.status, b.status].sort(), [200, 503]);
    const second = a.status === 503 ? 'a' : 'b';
    assert.equal((await fetchText(`${base}/live/${second}/vod.m3u8`)).status, 200);
    // hls.vodMaxIndexedFiles = 1: the first index was dropped, and is rebuilt on demand.
    const first = second === 'a' ? 'b' : 'a';
    assert.equal((await fetchText(`${base}/live/${first}/vod.m3u8`)).status, 200);
  });
});

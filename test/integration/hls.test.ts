import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { publishTags, publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { assertLivePlaylist, fetchText, parseMediaPlaylist, waitForPlaylist, type MediaPlaylist } from '../helpers/hls.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { waitUntil } from '../helpers/poll.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** ffprobe over HTTP: one line per decoded frame (or per packet) of the first `seconds` of media. */
function probe(url: string, args: string[], timeoutMs = 30_000): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn('ffprobe', ['-hide_banner', '-v', 'error', '-rw_timeout', '8000000', ...args, '-of', 'csv=p=0', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', () => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(out.split('\n').filter(Boolean));
    });
  });
}

/** GET with a socket bound to another loopback address (a second client, as the server sees it). */
function getFrom(localAddress: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

function appsDir(): string {
  const dir = tempDir('hls-apps');
  mkdirSync(path.join(dir, 'live'));
  // Stream.play relays a published stream into a server-side one: it gets HLS like any other.
  mkdirSync(path.join(dir, 'mirror'));
  writeFileSync(path.join(dir, 'mirror', 'main.asc'), 'application.onPublish = function (c, s) { Stream.get("copy-" + s.name).play(s.name, -1); };\n');
  cpSync(path.join(ROOT, 'test/fixtures/apps/livepkgr'), path.join(dir, 'livepkgr'), { recursive: true });
  mkdirSync(path.join(dir, 'off'));
  writeFileSync(path.join(dir, 'off', 'Application.xml'), '<Application><HLS><Enabled>false</Enabled></HLS></Application>');
  // A recording, where FMS keeps them.
  mkdirSync(path.join(dir, 'live', 'streams', '_definst_'), { recursive: true });
  cpSync(testFlv(20), path.join(dir, 'live', 'streams', '_definst_', 'rec.flv'));
  return dir;
}

describe('HLS and LL-HLS of live streams and recordings', function () {
  this.timeout(120_000);
  let ts: TestServer;
  let base: string;
  const publishers: Publisher[] = [];
  const publish = (pathPart: string, extra: string[] = []) => {
    const pub = publishWithFfmpeg(testFlv(20), ts.url(pathPart), extra, ['-stream_loop', '-1']);
    publishers.push(pub);
    return pub;
  };

  before(async () => {
    ts = await startTestServer(appsDir(), { reload: { watch: false }, hls: { republishGraceMs: 1500 } });
    base = `http://127.0.0.1:${ts.server.httpPort}`;
    publish('live/cam');
    await ts.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'cam');
  });

  after(async () => {
    for (const pub of publishers) await pub.stop();
    await ts?.close();
  });

  it('ffprobe reads the live index.m3u8 and decodes at least 90 % of the frames of 5 s', async () => {
    const frames = await probe(`${base}/live/_definst_/cam/index.m3u8`, ['-read_intervals', '%+5', '-show_entries', 'frame=media_type']);
    const video = frames.filter((l) => l.startsWith('video')).length;
    assert.ok(video >= 0.9 * 5 * 25, `decoded ${video} video frames of 125`);
    assert.ok(frames.some((l) => l.startsWith('audio')), 'audio decoded too');
  });

  it('a late joiner starts on a keyframe, at the live edge', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const packets = await probe(`${base}/live/cam/index.m3u8`, ['-select_streams', 'v', '-read_intervals', '%+#3', '-show_entries', 'packet=flags']);
    assert.ok(packets.length > 0, 'packets read');
    assert.match(packets[0]!, /^K/, `first video packet flags: ${packets[0]}`);
  });

  it('the live playlist is structurally valid LL-HLS, and stays so as it slides', async () => {
    const url = `${base}/live/cam/index.m3u8`;
    const first = await waitForPlaylist(url, (p) => p.segments.length >= 2);
    assertLivePlaylist(first, { lowLatency: true });
    assert.equal(first.partTarget, 0.334);
    assert.equal(first.targetDuration, 3);
    assert.ok(first.segments.every((s) => s.uri.endsWith('.m4s')) && first.segments[0]!.map!.endsWith('.mp4'), 'CMAF segments and init');
    const later = await waitForPlaylist(url, (p) => p.segments.at(-1)!.uri !== first.segments.at(-1)!.uri);
    assertLivePlaylist(later, { lowLatency: true });
    assert.ok(later.mediaSequence >= first.mediaSequence, 'media sequence never decreases');
    const lastPdt = (p: MediaPlaylist) => p.segments.at(-1)!.pdt!;
    assert.ok(lastPdt(later) > lastPdt(first), 'PDT moves on');
    assert.ok(Math.abs(lastPdt(later) - Date.now()) < 10_000, 'PDT is wall-clock time');
    // Segments and parts are served with the bytes the playlist promises.
    const seg = await fetch(`${base}/live/cam/${later.segments.at(-1)!.uri}`);
    assert.equal(seg.status, 200);
    assert.equal(seg.headers.get('content-type'), 'video/mp4');
    const bytes = Buffer.from(await seg.arrayBuffer());
    assert.equal(bytes.toString('latin1', 4, 8), 'moof');
  });

  it('a blocking reload for a part two ahead is held, then answered when that part exists', async () => {
    const url = `${base}/live/cam/index.m3u8`;
    const now = await waitForPlaylist(url, (p) => p.openParts.length > 0 && p.openParts.length < 4);
    const msn = now.mediaSequence + now.segments.length;
    const wanted = now.openParts.length + 1; // one part is in the making; this is the one after it
    const blocked = await fetchText(`${url}?_HLS_msn=${msn}&_HLS_part=${wanted}`);
    assert.equal(blocked.status, 200);
    const p = parseMediaPlaylist(blocked.text);
    const open = p.mediaSequence + p.segments.length;
    const has = open > msn ? p.segments.find((s) => s.uri.endsWith(`-${msn}.m4s`))!.parts.length > wanted || open > msn + 1 || p.openParts.length > 0 : p.openParts.length > wanted;
    assert.ok(has, `the answer contains part ${msn}.${wanted}:\n${blocked.text}`);
    // Held at least about one part (0.32 s) and answered within the time two parts and a margin take.
    assert.ok(blocked.ms >= 200, `answered after ${blocked.ms.toFixed(0)} ms: it was not held`);
    assert.ok(blocked.ms <= 2000, `answered after ${blocked.ms.toFixed(0)} ms`);
  });

  it('the preload-hinted part is held until complete, then sent whole', async () => {
    const p = parseMediaPlaylist((await fetchText(`${base}/live/cam/index.m3u8`)).text);
    const hint = p.preloadHints[0]!;
    const started = performance.now();
    const res = await fetch(`${base}/live/cam/${hint}`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200);
    assert.equal(body.toString('latin1', 4, 8), 'moof');
    assert.ok(performance.now() - started < 2000);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  });

  it('bad delivery directives get 400 at once; too far ahead too', async () => {
    const url = `${base}/live/cam/index.m3u8`;
    for (const query of ['_HLS_msn=abc', '_HLS_msn=-1', '_HLS_msn=1e3', '_HLS_part=2', '_HLS_msn=1&_HLS_msn=2', `_HLS_msn=${'9'.repeat(30)}`, '_HLS_msn=999999']) {
      const res = await fetchText(`${url}?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.status} ${res.text}`);
      assert.ok(res.ms < 500, `${query} answered at once`);
    }
    const p = parseMediaPlaylist((await fetchText(url)).text);
    const open = p.mediaSequence + p.segments.length;
    assert.equal((await fetchText(`${url}?_HLS_msn=${open}&_HLS_part=${p.openParts.length + 40}`)).status, 400, 'beyond the Advance Part Limit');
  });

  it('unknown streams, instances and apps, other packagings and path tricks get 404', async () => {
    for (const p of [
      '/live/nothing/index.m3u8', '/live/other/cam/index.m3u8', '/nolive/cam/index.m3u8', '/off/cam/index.m3u8',
      '/live/cam/zzzz-0.m4s', '/live/cam/zzzz-init-0.mp4', '/live/cam/..%2F..%2Fetc-0.m4s', '/live/%2e%2e/cam/index.m3u8',
      '/live/cam/..%2Findex.m3u8', '/live/cam/vod-zz-0.m4s',
    ]) {
      const res = await fetchText(`${base}${p}`);
      assert.equal(res.status, 404, `${p}: ${res.status} ${res.text}`);
    }
    const res = await fetchText(`${base}/live/cam/index.m3u8`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal((await fetchText(`${base}/live/cam/index.m3u8?${'x'.repeat(2000)}`)).status, 414);
  });

  it('CDN headers: CORS, immutable objects with ETag (304), byte ranges, a short-lived playlist', async () => {
    const playlist = await fetchText(`${base}/live/cam/index.m3u8`);
    assert.equal(playlist.headers.get('access-control-allow-origin'), '*');
    assert.equal(playlist.headers.get('cache-control'), 'public, max-age=1');
    assert.equal(playlist.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    const uri = parseMediaPlaylist(playlist.text).segments.at(-1)!.uri;
    const full = await fetch(`${base}/live/cam/${uri}`);
    const etag = full.headers.get('etag')!;
    const size = Number(full.headers.get('content-length'));
    assert.ok(etag && size > 1000);
    assert.equal((await fetch(`${base}/live/cam/${uri}`, { headers: { 'if-none-match': etag } })).status, 304);
    const range = await fetch(`${base}/live/cam/${uri}`, { headers: { range: 'bytes=4-7' } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get('content-range'), `bytes 4-7/${size}`);
    assert.equal(Buffer.from(await range.arrayBuffer()).toString('latin1'), 'moof');
    assert.equal((await fetch(`${base}/live/cam/${uri}`, { headers: { range: `bytes=${size}-` } })).status, 416);
    const preflight = await fetch(`${base}/live/cam/${uri}`, { method: 'OPTIONS', headers: { origin: 'https://player.example', 'access-control-request-headers': 'range' } });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Range/);
  });

  it('thousands of blocked requests from one client: the budget answers the excess at once, another client is served', async () => {
    // A publisher that sent 3 s and then went quiet without unpublishing: its next part never comes.
    const nc = new NetConnection();
    await nc.connect(ts.url('live'));
    const ns = await nc.createStream();
    await ns.publish('quiet');
    const playlist = waitForPlaylist(`${base}/live/quiet/index.m3u8`, (x) => x.segments.length >= 1); // packaging starts here
    await publishTags(ns, testFlv(20), { realtime: true, speed: 4, limitMs: 3000 });
    await playlist;
    await new Promise((r) => setTimeout(r, 100));
    const p = parseMediaPlaylist((await fetchText(`${base}/live/quiet/index.m3u8`)).text);
    const target = `/live/quiet/${p.preloadHints[0]}`;
    const count = 2000;
    const statuses: number[] = [];
    const sockets: net.Socket[] = [];
    for (let i = 0; i < count; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: ts.server.httpPort }, () => socket.write(`GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`));
      sockets.push(socket);
      let head = '';
      socket.on('data', (d: Buffer) => {
        head += d.toString('latin1');
        const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
        if (m && head.includes('\r\n\r\n')) {
          statuses.push(Number(m[1]));
          socket.destroy();
        }
      });
      socket.on('error', () => undefined);
    }
    await waitUntil(() => statuses.length >= count - 64, 'answers to all but the 64 held requests', { timeoutMs: 8000, intervalMs: 50 });
    await new Promise((r) => setTimeout(r, 200)); // anything else that would come, comes now
    const refused = statuses.filter((s) => s === 429).length;
    assert.equal(JSON.parse((await fetchText(`${base}/api/server`)).text).hls.blockedRequests, 64, `the held ones are held (${statuses.length} answered: ${[...new Set(statuses)].join(", ")})`);
    assert.equal(refused, count - 64, `429 for all but hls.maxBlockedPerClient (64): got ${refused}; statuses ${[...new Set(statuses)]}`);
    // The healthy client (another address) still gets its playlist and a segment.
    const other = await getFrom('127.0.0.2', `${base}/live/cam/index.m3u8`);
    assert.equal(other.status, 200);
    for (const socket of sockets) socket.destroy();
    nc.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(JSON.parse((await fetchText(`${base}/api/server`)).text).hls.blockedRequests, 0, 'closed sockets give their budget back');
  });

  it('a stream relayed by a script (Stream.play) gets HLS like any other', async () => {
    publish('mirror/src');
    const p = await waitForPlaylist(`${base}/mirror/copy-src/index.m3u8`, (x) => x.segments.length >= 1);
    assertLivePlaylist(p, { lowLatency: true });
  });

  it('a republish within the grace time continues with a discontinuity; a stop ends the playlist', async () => {
    const pub = publish('live/restart');
    const url = `${base}/live/restart/index.m3u8`;
    await waitForPlaylist(url, (p) => p.segments.length >= 1);
    await pub.stop();
    publish('live/restart');
    const after = await waitForPlaylist(url, (p) => p.segments.some((s) => s.discontinuity) && p.segments.at(-1)!.discontinuity === false);
    assertLivePlaylist(after, { lowLatency: true });
    const cut = after.segments.findIndex((s) => s.discontinuity);
    assert.ok(after.segments[cut]!.pdt! >= after.segments[cut - 1]!.pdt! + after.segments[cut - 1]!.duration * 1000 - 1, 'PDT stays monotonic across the restart');
    await publishers.at(-1)!.stop();
    const ended = await waitForPlaylist(url, (p) => p.ended, 10_000);
    assert.equal(ended.preloadHints.length, 0);
    // Delivery directives are ignored once the playlist has ended: answered at once.
    const late = await fetchText(`${url}?_HLS_msn=${ended.mediaSequence + ended.segments.length + 1}&_HLS_part=0`);
    assert.equal(late.status, 200);
    assert.ok(late.ms < 500);
    // Published again after the end: an ended playlist takes no new segments, so a new packaging starts.
    publish('live/restart');
    const again = await waitForPlaylist(url, (p) => !p.ended && p.segments.length >= 1);
    assert.notEqual(again.segments[0]!.map, ended.segments[0]!.map, 'new object names (a new packaging)');
    assertLivePlaylist(again, { lowLatency: true });
  });

  it('other codecs: H.263 with AAC is packaged audio-only (logged); H.263 alone is refused with 501', async () => {
    publish('live/h263aac', ['-c:v', 'flv1', '-c:a', 'copy']);
    const p = await waitForPlaylist(`${base}/live/h263aac/index.m3u8`, (x) => x.segments.length >= 1);
    assertLivePlaylist(p, { lowLatency: true });
    await ts.logs.waitFor((r) => r['stream'] === 'h263aac' && String(r.msg).startsWith('HLS leaves this video track out'));
    const init = Buffer.from(await (await fetch(`${base}/live/h263aac/${p.segments[0]!.map}`)).arrayBuffer());
    assert.equal(init.includes('mp4a'), true);
    assert.equal(init.includes('avc1'), false);
    publish('live/h263', ['-c:v', 'flv1', '-an']);
    await ts.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'h263');
    await new Promise((r) => setTimeout(r, 500));
    const res = await fetchText(`${base}/live/h263/index.m3u8`);
    assert.equal(res.status, 501, res.text);
  });

  it('a recording plays as VOD HLS, and seeking lands on a keyframe at the asked time', async () => {
    const res = await fetchText(`${base}/live/rec/vod.m3u8`);
    assert.equal(res.status, 200, res.text);
    const p = parseMediaPlaylist(res.text);
    assert.equal(p.playlistType, 'VOD');
    assert.equal(p.ended, true);
    const total = p.segments.reduce((n, s) => n + s.duration, 0);
    assert.ok(Math.abs(total - 20) < 0.5, `duration ${total}`);
    for (const s of p.segments) assert.ok(Math.round(s.duration) <= p.targetDuration);
    const frames = await probe(`${base}/live/rec/vod.m3u8`, ['-select_streams', 'v', '-show_entries', 'packet=pts_time']);
    assert.ok(frames.length >= 0.95 * 500, `read ${frames.length} video packets of 500`);
    // Seeking, as a player does it: the segment that covers 12 s starts with a keyframe at the time the playlist says.
    let startSec = 0;
    const index = p.segments.findIndex((seg) => (startSec += seg.duration) > 12);
    const segStart = p.segments.slice(0, index).reduce((n, seg) => n + seg.duration, 0);
    const dir = tempDir('vod-seek');
    const file = path.join(dir, 'seek.mp4');
    const get = async (uri: string) => Buffer.from(await (await fetch(`${base}/live/rec/${uri}`)).arrayBuffer());
    writeFileSync(file, Buffer.concat([await get(p.segments[index]!.map!), await get(p.segments[index]!.uri)]));
    const [first] = await probe(file, ['-select_streams', 'v', '-read_intervals', '%+#1', '-show_entries', 'packet=pts_time,flags']);
    const [pts, flags] = first!.split(',');
    assert.ok(Math.abs(Number(pts) - segStart) < 0.05, `segment ${index} starts at ${pts}, the playlist says ${segStart}`);
    assert.match(flags!, /^K/);
    assert.equal((await fetchText(`${base}/live/nothing/vod.m3u8`)).status, 404);
  });

  it("Adobe's livepkgr pattern: Stream.get('f4f:'+name).record() packages that stream as HLS, no 'record failed'", async () => {
    publish('livepkgr/livestream?adbe-live-event=liveevent');
    await ts.logs.waitFor((r) => r.app === 'livepkgr/_definst_' && r.msg === 'f4f:livestream - NetStream.Record.Start');
    const p = await waitForPlaylist(`${base}/livepkgr/_definst_/f4f:livestream/index.m3u8`, (x) => x.segments.length >= 1);
    assertLivePlaylist(p, { lowLatency: true });
    assert.deepEqual(ts.logs.traces('livepkgr/_definst_').filter((t) => t.includes('record failed')), []);
    assert.ok(ts.logs.traces('livepkgr/_definst_').includes('event liveevent stream livestream'));
  });
});

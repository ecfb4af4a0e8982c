import { strict as assert } from 'node:assert';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { parseMediaPlaylist } from '../helpers/hls.ts';
import { nginxAvailable, startNginxCache, type NginxCache } from '../helpers/nginx-cache.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/** Counts what reaches the origin: a pass-through proxy between nginx and the server. */
function countingProxy(originPort: number): Promise<{ port: number; counts: Map<string, number>; close(): void }> {
  const counts = new Map<string, number>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const server = http.createServer((req, res) => {
    const key = (req.url ?? '').split('?')[0]!.split('/').pop()!;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const upstream = http.request({ host: '127.0.0.1', port: originPort, path: req.url, method: req.method, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as { port: number }).port,
    counts,
    close: () => (server.closeAllConnections(), server.close(), agent.destroy()),
  })));
}

/** An LL-HLS reader like hls.js: blocking reloads for the next part, every new part fetched once. */
async function llReader(base: string, untilMs: number, fetched: Map<string, number>): Promise<number> {
  let requests = 0;
  const seen = new Set<string>();
  let query = '';
  while (Date.now() < untilMs) {
    const res = await fetch(`${base}/index.m3u8${query}`);
    requests++;
    if (res.status !== 200) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const p = parseMediaPlaylist(await res.text());
    const parts = [...p.segments.flatMap((s) => s.parts), ...p.openParts];
    for (const part of parts.slice(-4)) {
      if (seen.has(part.uri)) continue;
      seen.add(part.uri);
      const body = await fetch(`${base}/${part.uri}`);
      requests++;
      assert.equal(body.status, 200);
      await body.arrayBuffer();
      fetched.set(part.uri, (fetched.get(part.uri) ?? 0) + 1);
    }
    const open = p.mediaSequence + p.segments.length;
    query = `?_HLS_msn=${open}&_HLS_part=${p.openParts.length}`;
  }
  return requests;
}

/** A regular HLS reader: polls the playlist, fetches each new segment. */
async function segmentReader(base: string, untilMs: number, fetched: Map<string, number>): Promise<number> {
  let requests = 0;
  const seen = new Set<string>();
  while (Date.now() < untilMs) {
    const res = await fetch(`${base}/index.m3u8`);
    requests++;
    const p = parseMediaPlaylist(await res.text());
    for (const segment of p.segments.slice(-2)) {
      if (seen.has(segment.uri)) continue;
      seen.add(segment.uri);
      const body = await fetch(`${base}/${segment.uri}`);
      requests++;
      assert.equal(body.status, 200);
      await body.arrayBuffer();
      fetched.set(segment.uri, (fetched.get(segment.uri) ?? 0) + 1);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return requests;
}

const title = nginxAvailable() ? 'HLS behind an nginx proxy_cache tier' : 'HLS behind an nginx proxy_cache tier — SKIPPED: /usr/sbin/nginx is not installed (apt-get install nginx)';

describe(title, function () {
  this.timeout(90_000);
  let ts: TestServer;
  let nginx: NginxCache | null = null;
  let proxy: Awaited<ReturnType<typeof countingProxy>> | null = null;
  let pub: Publisher | null = null;

  before(async function () {
    if (!nginxAvailable()) this.skip();
    const apps = tempDir('hls-cache-apps');
    mkdirSync(path.join(apps, 'live'));
    ts = await startTestServer(apps, { reload: { watch: false } });
    proxy = await countingProxy(ts.server.httpPort);
    nginx = await startNginxCache(proxy.port);
    pub = publishWithFfmpeg(testFlv(20), ts.url('live/cam'), [], ['-stream_loop', '-1']);
    await ts.logs.waitFor((r) => r.msg === 'publish started');
  });

  after(async () => {
    await nginx?.stop();
    proxy?.close();
    await pub?.stop();
    await ts?.close();
  });

  it('50 players read through the cache: the origin answers each part and segment about once', async () => {
    const base = `http://127.0.0.1:${nginx!.port}/live/cam`;
    // The first request starts the packaging; players join once the first segment exists.
    assert.equal((await fetch(`${base}/index.m3u8`)).status, 200);
    const until = Date.now() + 8000;
    const fetchedParts = new Map<string, number>();
    const fetchedSegments = new Map<string, number>();
    const counts = await Promise.all([
      ...Array.from({ length: 25 }, () => llReader(base, until, fetchedParts)),
      ...Array.from({ length: 25 }, () => segmentReader(base, until, fetchedSegments)),
    ]);
    const readerRequests = counts.reduce((a, b) => a + b, 0);
    const origin = proxy!.counts;
    const objects = [...fetchedParts.keys(), ...fetchedSegments.keys()];
    assert.ok(fetchedParts.size >= 15 && fetchedSegments.size >= 3, `parts ${fetchedParts.size}, segments ${fetchedSegments.size}`);
    const readsPerObject = [...fetchedParts.values(), ...fetchedSegments.values()];
    assert.ok(readsPerObject.reduce((a, b) => a + b, 0) / objects.length > 10, 'many players read each object');
    const originPerObject = objects.map((o) => origin.get(o) ?? 0);
    assert.ok(originPerObject.every((n) => n >= 1 && n <= 2), `origin requests per object: ${JSON.stringify(Object.fromEntries(objects.map((o) => [o, origin.get(o) ?? 0])))}`);
    const duplicates = originPerObject.filter((n) => n > 1).length;
    assert.ok(duplicates <= objects.length * 0.1, `${duplicates} of ${objects.length} objects reached the origin twice`);
    const playlistsAtOrigin = origin.get('index.m3u8') ?? 0;
    if (process.env['HLS_TEST_VERBOSE']) console.log({ readerRequests, objects: objects.length, originObjectRequests: originPerObject.reduce((a, b) => a + b, 0), playlistsAtOrigin, duplicates });
    assert.ok(playlistsAtOrigin * 5 < readerRequests, `the origin answered ${playlistsAtOrigin} playlist requests for ${readerRequests} reader requests`);
  });
});

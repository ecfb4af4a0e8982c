import { strict as assert } from 'node:assert';
import http from 'node:http';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/apps');

/** A raw GET, so tests can send a Host header fetch() would not let them set. */
function rawGet(port: number, pathPart: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: pathPart, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

async function metricValue(port: number, line: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(line.exec(text)?.[1] ?? 0);
}

describe('admin console: page, instance reload, stream and client details, dispatch latency', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let port: number;
  let pub: Publisher | null = null;
  const nc = new NetConnection({ flashVer: 'console-admin-test/1.0' });

  before(async () => {
    ts = await startTestServer(FIXTURES, { reload: { watch: false } });
    port = ts.server.httpPort;
  });

  after(async () => {
    nc.close();
    await pub?.stop();
    await ts?.close();
  });

  it('serves the console page and the local mpegts.js with a strict CSP and no framing', async () => {
    const page = await fetch(`http://127.0.0.1:${port}/console`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
    assert.match(page.headers.get('content-security-policy')!, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    const html = await page.text();
    for (const id of ['data-testid="log"', 'data-testid="instances"', 'data-testid="streams"', 'data-testid="player"', 'src="/console/mpegts.js"']) assert.ok(html.includes(id), id);
    const player = await fetch(`http://127.0.0.1:${port}/console/mpegts.js`);
    assert.equal(player.status, 200);
    assert.match(player.headers.get('content-type')!, /javascript/);
    assert.ok((await player.text()).includes('mpegts'), 'the mpegts.js bundle');
    assert.equal((await fetch(`http://127.0.0.1:${port}/console/console.js`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/console/console.css`)).status, 200);
  });

  it('serves nothing outside its fixed file table, and only GET/HEAD', async () => {
    for (const p of ['/console/%2e%2e/package.json', '/console/..%2fpackage.json', '/console/index.html/../../../package.json', '/console/node_modules/ws/package.json']) {
      const res = await rawGet(port, p);
      assert.equal(res.status, 404, p);
      assert.ok(!res.body.includes('"name"'), `${p} leaked a file`);
    }
    assert.equal((await fetch(`http://127.0.0.1:${port}/console`, { method: 'POST' })).status, 405);
  });

  it('follows the admin access rule with no token: a foreign Host (DNS rebinding) is refused', async () => {
    const res = await rawGet(port, '/console', { host: 'evil.example:80' });
    assert.equal(res.status, 403);
    await ts.logs.waitFor((r) => r.msg === 'admin request refused' && r.path === '/console');
  });

  it('GET / redirects to the console under the same rule (a foreign Host gets 403, not the redirect)', async () => {
    const res = await rawGet(port, '/', { host: `127.0.0.1:${port}` });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/console');
    const followed = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(followed.status, 200);
    assert.equal(new URL(followed.url).pathname, '/console');
    assert.ok((await followed.text()).includes('data-testid="instances"'), 'landed on the console page');
    const rebinding = await rawGet(port, '/', { host: 'evil.example:80' });
    assert.equal(rebinding.status, 403);
    assert.equal(rebinding.headers.location, undefined);
    await ts.logs.waitFor((r) => r.msg === 'admin request refused' && r.path === '/');
    assert.equal((await fetch(`http://127.0.0.1:${port}/`, { method: 'POST' })).status, 405);
    assert.equal((await rawGet(port, '/index.html')).status, 404, 'only / itself redirects');
  });

  it('fms_script_dispatch_seconds counts one more call dispatch after a client call', async () => {
    await nc.connect(ts.url('scripted'), 'accept');
    const count = /^fms_script_dispatch_seconds_count\{instance="scripted\/_definst_",event="call"\} (\d+)$/m;
    const before = await metricValue(port, count);
    assert.equal(await nc.call('add', 2, 3), 5);
    assert.equal(await metricValue(port, count), before + 1);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /^fms_script_dispatch_seconds_bucket\{le="0\.001",instance="scripted\/_definst_",event="connect"\} \d+$/m);
    assert.match(text, /^# TYPE fms_script_dispatch_seconds histogram$/m);
  });

  it('clients carry ip, agent, connected since and bytes; streams carry publisher, viewers, codecs, bitrate', async () => {
    const { clients } = (await (await fetch(`http://127.0.0.1:${port}/api/instances/scripted/_definst_/clients`)).json()) as { clients: Record<string, unknown>[] };
    const client = clients.find((c) => c['agent'] === 'console-admin-test/1.0');
    assert.ok(client, JSON.stringify(clients));
    assert.equal(client['ip'], '127.0.0.1');
    assert.ok(Date.now() - Date.parse(String(client['connectedAt'])) < 60_000);
    assert.ok(Number(client['bytesIn']) > 0 && Number(client['bytesOut']) > 0);

    pub = publishWithFfmpeg(testFlv(20), ts.url('scripted/cam'));
    await ts.logs.waitFor((r) => r.msg === 'publish started' && r.stream === 'cam', 15_000);
    await new Promise((r) => setTimeout(r, 2000)); // a bitrate over a couple of seconds
    const { streams } = (await (await fetch(`http://127.0.0.1:${port}/api/streams`)).json()) as { streams: any[] };
    const cam = streams.find((s) => s.name === 'cam');
    assert.ok(cam?.publishing, JSON.stringify(streams));
    assert.equal(cam.publisher.ip, '127.0.0.1');
    assert.match(cam.publisher.agent, /FMLE|Lavf|ffmpeg/i);
    assert.deepEqual(cam.codecs, { video: 'H.264', audio: 'AAC' });
    // testFlv: 500 kb/s video + 64 kb/s audio, published at real time.
    assert.ok(cam.bitrateKbps > 250 && cam.bitrateKbps < 1500, `bitrate ${cam.bitrateKbps} kb/s`);
    assert.equal(cam.subscribers, 0);
    assert.equal(cam.flvPath, '/scripted/_definst_/cam.flv');
  });

  it('POST /api/instances/<app>/<inst>/reload reloads that instance (GET refused, unknown instance 404)', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/instances/scripted/_definst_/reload`)).status, 405);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/instances/scripted/nope/reload`, { method: 'POST' })).status, 404);
    const generationBefore = ts.server.instances.instances.find((i) => i.name === 'scripted/_definst_')!.generation;
    const res = await fetch(`http://127.0.0.1:${port}/api/instances/scripted/_definst_/reload`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { reloaded: ['scripted/_definst_'], failed: [] });
    await ts.logs.waitFor((r) => r.msg === 'instance reloaded' && r.app === 'scripted/_definst_');
    const after = ts.server.instances.instances.find((i) => i.name === 'scripted/_definst_');
    assert.equal(after?.generation, generationBefore + 1, 'a new script generation serves (clients carried over)');
    const listed = (await fetch(`http://127.0.0.1:${port}/api/instances`).then((r) => r.json())) as { instances: { name: string; generation: number }[] };
    assert.equal(listed.instances.find((i) => i.name === 'scripted/_definst_')?.generation, generationBefore + 1);
  });

  it('FMS Admin API reloadApp: POST ?appInst=app/inst or app reloads; GET refused; unknown app 404', async () => {
    const admin = (query: string, method = 'POST') => fetch(`http://127.0.0.1:${port}/admin/reloadApp${query}`, { method });
    assert.equal((await admin('?appInst=scripted', 'GET')).status, 405, 'a state change over GET could be forged by any page');
    assert.equal((await admin('?appInst=nosuchapp')).status, 404);
    assert.equal((await admin('')).status, 400);
    const instance = () => ts.server.instances.instances.find((i) => i.name === 'scripted/_definst_')!;
    const before = instance().generation;
    const one = await admin('?appInst=scripted/_definst_');
    assert.equal(one.status, 200);
    const body = (await one.json()) as { code: string; data: { reloaded: string[] } };
    assert.equal(body.code, 'NetConnection.Call.Success');
    assert.deepEqual(body.data.reloaded, ['scripted/_definst_']);
    assert.equal(instance().generation, before + 1);
    const all = (await (await admin('?appInst=scripted')).json()) as { data: { reloaded: string[] } };
    assert.ok(all.data.reloaded.includes('scripted/_definst_'));
    assert.equal(instance().generation, before + 2);
  });
});

describe('admin console with a token configured', function () {
  this.timeout(20_000);
  let ts: TestServer;
  const token = 'console-t0ken';

  before(async () => {
    ts = await startTestServer(FIXTURES, { http: { adminToken: token } });
  });
  after(async () => ts?.close());

  it('serves the static page to anyone, but every API call the page makes needs the bearer token', async () => {
    const port = ts.server.httpPort;
    assert.equal((await fetch(`http://127.0.0.1:${port}/console`)).status, 200);
    const root = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual' });
    assert.equal(root.status, 302, 'with a token, / redirects anyone to the (static) console page');
    assert.equal(root.headers.get('location'), '/console');
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/instances`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/log/stream`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/instances`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  });
});

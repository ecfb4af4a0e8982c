import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * LoadVars and XML against a local web server started by the test: a client asks main.asc to
 * load a URL; the script reports every event it saw back through client.call("report", ...).
 */
const MAIN_ASC = `
function reporter(client, tag) {
  var events = [];
  return {
    events: events,
    done: function (extra) { extra.events = events; extra.tag = tag; client.call("report", null, extra); }
  };
}

Client.prototype.loadVars = function (url) {
  var r = reporter(this, url);
  var lv = new LoadVars();
  lv.onHTTPStatus = function (code) { r.events.push("status " + code); };
  lv.onLoad = function (ok) {
    r.events.push("load " + ok);
    r.done({ a: lv.a, b: lv.b, c: lv.c, loaded: lv.loaded, bytes: lv.getBytesLoaded() });
  };
  return lv.load(url);
};

Client.prototype.postVars = function (url) {
  var r = reporter(this, url);
  var out = new LoadVars();
  out.user = "ann & bob";
  out.n = 3;
  out.addRequestHeader("X-Token", "t0k3n");
  var reply = new LoadVars();
  reply.onLoad = function (ok) { r.done({ ok: ok, method: reply.method, body: reply.body, type: reply.type, token: reply.token }); };
  return out.sendAndLoad(url, reply, "POST");
};

Client.prototype.loadXml = function (url) {
  var r = reporter(this, url);
  var x = new XML();
  x.ignoreWhite = true;
  x.onHTTPStatus = function (code) { r.events.push("status " + code); };
  x.onLoad = function (ok) {
    r.events.push("load " + ok);
    if (!ok) return r.done({});
    var config = x.firstChild;
    var server = config.firstChild;
    r.done({
      status: x.status, root: config.nodeName, server: server.attributes.name + ":" + server.attributes.port,
      greeting: server.nextSibling.firstChild.nodeValue, count: config.childNodes.length,
      decl: x.xmlDecl, text: x.toString()
    });
  };
  return x.load(url);
};

Client.prototype.rawData = function (url) {
  var r = reporter(this, url);
  var lv = new LoadVars();
  lv.onData = function (src) { r.done({ raw: src }); };
  return lv.load(url);
};
`;

const XML_BODY = '<?xml version="1.0"?>\n<config>\n  <server name="edge" port="1935"/>\n  <greeting>Hi &amp; welcome</greeting>\n</config>\n';

describe('script LoadVars / XML: HTTP through the host with an allow-list, timeout and size limit', function () {
  this.timeout(30_000);
  let ts: TestServer;
  let nc: NetConnection;
  let web: http.Server;
  let base: string;
  const reports: Record<string, unknown>[] = [];
  let waiters: (() => void)[] = [];

  before(async () => {
    web = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://localhost').pathname;
        if (url === '/vars') res.end('a=1&b=hello+world&c=%C3%A9t%C3%A9');
        else if (url === '/config.xml') res.end(XML_BODY);
        else if (url === '/echo') {
          const body = Buffer.concat(chunks).toString();
          res.end(new URLSearchParams({ method: req.method ?? '', body, type: req.headers['content-type'] ?? '', token: String(req.headers['x-token']) }).toString());
        } else if (url === '/slow') setTimeout(() => res.end('late=1'), 5000).unref();
        else if (url === '/big') res.end('x'.repeat(5000));
        else if (url === '/redirect-out') res.writeHead(302, { location: 'http://not-allowed.example/steal' }).end();
        else if (url === '/redirect-in') res.writeHead(302, { location: '/vars' }).end();
        else res.writeHead(404).end('not here');
      });
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;

    const apps = tempDir('http-apps');
    mkdirSync(path.join(apps, 'web'));
    writeFileSync(path.join(apps, 'web', 'main.asc'), MAIN_ASC);
    ts = await startTestServer(apps, { scripts: { http: { timeoutMs: 500, maxBytes: 1000 } } });
    nc = new NetConnection();
    nc.client = {
      report: (report: unknown) => {
        reports.push(report as Record<string, unknown>);
        const ready = waiters;
        waiters = [];
        for (const wake of ready) wake();
      },
    };
    await nc.connect(ts.url('web'));
  });
  after(async () => {
    nc?.close();
    await ts?.close();
    web?.closeAllConnections();
    await new Promise((resolve) => web?.close(resolve));
  });

  /** Calls `method(url)` and waits for the script's report about that URL. */
  async function run(method: string, url: string): Promise<{ started: unknown; report: Record<string, unknown> }> {
    const started = await nc.call(method, url);
    const find = () => reports.find((r) => r['tag'] === url);
    while (!find()) await new Promise<void>((resolve) => waiters.push(resolve));
    return { started, report: find()! };
  }

  const problems = () => ts.logs.records.filter((r) => r['code'] === 'SCRIPT_HTTP_FAILED' && r.level === 40);

  it('LoadVars.load: onHTTPStatus(200), then onLoad(true) with the variables decoded', async () => {
    const { started, report } = await run('loadVars', `${base}/vars`);
    assert.equal(started, true);
    assert.deepEqual(report, { a: '1', b: 'hello world', c: 'été', loaded: true, bytes: 33, events: ['status 200', 'load true'], tag: `${base}/vars` });
  });

  it('LoadVars.sendAndLoad POSTs the url-encoded variables with the request header; the reply goes to the target', async () => {
    const { report } = await run('postVars', `${base}/echo`);
    assert.equal(report['ok'], true);
    assert.equal(report['method'], 'POST');
    assert.equal(report['body'], 'user=ann%20%26%20bob&n=3');
    assert.equal(report['type'], 'application/x-www-form-urlencoded');
    assert.equal(report['token'], 't0k3n');
  });

  it('XML.load: a navigable tree (ignoreWhite, attributes, entities, xmlDecl) and toString', async () => {
    const { report } = await run('loadXml', `${base}/config.xml`);
    assert.deepEqual(report['events'], ['status 200', 'load true']);
    assert.equal(report['status'], 0);
    assert.equal(report['root'], 'config');
    assert.equal(report['server'], 'edge:1935');
    assert.equal(report['greeting'], 'Hi & welcome');
    assert.equal(report['count'], 2);
    assert.equal(report['decl'], '<?xml version="1.0"?>');
    assert.equal(report['text'], '<?xml version="1.0"?><config><server name="edge" port="1935" /><greeting>Hi &amp; welcome</greeting></config>');
  });

  it('a custom onData receives the raw text', async () => {
    const { report } = await run('rawData', `${base}/vars?raw=1`);
    assert.equal(report['raw'], 'a=1&b=hello+world&c=%C3%A9t%C3%A9');
  });

  it('404: onHTTPStatus(404), then onLoad(false)', async () => {
    const { started, report } = await run('loadVars', `${base}/missing`);
    assert.equal(started, true);
    assert.deepEqual(report['events'], ['status 404', 'load false']);
    assert.equal(report['loaded'], false);
  });

  it('a redirect to an allowed host is followed', async () => {
    const { report } = await run('loadVars', `${base}/redirect-in?x=1`);
    assert.deepEqual(report['events'], ['status 200', 'load true']);
    assert.equal(report['a'], '1');
  });

  it('timeout: no answer within scripts.http.timeoutMs is onLoad(false) and one log line', async () => {
    const before = problems().length;
    const started = Date.now();
    const { report } = await run('loadVars', `${base}/slow`);
    assert.deepEqual(report['events'], ['load false']);
    assert.ok(Date.now() - started < 3000, 'failed at the deadline, not when the server answered');
    assert.equal(problems().length, before + 1);
    assert.match(String(problems().at(-1)!['reason']), /within 500 ms/);
  });

  it('oversize: a body past scripts.http.maxBytes is onLoad(false) and one log line', async () => {
    const before = problems().length;
    const { report } = await run('loadXml', `${base}/big`);
    assert.deepEqual(report['events'], ['status 200', 'load false']);
    assert.equal(problems().length, before + 1);
    assert.match(String(problems().at(-1)!['reason']), /maxBytes/);
  });

  it('host not allowed: load() returns false, onLoad(false) still follows, one log line, no request made', async () => {
    const before = problems().length;
    const { started, report } = await run('loadVars', 'http://not-allowed.example/vars?token=s3cret');
    assert.equal(started, false);
    assert.deepEqual(report['events'], ['load false']);
    assert.equal(problems().length, before + 1);
    const record = problems().at(-1)!;
    assert.match(String(record['reason']), /not-allowed\.example is not in scripts\.http\.allowHosts/);
    assert.equal(record['url'], 'http://not-allowed.example/vars', 'the query string (tokens) is not logged');
    assert.equal(record.app, 'web/_definst_');
  });

  it('a redirect to a host not allowed is not followed', async () => {
    const before = problems().length;
    const { report } = await run('loadVars', `${base}/redirect-out`);
    assert.deepEqual(report['events'], ['status 302', 'load false']);
    assert.equal(problems().length, before + 1);
    assert.match(String(problems().at(-1)!['reason']), /redirect refused/);
  });

  it("the server's own HTTP port (admin API trusts loopback) is refused to scripts", async () => {
    const before = problems().length;
    const { started, report } = await run('loadVars', `http://127.0.0.1:${ts.server.httpPort}/api/server`);
    assert.equal(started, false);
    assert.deepEqual(report['events'], ['load false']);
    assert.equal(problems().length, before + 1);
    assert.match(String(problems().at(-1)!['reason']), /own HTTP port/);
  });

  it('non-http schemes are refused', async () => {
    const { started, report } = await run('loadVars', 'file:///etc/passwd');
    assert.equal(started, false);
    assert.deepEqual(report['events'], ['load false']);
  });
});

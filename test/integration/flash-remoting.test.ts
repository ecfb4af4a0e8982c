import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { AmfGateway, GatewayFault } from '../helpers/amf-gateway.ts';
import { startTestServer, tempDir, type LogRecord, type TestServer } from '../helpers/test-server.ts';

/**
 * Flash Remoting from a script: a server-side NetConnection to an http:// gateway (a real AMF
 * gateway on loopback, test/helpers/amf-gateway.ts). The client asks main.asc to make calls; the
 * script reports every outcome back with client.call("report", ...).
 *
 * run(tag, url, calls, headers): one NetConnection per tag (connected on first use); each call is
 * {method, args, responder}: "full" (onResult + onStatus), "result" (onResult only) or "none".
 */
const MAIN_ASC = `
var ncs = {};
function report(client, data) { client.call("report", null, data); }

Client.prototype.run = function (tag, url, calls, headers) {
  var client = this;
  var nc = ncs[tag];
  if (!nc) {
    nc = ncs[tag] = new NetConnection();
    nc.connectReturned = nc.connect(url);
    nc.onStatus = function (info) { report(client, { tag: tag, via: "nc.onStatus", info: info }); };
  }
  if (headers) for (var i = 0; i < headers.length; i++) nc.addHeader(headers[i][0], headers[i][1], headers[i][2]);
  var sent = [];
  for (var j = 0; j < calls.length; j++) (function (k, call) {
    var responder = null;
    if (call.responder != "none") {
      responder = { onResult: function (value) { report(client, { tag: tag, index: k, via: "onResult", value: value }); } };
      if (call.responder == "full") responder.onStatus = function (info) { report(client, { tag: tag, index: k, via: "onStatus", info: info }); };
    }
    sent.push(nc.call.apply(nc, [call.method, responder].concat(call.args || [])));
  })(j, calls[j]);
  return { sent: sent, connectReturned: nc.connectReturned, isConnected: nc.isConnected, uri: nc.uri };
};
`;

type Report = Record<string, unknown> & { tag: string; via: string; index?: number };
type Call = { method: string; args?: unknown[]; responder?: 'full' | 'result' | 'none' };

describe('Flash Remoting: server-side NetConnection to an http:// AMF gateway', function () {
  this.timeout(30_000);
  let ts: TestServer;
  let nc: NetConnection;
  let gateway: AmfGateway;
  const reports: Report[] = [];
  const wake: (() => void)[] = [];
  let nextTag = 0;
  /** A loopback port nobody listens on (bound, then released). */
  let closedPort = 0;

  before(async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    gateway = await new AmfGateway().start();
    gateway
      .service('svc.echo', (args) => args)
      .service('svc.add', (args) => (args[0] as number) + (args[1] as number))
      .service('svc.whoami', (_args, request) => request.headers.find((h) => h.name === 'Credentials')?.value ?? null)
      .service('svc.fail', () => {
        throw new GatewayFault({ level: 'error', code: 'AMFPHP_RUNTIME_ERROR', description: 'Division by zero', line: 12 });
      });
    const apps = tempDir('remoting-apps');
    mkdirSync(path.join(apps, 'remote'));
    writeFileSync(path.join(apps, 'remote', 'main.asc'), MAIN_ASC);
    ts = await startTestServer(apps, {
      scripts: {
        http: { timeoutMs: 500, allowHosts: ['unresolvable.invalid'] },
        remoting: { maxCallsPerPacket: 3, maxQueuedCalls: 8, maxResponseBytes: 4096, maxRequestsInFlight: 2 },
      },
    });
    nc = new NetConnection();
    nc.client = {
      report: (report: unknown) => {
        reports.push(report as Report);
        for (const w of wake.splice(0)) w();
      },
    };
    await nc.connect(ts.url('remote'));
  });
  after(async () => {
    nc?.close();
    await ts?.close();
    await gateway?.close();
  });

  /** Runs calls on a fresh NetConnection (or `tag`'s) and waits until `expected` reports of it arrived. */
  async function run(url: string, calls: Call[], options: { tag?: string; headers?: unknown[][]; expected?: number } = {}) {
    const tag = options.tag ?? `t${nextTag++}`;
    const already = reports.filter((r) => r.tag === tag).length;
    const started = (await nc.call('run', tag, url, calls.map((c) => ({ responder: 'full', ...c })), options.headers ?? null)) as Record<string, unknown>;
    const expected = already + (options.expected ?? calls.length);
    const mine = () => reports.filter((r) => r.tag === tag);
    while (mine().length < expected) await new Promise<void>((resolve) => wake.push(resolve));
    return { tag, started, reports: mine().slice(already) };
  }

  const failures = (): LogRecord[] => ts.logs.records.filter((r) => r['code'] === 'SCRIPT_REMOTING_FAILED' && r.level === 40);

  it('connect() opens nothing and reports nothing; call() POSTs an AMF0 packet and onResult gets the answer', async () => {
    const requestsBefore = gateway.requests.length;
    const { started, reports: got } = await run(gateway.url(), [{ method: 'svc.echo', args: ['hello', 42, { nested: [true, null] }] }]);
    assert.deepEqual(started, { sent: [true], connectReturned: true, isConnected: false, uri: gateway.url() });
    assert.deepEqual(got, [{ tag: got[0]!.tag, index: 0, via: 'onResult', value: ['hello', 42, { nested: [true, null] }] }]);
    assert.equal(gateway.requests.length, requestsBefore + 1);
    const request = gateway.requests.at(-1)!;
    assert.equal(request.contentType, 'application/x-amf');
    assert.equal(request.version, 0);
    assert.deepEqual(request.messages, [{ targetUri: 'svc.echo', responseUri: '/1', value: ['hello', 42, { nested: [true, null] }] }]);
  });

  it('the calls of one handler travel in one packet with response URIs /1, /2, /3, each answer routed to its own responder', async () => {
    const before = gateway.requests.length;
    const { reports: got } = await run(gateway.url(), [
      { method: 'svc.add', args: [1, 2] },
      { method: 'svc.echo', args: ['b'] },
      { method: 'svc.add', args: [10, 20] },
    ]);
    assert.equal(gateway.requests.length, before + 1, 'one HTTP request');
    assert.deepEqual(gateway.requests.at(-1)!.messages.map((m) => m.responseUri), ['/1', '/2', '/3']);
    const byIndex = Object.fromEntries(got.map((r) => [r.index, r.value]));
    assert.deepEqual(byIndex, { 0: 3, 1: ['b'], 2: 30 });
  });

  it('a handler with more calls than scripts.remoting.maxCallsPerPacket sends several packets; numbering continues per connection', async () => {
    const before = gateway.requests.length;
    const calls = Array.from({ length: 7 }, (_, i) => ({ method: 'svc.add', args: [i, 100] }));
    const { tag, reports: got } = await run(gateway.url(), calls);
    assert.deepEqual(gateway.requests.slice(before).map((r) => r.messages.length), [3, 3, 1]);
    assert.deepEqual(got.map((r) => r.value).sort((a, b) => Number(a) - Number(b)), [100, 101, 102, 103, 104, 105, 106]);
    await run(gateway.url(), [{ method: 'svc.echo', args: [1] }], { tag });
    assert.deepEqual(gateway.requests.at(-1)!.messages.map((m) => m.responseUri), ['/8']);
  });

  it('nc.addHeader(name, mustUnderstand, value) goes with every later packet; the same name replaces, undefined removes', async () => {
    const { tag, reports: first } = await run(gateway.url(), [{ method: 'svc.whoami' }], { headers: [['Credentials', false, { userid: 'ann', password: 'pw' }], ['Trace', true, 1]] });
    assert.deepEqual(first[0]!.value, { userid: 'ann', password: 'pw' });
    assert.deepEqual(gateway.requests.at(-1)!.headers, [
      { name: 'Credentials', mustUnderstand: false, value: { userid: 'ann', password: 'pw' } },
      { name: 'Trace', mustUnderstand: true, value: 1 },
    ]);
    await run(gateway.url(), [{ method: 'svc.whoami' }], { tag });
    assert.equal(gateway.requests.at(-1)!.headers.length, 2, 'sent again with the next packet');
    const { reports: replaced } = await run(gateway.url(), [{ method: 'svc.whoami' }], { tag, headers: [['Credentials', false, { userid: 'bob' }], ['Trace', false, undefined]] });
    assert.deepEqual(replaced[0]!.value, { userid: 'bob' });
    assert.deepEqual(gateway.requests.at(-1)!.headers.map((h) => h.name), ['Credentials']);
  });

  it("the gateway's AppendToGatewayUrl, RequestPersistentHeader and ReplaceGatewayUrl apply to the following packets", async () => {
    gateway.nextAnswerHeaders = [
      { name: 'AppendToGatewayUrl', mustUnderstand: false, value: '?PHPSESSID=abc123' },
      { name: 'RequestPersistentHeader', mustUnderstand: false, value: { name: 'SessionTicket', mustUnderstand: false, data: 'ticket-1' } },
    ];
    const { tag } = await run(gateway.url(), [{ method: 'svc.echo', args: [1] }]);
    await run(gateway.url(), [{ method: 'svc.echo', args: [2] }], { tag });
    let request = gateway.requests.at(-1)!;
    assert.equal(request.query, '?PHPSESSID=abc123');
    assert.deepEqual(request.headers, [{ name: 'SessionTicket', mustUnderstand: false, value: 'ticket-1' }]);
    gateway.nextAnswerHeaders = [{ name: 'ReplaceGatewayUrl', mustUnderstand: false, value: gateway.url('/amf3') }];
    await run(gateway.url(), [{ method: 'svc.echo', args: [3] }], { tag });
    await run(gateway.url(), [{ method: 'svc.echo', args: [4] }], { tag });
    request = gateway.requests.at(-1)!;
    assert.equal(request.path, '/amf3');
    assert.equal(request.query, '');
  });

  it('an AMF3 gateway (version 3 packet, values behind 0x11) is decoded', async () => {
    const { reports: got } = await run(gateway.url('/amf3'), [{ method: 'svc.echo', args: [{ user: 'ann', when: new Date(0), ids: [1, 2, 3] }] }]);
    assert.deepEqual(got[0]!.value, [{ user: 'ann', when: new Date(0), ids: [1, 2, 3] }]);
  });

  it("a service that fails: the gateway's onStatus object reaches responder.onStatus, and one log line", async () => {
    const before = failures().length;
    const { reports: got } = await run(gateway.url(), [{ method: 'svc.fail' }, { method: 'svc.add', args: [2, 2] }]);
    const failed = got.find((r) => r.index === 0)!;
    assert.equal(failed.via, 'onStatus');
    assert.deepEqual(failed.info, { level: 'error', code: 'AMFPHP_RUNTIME_ERROR', description: 'Division by zero', line: 12 });
    assert.equal(got.find((r) => r.index === 1)!.value, 4, 'the other call of the packet still succeeds');
    assert.equal(failures().length, before + 1);
    assert.match(String(failures().at(-1)!['reason']), /gateway answered onStatus: Division by zero/);
  });

  /** Each transport failure: every call's responder.onStatus gets `code`, the log one line with `reason`. */
  const transportFailures: [string, () => string, string, string | RegExp, RegExp][] = [
    ['HTTP 500', () => gateway.url('/status500'), 'NetConnection.Call.Failed', 'HTTP: Status 500', /HTTP status 500/],
    ['a stalled gateway (scripts.http.timeoutMs)', () => gateway.url('/stall'), 'NetConnection.Call.Failed', 'HTTP: Failed', /within 500 ms/],
    ['an answer that is not AMF (a PHP warning page)', () => gateway.url('/garbage'), 'NetConnection.Call.BadVersion', 'HTTP: Bad AMF packet.', /not an AMF packet/],
    ['an answer over scripts.remoting.maxResponseBytes', () => gateway.url('/big'), 'NetConnection.Call.Failed', 'HTTP: Failed', /scripts\.remoting\.maxResponseBytes \(4096\)/],
    ['a refused connection', () => `http://127.0.0.1:${closedPort}/gateway`, 'NetConnection.Call.Failed', 'HTTP: Failed', /ECONNREFUSED/],
    ['a host name that does not resolve (DNS)', () => 'http://unresolvable.invalid/gateway', 'NetConnection.Call.Failed', 'HTTP: Failed', /ENOTFOUND|EAI_AGAIN/],
  ];
  for (const [what, url, code, description, reason] of transportFailures) {
    it(`${what}: every call of the packet gets ${code} in onStatus; one log line`, async () => {
      const before = failures().length;
      const { started, reports: got } = await run(url(), [{ method: 'svc.echo', args: [1] }, { method: 'svc.echo', args: [2] }]);
      assert.deepEqual(started['sent'], [true, true]);
      assert.deepEqual(got.map((r) => [r.index, r.via]).sort(), [[0, 'onStatus'], [1, 'onStatus']]);
      for (const r of got) {
        const info = r['info'] as Record<string, unknown>;
        assert.equal(info['code'], code);
        assert.equal(info['level'], 'error');
        assert.equal(info['description'], description);
      }
      assert.equal(failures().length, before + 1, 'one line for the packet');
      const record = failures().at(-1)!;
      assert.match(String(record['reason']), reason);
      assert.equal(record['calls'], 2);
      assert.equal(record.app, 'remote/_definst_');
    });
  }

  it('a host not in scripts.http.allowHosts: call() returns false, onStatus still hears Call.Failed, one log line, no request', async () => {
    const before = failures().length;
    const requests = gateway.requests.length;
    const { started, reports: got } = await run('http://not-allowed.example/gateway.php?key=s3cret', [{ method: 'svc.echo' }]);
    assert.deepEqual(started['sent'], [false]);
    assert.equal(got[0]!.via, 'onStatus');
    assert.equal((got[0]!['info'] as Record<string, unknown>)['code'], 'NetConnection.Call.Failed');
    assert.equal(failures().length, before + 1);
    assert.match(String(failures().at(-1)!['reason']), /not-allowed\.example is not in scripts\.http\.allowHosts/);
    assert.equal(failures().at(-1)!['url'], 'http://not-allowed.example/gateway.php', 'no query string (keys) in the log');
    assert.equal(gateway.requests.length, requests);
  });

  it('a failure the responder cannot hear (no onStatus, or no responder) goes to nc.onStatus', async () => {
    const { reports: got } = await run(gateway.url('/status500'), [{ method: 'svc.echo', responder: 'result' }, { method: 'svc.echo', responder: 'none' }]);
    assert.deepEqual(got.map((r) => r.via), ['nc.onStatus', 'nc.onStatus']);
    for (const r of got) assert.equal((r['info'] as Record<string, unknown>)['description'], 'HTTP: Status 500');
  });

  it('scripts.remoting.maxQueuedCalls: calls beyond it return false and fail at once; the others go through', async () => {
    const before = failures().length;
    const calls = Array.from({ length: 10 }, (_, i) => ({ method: 'svc.add', args: [i, 0] }));
    const { started, reports: got } = await run(gateway.url(), calls);
    assert.deepEqual(started['sent'], [true, true, true, true, true, true, true, true, false, false]);
    assert.deepEqual(got.filter((r) => r.via === 'onResult').map((r) => r.value).sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
    const refused = got.filter((r) => r.via === 'onStatus');
    assert.deepEqual(refused.map((r) => r.index).sort(), [8, 9]);
    assert.equal(failures().length, before + 2);
    assert.match(String(failures().at(-1)!['reason']), /scripts\.remoting\.maxQueuedCalls \(8\)/);
  });

  it('scripts.remoting.maxRequestsInFlight: a further packet waits for a free slot, then goes', async () => {
    const before = gateway.requests.length;
    const t0 = Date.now();
    const stalls = [run(gateway.url('/stall'), [{ method: 'svc.echo' }]), run(gateway.url('/stall'), [{ method: 'svc.echo' }])];
    await gateway.waitForRequests(before + 2);
    const { reports: got } = await run(gateway.url(), [{ method: 'svc.add', args: [1, 1] }]);
    assert.equal(got[0]!.value, 2);
    assert.ok(Date.now() - t0 >= 450, `sent only when a stalled request timed out (after ${Date.now() - t0} ms)`);
    await Promise.all(stalls);
  });

  it('the instance keeps answering client calls while a remoting call is pending', async () => {
    const tag = 'pending-while-answering';
    const before = gateway.requests.length;
    const stalled = run(gateway.url('/stall'), [{ method: 'svc.echo' }], { tag });
    await gateway.waitForRequests(before + 1);
    assert.deepEqual(await nc.call('run', 'rtmp-side', 'rtmp://127.0.0.1:1/none', [], null), { sent: [], connectReturned: true, isConnected: false, uri: 'rtmp://127.0.0.1:1/none' });
    assert.equal(reports.filter((r) => r.tag === tag).length, 0, 'answered while the remoting call was still pending');
    await stalled;
  });
});

import { strict as assert } from 'node:assert';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

describe('live log over SSE and admin reload', function () {
  this.timeout(20_000);
  let ts: TestServer;
  let apps: string;

  before(async () => {
    apps = tempDir('apps');
    mkdirSync(path.join(apps, 'talk'));
    writeFileSync(path.join(apps, 'talk', 'main.asc'), 'Client.prototype.say = function (s) { trace("said " + s); return s; };\n');
    ts = await startTestServer(apps, { reload: { watch: false, debounceMs: 100 } });
  });
  after(async () => ts?.close());

  it('streams trace() records of one app as Server-Sent Events, filtered by app and text', async () => {
    const port = ts.server.httpPort;
    const events: Record<string, unknown>[] = [];
    const request = http.get({ host: '127.0.0.1', port, path: '/api/log/stream?app=talk&q=said' });
    const response = await new Promise<http.IncomingMessage>((resolve) => request.once('response', resolve));
    assert.equal(response.headers['content-type'], 'text/event-stream');
    let buffer = '';
    const got = new Promise<void>((resolve) => {
      response.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        for (const part of buffer.split('\n\n').slice(0, -1)) if (part.startsWith('data: ')) events.push(JSON.parse(part.slice(6)));
        buffer = buffer.split('\n\n').at(-1)!;
        if (events.length >= 2) resolve();
      });
    });
    const nc = new NetConnection();
    await nc.connect(ts.url('talk/room'));
    await nc.call('say', 'hello');
    await nc.call('say', 'world');
    await got;
    request.destroy();
    assert.deepEqual(events.map((e) => [e['msg'], e['app']]), [['said hello', 'talk/room'], ['said world', 'talk/room']]);
    const recent = await fetch(`http://127.0.0.1:${port}/api/log?app=talk&q=said`).then((r) => r.json() as Promise<{ records: { msg: string }[] }>);
    assert.deepEqual(recent.records.map((r) => r.msg), ['said hello', 'said world']);
    // At debug level every client call is a record too (method, outcome, time in the script).
    const all = await fetch(`http://127.0.0.1:${port}/api/log?app=talk`).then((r) => r.json() as Promise<{ records: Record<string, unknown>[] }>);
    const calls = all.records.filter((r) => r['msg'] === 'call');
    assert.deepEqual(calls.map((r) => [r['method'], r['ok']]), [['say', true], ['say', true]]);
    assert.ok(calls.every((r) => typeof r['ms'] === 'number'));
    nc.close();
  });

  it('POST /api/apps/<app>/reload reloads that app (watching off)', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('talk'));
    writeFileSync(path.join(apps, 'talk', 'main.asc'), 'Client.prototype.say = function (s) { return "v2 " + s; };\n');
    const reply = await fetch(`http://127.0.0.1:${ts.server.httpPort}/api/apps/talk/reload`, { method: 'POST' }).then((r) => r.json() as Promise<{ reloaded: string[] }>);
    assert.deepEqual(reply.reloaded.sort(), ['talk/_definst_', 'talk/room']); // every loaded instance of the app
    assert.equal(await nc.call('say', 'x'), 'v2 x', 'the connected client was carried over to the new version');
    const again = new NetConnection();
    await again.connect(ts.url('talk'));
    assert.equal(await again.call('say', 'y'), 'v2 y');
    again.close();
    nc.close();
  });
});

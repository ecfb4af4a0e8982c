import { strict as assert } from 'node:assert';
import net from 'node:net';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/** Sends raw bytes to the HTTP port; resolves with everything the server answered before closing. */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 3000).unref();
  });
}

/**
 * Request targets that Node's HTTP parser accepts but `new URL(target, base)` rejects ("//",
 * "//a:b"…). Every HTTP route parses the target that way, and an exception in the request or
 * upgrade listener is an uncaught exception: one such request used to end the whole server.
 */
describe('HTTP request targets that are no valid URL path', function () {
  this.timeout(30_000);
  let ts: TestServer;

  before(async () => {
    ts = await startTestServer(tempDir('apps'));
  });
  after(async () => ts?.close());

  for (const target of ['//', '//a:b', '//[', '//x:99999/live/s.flv']) {
    it(`GET ${target}: 400, and the server keeps serving`, async () => {
      const port = ts.server.httpPort;
      const answer = await rawHttp(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 400 /);
      const upgrade = await rawHttp(
        port,
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
      assert.match(upgrade, /^HTTP\/1\.1 400 /);
      const server = await fetch(`http://127.0.0.1:${port}/api/server`);
      assert.equal(server.status, 200);
      assert.ok(ts.logs.records.some((r) => r.msg === 'HTTP request refused: bad request target'), 'one log line');
    });
  }
});

describe('live-log reload route with a malformed app name', function () {
  this.timeout(30_000);

  it('POST /api/apps/%zz/reload answers 400; the server keeps serving', async () => {
    const ts = await startTestServer(tempDir('apps'));
    try {
      const port = ts.server.httpPort;
      const answer = await rawHttp(port, `POST /api/apps/%zz/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/server`)).status, 200);
    } finally {
      await ts.close();
    }
  });
});

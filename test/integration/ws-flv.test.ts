import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import net from 'node:net';
import { WebSocket } from 'ws';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import type { MediaPacket } from '../../runtime/media/media-packet.ts';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { assertFlvStart, serverWithLiveCam } from '../helpers/flv-egress.ts';
import type { TestServer } from '../helpers/test-server.ts';


interface WsRead {
  /** Each binary message as received (the first one is the 13-byte FLV header). */
  messages: Buffer[];
  tags: MediaPacket[];
}

/** Opens a WS-FLV URL and collects messages until `minVideoTags` video tags arrived, then closes. */
function readWsFlv(url: string, minVideoTags: number, timeoutMs = 15_000): Promise<WsRead> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: Buffer[] = [];
    const timer = setTimeout(() => (ws.terminate(), reject(new Error(`fewer than ${minVideoTags} video tags within ${timeoutMs} ms`))), timeoutMs);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      assert.ok(isBinary, 'WS-FLV messages are binary');
      messages.push(data);
      const tags = readFlvTags(Buffer.concat(messages));
      if (tags.filter((t) => t.type === 9).length >= minVideoTags) {
        clearTimeout(timer);
        ws.close();
        resolve({ messages, tags });
      }
    });
    ws.on('error', (error) => (clearTimeout(timer), reject(error)));
  });
}

/** The HTTP status a refused upgrade got. */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()));
    ws.on('open', () => reject(new Error('upgrade was accepted')));
    ws.on('error', () => undefined); // terminate() after unexpected-response reports an error too
  });
}

describe('WS-FLV egress', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let port: number;
  let close: () => Promise<void> = async () => undefined;

  before(async () => {
    ({ ts, port, close } = await serverWithLiveCam());
  });
  after(async () => close());

  it('a ws client gets the FLV header, metadata, codec configs, then ≥ 30 video frames from a keyframe', async () => {
    const { messages, tags } = await readWsFlv(`ws://127.0.0.1:${port}/live/_definst_/cam.flv`, 31);
    const head = messages[0]!;
    assert.equal(head.length, 13, 'first message: FLV header + PreviousTagSize0');
    const video = assertFlvStart(head, tags);
    assert.ok(video.length >= 30);
    const started = await ts.logs.waitFor((r) => r.msg === 'ws-flv play started' && r.stream === 'cam');
    assert.equal(started.app, 'live/_definst_');
    await ts.logs.waitFor((r) => r.msg === 'ws-flv play ended' && r.stream === 'cam' && r.reason === 'client closed');
  });

  it('is read-only: a message from the player closes it with 1003', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live/cam.flv`);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    await new Promise((resolve) => ws.once('message', resolve));
    ws.send(Buffer.from('FLV publish attempt'));
    const { code, reason } = await closed;
    assert.equal(code, 1003);
    assert.equal(reason, 'read-only stream');
    await ts.logs.waitFor((r) => r.msg === 'ws-flv play ended' && r.reason === 'client sent data');
  });

  it('refuses upgrades for unpublished streams and non-FLV paths with 404, and keeps serving', async () => {
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/live/nobody.flv`), 404);
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/api/server`), 404);
    const { tags } = await readWsFlv(`ws://127.0.0.1:${port}/live/cam.flv`, 5);
    assert.ok(tags.length > 5);
  });

  it('counts WS-FLV players in the HTTP-FLV stats the admin API reports', async () => {
    const count = (msg: string) => ts.logs.records.filter((r) => r.msg === msg).length;
    while (count('ws-flv play ended') < count('ws-flv play started')) await new Promise((r) => setTimeout(r, 20));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live/cam.flv`);
    await new Promise((resolve) => ws.once('message', resolve));
    const body = (await (await fetch(`http://127.0.0.1:${port}/api/server`)).json()) as { httpFlv: { players: number } };
    ws.close();
    assert.equal(body.httpFlv.players, 1);
  });

  it('a WS player that stops reading is bounded by the SubscriberQueue (drops to keyframes), and closed on unpublish', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('live'));
    const ns = await nc.createStream();
    await ns.publish('fast');
    await publishTags(ns, testFlv(20), { realtime: false, limitMs: 2000 }); // a GOP cache to start from
    // A WebSocket player that completes the handshake and then does not read.
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `GET /live/_definst_/fast.flv HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    socket.pause();
    await ts.logs.waitFor((r) => r.msg === 'ws-flv play started' && r.stream === 'fast');
    await publishTags(ns, testFlv(20), { realtime: false, repeat: 12 }); // ~16 MB, far beyond socket buffers + 256 KiB
    const stats = ((await (await fetch(`http://127.0.0.1:${port}/api/server`)).json()) as { httpFlv: { packetsDropped: number } }).httpFlv;
    assert.ok(stats.packetsDropped > 0, `no packets dropped: ${JSON.stringify(stats)}`);
    // The last frame is the close frame: FIN+close opcode, 13 bytes: code 1000 and "unpublished".
    const closeFrame = Buffer.concat([Buffer.from([0x88, 13, 0x03, 0xe8]), Buffer.from('unpublished')]);
    let received = 0;
    let tail = Buffer.alloc(0);
    const closed = new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        received += d.length;
        tail = Buffer.concat([tail, d]).subarray(-closeFrame.length);
        if (tail.equals(closeFrame)) resolve();
      }),
    );
    socket.resume();
    ns.close();
    const record = await ts.logs.waitFor((r) => r.msg === 'ws-flv play ended' && r.stream === 'fast');
    assert.equal(record['reason'], 'unpublished');
    assert.ok(Number(record['packetsDropped']) > 0);
    await closed;
    socket.destroy();
    nc.close();
    assert.ok(received < 12 * statSync(testFlv(20)).size, `the slow player got all ${received} bytes`);
  });
});

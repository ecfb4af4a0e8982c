import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { encodeAmf0 } from '../../runtime/rtmp/amf0.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { chunkBytes, connectCommand, RawRtmpPeer } from '../helpers/raw-rtmp.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** fmt-0 chunk header with an arbitrary (possibly huge) declared message length and no body. */
function headerOnly(csid: number, length: number, type = MessageType.CommandAmf0): Buffer {
  const basic = csid < 64 ? Buffer.from([csid]) : csid < 320 ? Buffer.from([0, csid - 64]) : Buffer.from([1, (csid - 64) & 0xff, (csid - 64) >> 8]);
  const header = Buffer.alloc(11);
  header.writeUIntBE(0, 0, 3);
  header.writeUIntBE(length, 3, 3);
  header[6] = type;
  header.writeUInt32LE(0, 7);
  return Buffer.concat([basic, header]);
}

interface BadCase {
  name: string;
  handshake: boolean;
  send: (peer: RawRtmpPeer) => void;
}

const cases: BadCase[] = [
  { name: 'garbage instead of a handshake', handshake: false, send: (p) => p.write(Buffer.alloc(4000, 0x5a)) },
  { name: 'RTMPE handshake version (6)', handshake: false, send: (p) => p.write(Buffer.concat([Buffer.from([6]), Buffer.alloc(1536)])) },
  { name: 'truncated handshake (then silence)', handshake: false, send: (p) => p.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(100)])) },
  { name: 'garbage after the handshake', handshake: true, send: (p) => p.write(Buffer.alloc(2000, 0xff)) },
  { name: 'handshake, then no connect', handshake: true, send: () => {} },
  { name: 'connect without tcUrl or app', handshake: true, send: (p) => p.write(connectCommand({ flashVer: 'bad' })) },
  {
    name: 'malformed AMF (string longer than the message)',
    handshake: true,
    send: (p) => p.write(chunkBytes(MessageType.CommandAmf0, Buffer.from([0x02, 0xff, 0xff, 0x41, 0x42]))),
  },
  { name: 'unknown AMF marker', handshake: true, send: (p) => p.write(chunkBytes(MessageType.CommandAmf0, Buffer.from([0x42, 0x00]))) },
  { name: 'Set Chunk Size 0', handshake: true, send: (p) => p.write(chunkBytes(MessageType.SetChunkSize, u32(0), 2)) },
  { name: 'Set Chunk Size 2^31', handshake: true, send: (p) => p.write(chunkBytes(MessageType.SetChunkSize, u32(0x80000000), 2)) },
  { name: '16 MB message length', handshake: true, send: (p) => p.write(headerOnly(3, 0xffffff)) },
  {
    name: 'thousands of chunk stream ids',
    handshake: true,
    send: (p) => p.write(Buffer.concat(Array.from({ length: 5000 }, (_, i) => headerOnly(64 + i, 100)))),
  },
  {
    name: 'first command is not connect',
    handshake: true,
    send: (p) => p.write(chunkBytes(MessageType.CommandAmf0, encodeAmf0(['play', 1, null, 'x']))),
  },
  {
    name: 'connect whose first value is not a string',
    handshake: true,
    send: (p) => p.write(chunkBytes(MessageType.CommandAmf0, encodeAmf0([42, 1, {}]))),
  },
];

describe('bad input closes only that connection', function () {
  this.timeout(30_000);
  let ts: TestServer;

  before(async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'live'));
    ts = await startTestServer(apps, { rtmp: { handshakeTimeoutMs: 1000, connectTimeoutMs: 1500 } });
  });
  after(async () => ts?.close());

  for (const badCase of cases) {
    it(`${badCase.name}: closed, one log line, the next client is served`, async () => {
      // A healthy client connected before the bad one must survive it.
      const bystander = new NetConnection();
      await bystander.connect(ts.url('live/bystander'));
      const before = ts.logs.records.length;
      const peer = await RawRtmpPeer.open(ts.rtmpPort, badCase.handshake);
      badCase.send(peer);
      assert.ok(await peer.closedWithin(4000), 'server must close the bad connection');
      peer.destroy();
      const next = new NetConnection();
      const info = await next.connect(ts.url('live/after'));
      assert.equal(info.code, 'NetConnection.Connect.Success');
      assert.equal(bystander.isConnected, true, 'an unrelated client stays connected');
      assert.equal(await bystander.call('nonexistent').catch((e: Error & { info: { code: string } }) => e.info.code), 'NetConnection.Call.Failed');
      const lines = ts.logs.records.slice(before).filter((r) => (r.level ?? 0) >= 40);
      assert.ok(lines.length >= 1, 'the bad connection is logged at warn level');
      next.close();
      bystander.close();
    });
  }

  it('memory stays bounded after all of the above repeated 20 times', async () => {
    const rss0 = process.memoryUsage().rss;
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        cases.filter((c) => c.handshake && !c.name.includes('no connect')).map(async (c) => {
          const peer = await RawRtmpPeer.open(ts.rtmpPort, true);
          c.send(peer);
          await peer.closedWithin(4000);
          peer.destroy();
        }),
      );
    }
    const grownMb = (process.memoryUsage().rss - rss0) / 1024 / 1024;
    assert.ok(grownMb < 100, `RSS grew ${grownMb.toFixed(1)} MB`);
  });
});

describe('bad shared-object messages (found by npm run fuzz)', function () {
  this.timeout(20_000);
  let ts: TestServer;
  before(async () => {
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'live'));
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  it('a truncated shared-object event closes that connection; the server keeps serving', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('live'));
    const closed = new Promise((resolve) => nc.once('close', resolve));
    // name "x", version, flags, reserved, then an event header cut short (3 of 5 bytes).
    const payload = Buffer.from([0, 1, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0]);
    nc.connection!.sendMessage({ type: MessageType.SharedObjectAmf0, streamId: 0, timestamp: 0, payload });
    await closed;
    const next = new NetConnection();
    assert.equal((await next.connect(ts.url('live'))).code, 'NetConnection.Connect.Success');
    next.close();
  });
});

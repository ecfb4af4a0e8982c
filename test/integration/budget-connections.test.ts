import { strict as assert } from 'node:assert';
import net from 'node:net';
import { CallError, NetConnection } from '../../runtime/client/net-connection.ts';
import { DEFAULT_CONFIG } from '../../runtime/config.ts';
import { encodeAmf0 } from '../../runtime/rtmp/amf0.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { assertHealthy, HealthyClients } from '../helpers/healthy-clients.ts';
import { chunkBytes, connectCommand, rawConnect, RawRtmpPeer } from '../helpers/raw-rtmp.ts';
import { appsFolder, startTestServer, type TestServer } from '../helpers/test-server.ts';

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP connection from `localAddress` (other loopback addresses are other IPs to the server); resolves 'closed' or 'open' after `ms`. */
async function openFrom(port: number, localAddress: string, ms = 400): Promise<{ socket: net.Socket; state: 'open' | 'closed'; bytes: number }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => undefined);
  let bytes = 0;
  socket.on('data', (d) => (bytes += d.length));
  const closed = new Promise<'closed'>((resolve) => socket.once('close', () => resolve('closed')));
  const state = await Promise.race([closed, sleep(ms).then(() => 'open' as const)]);
  return { socket, state, bytes };
}

/** fmt-0 header and first 128-byte chunk of a message declared `length` bytes long, on chunk stream `csid`. */
function firstChunkOf(csid: number, length: number): Buffer {
  const basic = csid < 64 ? Buffer.from([csid]) : Buffer.from([0, csid - 64]);
  const header = Buffer.alloc(11);
  header.writeUIntBE(length, 3, 3);
  header[6] = MessageType.Video;
  header.writeUInt32LE(1, 7);
  return Buffer.concat([basic, header, Buffer.alloc(128, 1)]);
}

const apps = () => appsFolder({ live: null });

describe('budget: connections (count, per IP, idle, reassembly bytes, argument sizes)', function () {
  this.timeout(60_000);

  describe('accepted connections in total and per IP', () => {
    let ts: TestServer;
    let healthy: HealthyClients;
    const held: net.Socket[] = [];
    before(async () => {
      ts = await startTestServer(apps(), { rtmp: { maxConnections: 12, maxConnectionsPerIp: 5 }, http: { maxConnections: 20, maxConnectionsPerIp: 3 } });
      healthy = await HealthyClients.start(ts.url('live/health')); // 3 connections from 127.0.0.1
    });
    after(async () => {
      healthy?.stop();
      for (const socket of held) socket.destroy();
      await ts?.close();
    });

    it('rtmp.maxConnectionsPerIp: the 6th socket from one address is closed before the handshake', async () => {
      const tries = await Promise.all(Array.from({ length: 8 }, () => openFrom(ts.rtmpPort, '127.0.0.2')));
      held.push(...tries.map((t) => t.socket));
      assert.deepEqual(tries.map((t) => t.state).sort(), ['closed', 'closed', 'closed', 'open', 'open', 'open', 'open', 'open']);
      assert.ok(tries.filter((t) => t.state === 'closed').every((t) => t.bytes === 0), 'refused before any handshake byte');
      assert.equal(ts.logs.records.filter((r) => r['budget'] === 'rtmp.maxConnectionsPerIp').length, 1, 'one rate-limited line');
      assertHealthy(await healthy.report(), 500, 'a flood from one address');
      const another = new NetConnection();
      assert.equal((await another.connect(ts.url('live'))).code, 'NetConnection.Connect.Success', 'other addresses are served');
      another.close();
    });

    it('rtmp.maxConnections: past the total, new sockets are closed; connected clients keep working; room again once they go', async () => {
      // 3 healthy + 5 held from 127.0.0.2 = 8 of 12.
      const tries = await Promise.all(Array.from({ length: 6 }, () => openFrom(ts.rtmpPort, '127.0.0.3')));
      assert.equal(tries.filter((t) => t.state === 'closed').length, 2);
      assert.ok(ts.logs.records.some((r) => r['budget'] === 'rtmp.maxConnections'));
      assertHealthy(await healthy.report(), 500, 'the server at its connection budget');
      for (const t of tries) t.socket.destroy();
      await sleep(200);
      const after = await openFrom(ts.rtmpPort, '127.0.0.3');
      assert.equal(after.state, 'open', 'closed connections free their place');
      after.socket.destroy();
    });

    it('http.maxConnectionsPerIp: the same on the HTTP port; other addresses get their answers', async () => {
      const tries = await Promise.all(Array.from({ length: 5 }, () => openFrom(ts.server.httpPort, '127.0.0.4')));
      assert.equal(tries.filter((t) => t.state === 'closed').length, 2);
      assert.ok(ts.logs.records.some((r) => r['budget'] === 'http.maxConnectionsPerIp'));
      const reply = await fetch(`http://127.0.0.1:${ts.server.httpPort}/api/server`);
      assert.equal(reply.status, 200);
      for (const t of tries) t.socket.destroy();
    });
  });

  describe('idle time', () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer(apps(), { rtmp: { idleTimeoutSec: 1 } });
    });
    after(async () => ts?.close());

    it('rtmp.idleTimeoutSec: a connected client that sends nothing and answers no ping gets IdleTimeout, then the close', async () => {
      const healthy = await HealthyClients.start(ts.url('live/health'));
      const quiet = new NetConnection(); // sends nothing either, but answers the server's ping as Flash Player does
      await quiet.connect(ts.url('live'));
      const mute = await RawRtmpPeer.open(ts.rtmpPort);
      mute.write(connectCommand({ app: 'live', tcUrl: ts.url('live') }));
      const started = Date.now();
      assert.ok(await mute.closedWithin(4000), 'the mute client is closed');
      const after = Date.now() - started;
      assert.ok(after >= 900, `closed after ${after} ms, not before the idle time`);
      assert.ok(mute.saw('NetConnection.Connect.Success') && mute.saw('NetConnection.Connect.IdleTimeout'), 'IdleTimeout before the close');
      await sleep(1500);
      assert.equal(quiet.isConnected, true, 'a client that answers pings is not idle');
      assertHealthy(await healthy.report(), 500, 'idle clients closed');
      assert.ok(ts.logs.records.some((r) => r['budget'] === 'rtmp.idleTimeoutSec'));
      const closed = ts.logs.records.find((r) => r.msg === 'client closed' && r['reason'] === 'idle timeout');
      assert.equal((closed?.['err'] as { code?: string } | undefined)?.code, 'RTMP_IDLE_TIMEOUT');
      quiet.close();
      healthy.stop();
      mute.destroy();
    });
  });

  describe('bytes of messages in reassembly', () => {
    it('rtmp.maxAssemblyBytesPerConnection: 60 partial 8 MB messages on one connection: closed at the third, memory stays flat', async () => {
      const ts = await startTestServer(apps());
      const healthy = await HealthyClients.start(ts.url('live/health'));
      try {
        const before = process.memoryUsage().arrayBuffers;
        const peer = await RawRtmpPeer.open(ts.rtmpPort);
        peer.write(Buffer.concat(Array.from({ length: 60 }, (_, i) => firstChunkOf(4 + i, 8 * 1000 * 1000))));
        assert.ok(await peer.closedWithin(3000), 'the connection is closed');
        const grownMb = (process.memoryUsage().arrayBuffers - before) / MB;
        assert.ok(grownMb < 40, `buffers grew ${grownMb.toFixed(0)} MB (60 × 8 MB were held before)`);
        assert.ok(ts.logs.records.some((r) => r['budget'] === 'rtmp.maxAssemblyBytesPerConnection'));
        assertHealthy(await healthy.report(), 500, 'a reassembly hog');
        peer.destroy();
      } finally {
        healthy.stop();
        await ts.close();
      }
    });

    it('rtmp.maxAssemblyBytesTotal: when hogs fill it, the largest is closed to let a healthy publisher assemble its frames', async () => {
      const ts = await startTestServer(apps(), { rtmp: { maxMessageBytes: 4 * MB, maxAssemblyBytesPerConnection: 4 * MB, maxAssemblyBytesTotal: 8 * MB } });
      const hogs = await Promise.all([1, 2].map(() => RawRtmpPeer.open(ts.rtmpPort)));
      hogs[0]!.write(firstChunkOf(4, 4 * MB - 10));
      hogs[1]!.write(firstChunkOf(4, 3 * MB));
      await sleep(300);
      const publisher = new NetConnection();
      const player = new NetConnection();
      try {
        await Promise.all([publisher.connect(ts.url('live')), player.connect(ts.url('live'))]);
        const out = await publisher.createStream();
        await out.publish('big');
        const inStream = await player.createStream();
        let frames = 0;
        inStream.on('media', (m) => (frames += m.payload.length > 100_000 ? 1 : 0));
        inStream.play('big', -1);
        await sleep(200);
        for (let i = 0; i < 10; i++) {
          out.sendMedia(MessageType.Video, i * 40, Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), Buffer.alloc(1.2 * MB)]));
          await sleep(40);
        }
        for (let waited = 0; waited < 5000 && frames < 10; waited += 50) await sleep(50);
        assert.equal(frames, 10, 'every large frame of the healthy publisher got through');
        assert.ok(await hogs[0]!.closedWithin(1000), 'the largest hog was closed');
        assert.ok(ts.logs.records.some((r) => r['budget'] === 'rtmp.maxAssemblyBytesTotal'));
        const evicted = ts.logs.records.find((r) => r.msg === 'client closed' && r['wasAccepted'] === false && (r['err'] as { code?: string } | undefined)?.code === 'RTMP_ASSEMBLY_BUDGET');
        assert.ok(evicted, 'its close is logged with the code');
      } finally {
        publisher.close();
        player.close();
        for (const hog of hogs) hog.destroy();
        await ts.close();
      }
    });
  });

  describe('sizes of command arguments that are stored or logged', () => {
    let ts: TestServer;
    let healthy: HealthyClients;
    before(async () => {
      ts = await startTestServer(apps());
      healthy = await HealthyClients.start(ts.url('live/health'));
    });
    after(async () => {
      healthy?.stop();
      await ts?.close();
    });

    const { maxNameChars, maxUrlChars, maxConnectBytes } = DEFAULT_CONFIG.rtmp;
    const connects: [string, string, Record<string, unknown>, unknown[], RegExp][] = [
      ['rtmp.maxUrlChars', 'a tcUrl', { app: 'live', tcUrl: `rtmp://127.0.0.1/live?${'t'.repeat(maxUrlChars)}` }, [], /^Connect object field tcUrl is \d+ characters; the limit is 4096\.$/],
      ['rtmp.maxUrlChars', 'a flashVer', { app: 'live', flashVer: 'f'.repeat(maxUrlChars + 1) }, [], /^Connect object field flashVer is 4097 characters/],
      ['rtmp.maxNameChars', 'an app/instance name', { app: `live/${'i'.repeat(maxNameChars)}` }, [], /^Application and instance name are 1029 characters; the limit is 1024\.$/],
      ['rtmp.maxConnectBytes', 'connect arguments', { app: 'live' }, [{ blob: 'b'.repeat(maxConnectBytes) }], /^Connect command is \d+ bytes; the limit is 65536\.$/],
    ];
    for (const [budget, what, props, args, description] of connects) {
      it(`${budget}: ${what} over the budget gets NetConnection.Connect.Rejected, one line`, async () => {
        const before = ts.logs.records.filter((r) => r['budget'] === budget).length;
        for (let i = 0; i < 3; i++) {
          const answer = await rawConnect(ts.rtmpPort, props, args);
          assert.ok(answer !== 'closed', 'answered, not just closed');
          assert.equal(answer.name, '_error');
          assert.equal(answer.info['code'], 'NetConnection.Connect.Rejected');
          assert.match(String(answer.info['description']), description);
        }
        assert.ok(ts.logs.records.filter((r) => r['budget'] === budget).length - before <= 1, 'rate-limited');
        assertHealthy(await healthy.report(), 500, what);
      });
    }

    it('rtmp.maxNameChars: stream and method names over it: Publish.BadName, Play.Failed, Call.Failed', async () => {
      const nc = new NetConnection();
      await nc.connect(ts.url('live'));
      const long = 's'.repeat(maxNameChars + 1);
      const publishing = await nc.createStream();
      const refused = await publishing.publish(long).catch((e: Error & { info: { code: string; description: string } }) => e.info);
      assert.equal(refused.code, 'NetStream.Publish.BadName');
      const playing = await nc.createStream();
      const status = playing.waitStatus('NetStream.Play.Failed', 'NetStream.Play.Start');
      playing.play(long);
      assert.equal((await status).description, `Stream name is ${maxNameChars + 1} characters; the limit is ${maxNameChars}.`);
      const call = await nc.call(long).catch((e: CallError) => e.info);
      assert.deepEqual([(call as { code: string }).code, (call as { description: string }).description], ['NetConnection.Call.Failed', `Method name is ${maxNameChars + 1} characters; the limit is ${maxNameChars}.`]);
      const ok = await nc.createStream();
      assert.equal((await ok.publish('s'.repeat(maxNameChars))).code, 'NetStream.Publish.Start', 'a name at the budget is fine');
      nc.close();
      assertHealthy(await healthy.report(), 500, 'long names');
    });

    it('a non-connect first command over the connect budget just closes the connection', async () => {
      const peer = await RawRtmpPeer.open(ts.rtmpPort);
      peer.write(chunkBytes(MessageType.CommandAmf0, encodeAmf0(['play', 1, null, 'x'.repeat(maxConnectBytes)])));
      assert.ok(await peer.closedWithin(2000));
      peer.destroy();
    });
  });
});

import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { pollUntil } from '../helpers/poll.ts';

const SCRIPT = `
application.onConnect = function (client, label) { client.label = label; return true; };
Client.prototype.appStats = function () { return application.getStats(); };
Client.prototype.pingPeer = function (label) {
  for (var i = 0; i < application.clients.length; i++) if (application.clients[i].label == label) return application.clients[i].ping();
  return "not found";
};
/** Every client's getStats(), by the label it connected with. */
Client.prototype.clientStats = function () {
  var out = {};
  for (var i = 0; i < application.clients.length; i++) out[application.clients[i].label] = application.clients[i].getStats();
  return out;
};
`;

describe('application.getStats() / client.getStats() / client.ping(): traffic counters of the instance and its clients (fms-api §2.2, §3)', function () {
  this.timeout(30_000);
  let ts: TestServer;
  before(async () => {
    const apps = tempDir('appstats');
    mkdirSync(path.join(apps, 'stats'));
    writeFileSync(path.join(apps, 'stats', 'main.asc'), SCRIPT);
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  it('bw_in/bw_out are the kilobytes received/sent (Adobe\'s definition), consistent with bytes_in/bytes_out', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('stats'));
    try {
      const ns = await nc.createStream();
      await ns.publish('load');
      await publishTags(ns, testFlv(20), { realtime: false, limitMs: 3000 }); // ~200 KB at 500 kbit/s
      await new Promise((r) => setTimeout(r, 200));
      const stats = (await nc.call('appStats')) as Record<string, number>;
      assert.ok(stats.bytes_in! > 150 * 1024, `bytes_in ${stats.bytes_in}`);
      assert.equal(stats.bw_in, Math.floor(stats.bytes_in! / 1024));
      assert.equal(stats.bw_out, Math.floor(stats.bytes_out! / 1024));
      assert.equal(stats.total_connects, 1);
    } finally {
      nc.close();
    }
  });

  it('msg_dropped counts the media dropped for a player that stops reading; 0 for a healthy one; bw_in/bw_out per client in KB', async () => {
    const stalledNc = new NetConnection();
    await stalledNc.connect(ts.url('stats/drops'), 'stalled');
    const stalled = await stalledNc.createStream();
    const stalledStarted = stalled.waitStatus('NetStream.Play.Start');
    stalled.play('big');
    const goodNc = new NetConnection();
    await goodNc.connect(ts.url('stats/drops'), 'good');
    const good = await goodNc.createStream();
    let goodFrames = 0;
    good.on('media', () => goodFrames++);
    const goodStarted = good.waitStatus('NetStream.Play.Start');
    good.play('big');
    const pubNc = new NetConnection();
    await pubNc.connect(ts.url('stats/drops'), 'publisher');
    try {
      await Promise.all([stalledStarted, goodStarted]); // both players subscribed before the publish starts
      stalledNc.connection!.socket.pause(); // stop reading: kernel buffers fill, then the server's queue drops
      const pub = await pubNc.createStream();
      await pub.publish('big');
      // ~20 MB: past the kernel's socket buffers plus the 2 MB player backlog limit (media.playerMaxBufferedBytes).
      // The healthy player shares this process's event loop: the limit is kept at its default, and the
      // publish is paced (10× real time, ~40 Mbit/s) rather than unpaced, so it never lags that far
      // (an unpaced burst made the healthy player drop too on a clean CI run).
      await publishTags(pub, testFlv(20, 4000), { realtime: true, speed: 10, repeat: 2 });
      await new Promise((r) => setTimeout(r, 500));
      const byLabel = (await goodNc.call('clientStats')) as Record<string, Record<string, number>>;
      const app = (await goodNc.call('appStats')) as Record<string, number>;
      assert.ok(goodFrames > 500, `the healthy player got ${goodFrames} frames`);
      assert.ok(byLabel['stalled']!.msg_dropped! > 0, `stalled: ${JSON.stringify(byLabel['stalled'])}`);
      assert.equal(byLabel['good']!.msg_dropped, 0, `good: ${JSON.stringify(byLabel['good'])}`);
      assert.equal(byLabel['publisher']!.msg_dropped, 0);
      assert.equal(app.msg_dropped, byLabel['stalled']!.msg_dropped, 'the instance total is the sum over its clients');
      const queues = ts.server.instances.instances.find((i) => i.name === 'stats/drops')!.sessions.flatMap((s) => s.streams).flatMap((s) => s.playing ? [s.playing.queue] : []);
      assert.deepEqual(queues.map((q) => q.packetsDropped).filter((n) => n > 0), [byLabel['stalled']!.msg_dropped], 'the script sees the subscriber queue\'s own count');
      const publisher = byLabel['publisher']!;
      assert.ok(publisher.bw_in! > 5 * 1024, `publisher bw_in ${publisher.bw_in} KB`);
      assert.equal(publisher.bw_in, Math.floor(publisher.bytes_in! / 1024));
      assert.equal(byLabel['good']!.bw_out, Math.floor(byLabel['good']!.bytes_out! / 1024));
    } finally {
      for (const nc of [stalledNc, goodNc, pubNc]) nc.close();
    }
  });

  it('client.ping() sends a real RTMP ping: ping_rtt is 0 until answered, then the round trip (here held ~300 ms by a client not reading)', async () => {
    const monitor = new NetConnection();
    await monitor.connect(ts.url('stats/ping'), 'monitor');
    const peer = new NetConnection();
    await peer.connect(ts.url('stats/ping'), 'peer');
    const rttOf = async () => ((await monitor.call('clientStats')) as Record<string, Record<string, number>>)['peer']!.ping_rtt!;
    try {
      assert.equal(await rttOf(), 0, 'never pinged');
      peer.connection!.socket.pause(); // the PingRequest waits unread in the peer's socket
      assert.equal(await monitor.call('pingPeer', 'peer'), true);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await rttOf(), 0, 'no answer yet: no round trip to report');
      peer.connection!.socket.resume();
      const rtt = await pollUntil(rttOf, (ms) => ms !== 0, 'a round trip after the peer read again', { intervalMs: 20 });
      assert.ok(rtt >= 290 && rtt < 3000, `ping_rtt ${rtt} ms`);
    } finally {
      monitor.close();
      peer.close();
    }
  });
});

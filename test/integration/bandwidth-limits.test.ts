import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { NetStream } from '../../runtime/client/net-stream.ts';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import { isVideoConfig, isVideoKeyframe } from '../../runtime/media/media-packet.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * Bandwidth limits for real: client.setBandwidthLimit (the modem/DSL/LAN tiers of old FMS apps) and
 * Application.xml Client/Bandwidth shape what a client receives with a token bucket that drops to
 * keyframes; Client/BandwidthCap bounds what a script may set; the client→server limit is announced
 * with Set Peer Bandwidth. Measured: a 2.5 Mbit/s live stream, players limited to 400 kbit/s
 * (50,000 bytes/s) beside an unlimited one, bytes on the wire over 10 s.
 */
const TIERS_MAIN = `
application.onConnect = function (client, tier) {
  if (tier == "dsl") client.setBandwidthLimit(50000, 20000);
  return true;
};
Client.prototype.limits = function () { return [this.getBandwidthLimit(0), this.getBandwidthLimit(1)]; };
`;
const CAPPED_MAIN = `
application.onConnect = function (client) {
  client.setBandwidthLimit(100000, 100000);
  return true;
};
Client.prototype.limits = function () { return [this.getBandwidthLimit(0), this.getBandwidthLimit(1)]; };
`;

const LIMIT_KBPS = 400;
const WINDOW_MS = 10_000;
const WARMUP_MS = 3000;

interface Player {
  nc: NetConnection;
  ns: NetStream;
  /** Video frames received (codec configs left out), in order. */
  video: { timestamp: number; keyframe: boolean }[];
  /** Set Peer Bandwidth values the server sent, in order. */
  peerBandwidth: number[];
}

describe('bandwidth limits: setBandwidthLimit, Application.xml Client/Bandwidth and BandwidthCap', function () {
  this.timeout(90_000);
  let ts: TestServer;
  const source = testFlv(30, 2500);
  const sourceVideo = readFlvTags(readFileSync(source)).filter((t) => t.type === 9 && !isVideoConfig({ type: 9, timestamp: t.timestamp, payload: t.payload }));
  const open: NetConnection[] = [];

  before(async () => {
    const apps = tempDir('bandwidth');
    const app = (name: string, files: Record<string, string>) => {
      mkdirSync(path.join(apps, name));
      for (const [file, text] of Object.entries(files)) writeFileSync(path.join(apps, name, file), text);
    };
    app('tiers', { 'main.asc': TIERS_MAIN });
    app('xmllimited', { 'Application.xml': '<Application><Client><Bandwidth><ServerToClient>50000</ServerToClient><ClientToServer>30000</ClientToServer></Bandwidth></Client></Application>' });
    app('capped', {
      'main.asc': CAPPED_MAIN,
      'Application.xml': '<Application><Client><BandwidthCap><ServerToClient>30000</ServerToClient><ClientToServer>10000</ClientToServer></BandwidthCap></Client></Application>',
    });
    ts = await startTestServer(apps);
  });
  after(async () => {
    for (const nc of open) nc.close();
    await ts?.close();
  });

  async function player(app: string, ...connectArgs: unknown[]): Promise<Player> {
    const nc = new NetConnection();
    open.push(nc);
    const peerBandwidth: number[] = [];
    const connecting = nc.connect(ts.url(app), ...connectArgs);
    nc.connection!.on('peerBandwidth', (bytes) => peerBandwidth.push(bytes));
    await connecting;
    const ns = await nc.createStream();
    const video: Player['video'] = [];
    ns.on('media', (m) => {
      if (m.type !== 9 || isVideoConfig(m)) return;
      video.push({ timestamp: m.timestamp, keyframe: isVideoKeyframe(m) });
    });
    return { nc, ns, video, peerBandwidth };
  }

  /** Starts publishing the 2.5 Mbit/s source in real time; `done` resolves when it has all been sent. */
  async function publisher(app: string): Promise<{ done: Promise<void> }> {
    const nc = new NetConnection();
    open.push(nc);
    await nc.connect(ts.url(app));
    const ns = await nc.createStream();
    await ns.publish('cam');
    return { done: publishTags(ns, source, { realtime: true, limitMs: WARMUP_MS + WINDOW_MS + 2000 }) };
  }

  /** Every inter frame a player got must follow a frame it also got: after a drop it starts again on a keyframe. */
  function assertDecodable(received: Player['video']): void {
    const got = new Set(received.map((f) => f.timestamp));
    const order = sourceVideo.map((t) => t.timestamp);
    for (const frame of received) {
      if (frame.keyframe) continue;
      const previous = order[order.indexOf(frame.timestamp) - 1];
      assert.ok(previous !== undefined && got.has(previous), `inter frame at ${frame.timestamp} ms arrived after a dropped frame`);
    }
  }

  it(`a ${LIMIT_KBPS} kbit/s limit on a 2.5 Mbit/s stream: within 10 % over ${WINDOW_MS / 1000} s, keyframes intact; an unlimited player beside it gets it all`, async () => {
    const dsl = await player('tiers', 'dsl');
    const lan = await player('tiers', 'lan');
    const fromXml = await player('xmllimited');
    const publishing = [await publisher('tiers'), await publisher('xmllimited')];
    for (const p of [dsl, lan]) p.ns.play('cam', -1);
    fromXml.ns.play('cam', -1);
    await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
    const before = [dsl, lan, fromXml].map((p) => p.nc.connection!.bytesIn);
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const seconds = (performance.now() - t0) / 1000;
    const [dslKbps, lanKbps, xmlKbps] = [dsl, lan, fromXml].map((p, i) => ((p.nc.connection!.bytesIn - before[i]!) * 8) / 1000 / seconds);
    await Promise.all(publishing.map((p) => p.done));

    assert.ok(dslKbps <= LIMIT_KBPS * 1.1 && dslKbps >= LIMIT_KBPS * 0.9, `setBandwidthLimit player got ${dslKbps.toFixed(0)} kbit/s`);
    assert.ok(xmlKbps <= LIMIT_KBPS * 1.1 && xmlKbps >= LIMIT_KBPS * 0.9, `Application.xml player got ${xmlKbps.toFixed(0)} kbit/s`);
    assert.ok(lanKbps > 2000, `the unlimited player got ${lanKbps.toFixed(0)} kbit/s`);
    for (const limited of [dsl, fromXml]) {
      assertDecodable(limited.video);
      assert.ok(limited.video.length < sourceVideo.length / 2, 'frames were dropped');
      assert.ok(limited.video.filter((f) => f.keyframe).length >= (WARMUP_MS + WINDOW_MS) / 2000, 'a picture at least every 2 s');
    }
    assert.deepEqual((await dsl.nc.call('limits')) as number[], [20000, 50000]);
    assert.deepEqual((await lan.nc.call('limits')) as number[], [1250000, 1250000], "unlimited: FMS's default is reported");
  });

  it('client→server: the limit is announced with Set Peer Bandwidth (setBandwidthLimit and Application.xml ClientToServer)', async () => {
    const dsl = await player('tiers', 'dsl');
    const fromXml = await player('xmllimited');
    const lan = await player('tiers', 'lan');
    await dsl.nc.call('limits'); // a round trip: everything sent with the accept has arrived
    await lan.nc.call('limits');
    assert.equal(dsl.peerBandwidth.at(-1), 20000);
    assert.equal(fromXml.peerBandwidth.at(-1), 30000);
    assert.deepEqual(lan.peerBandwidth, [2_500_000], 'unlimited: only the protocol setup window');
  });

  it('Client/BandwidthCap: setBandwidthLimit cannot go above it', async () => {
    const capped = await player('capped');
    assert.deepEqual((await capped.nc.call('limits')) as number[], [10000, 30000]);
    assert.equal(capped.peerBandwidth.at(-1), 10000);
  });
});

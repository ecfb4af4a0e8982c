import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { ErrorCode } from '../../runtime/errors.ts';
import { GENUINE_FP_KEY_TEXT, HANDSHAKE_PACKET_BYTES, imprintDigest, randomPacket, RTMPE_CLIENT_VERSION } from '../../runtime/rtmp/handshake-digest.ts';
import { dhKeyOffset } from '../../runtime/rtmp/rtmpe.ts';
import { publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type LogRecord, type TestServer } from '../helpers/test-server.ts';
import { makeTlsFixtures, type TlsFixtures } from '../helpers/tls-fixtures.ts';

const SCHEMES = ['rtmp', 'rtmps', 'rtmpt', 'rtmpts', 'rtmpe', 'rtmpte'] as const;
type Scheme = (typeof SCHEMES)[number];

/** Resolves when the server closes the socket (or after `ms`, with false). */
function closedBy(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.on('error', () => undefined);
    socket.resume(); // read what comes, so the server's FIN is seen
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** One RTMPT request; status and body. */
async function post(port: number, pathPart: string, body: Buffer): Promise<{ status: number; body: Buffer }> {
  const response = await fetch(`http://127.0.0.1:${port}${pathPart}`, { method: 'POST', body, headers: { 'content-type': 'application/x-fcs' } });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

/** An RTMPE C0+C1 as clients build it (scheme-1 digest), carrying the given DH public key. */
function rtmpeC0C1(publicKey: Buffer): Buffer {
  const c1 = randomPacket(RTMPE_CLIENT_VERSION);
  publicKey.copy(c1, dhKeyOffset(c1, 1));
  imprintDigest(c1, GENUINE_FP_KEY_TEXT, 1);
  return Buffer.concat([Buffer.from([6]), c1]);
}

/** A player that counts video frames, on one transport. */
class HealthyPlayer {
  readonly nc: NetConnection;
  frames = 0;
  constructor(ca: string) {
    this.nc = new NetConnection({ ca: [ca] });
  }
  async start(uri: string): Promise<void> {
    await this.nc.connect(uri);
    const ns = await this.nc.createStream();
    ns.on('media', (m) => {
      if (m.type === 9) this.frames++;
    });
    ns.play('cam');
  }
}

describe('transports: bad input on every door, healthy clients keep being served', function () {
  this.timeout(120_000);
  let tlsFiles: TlsFixtures;
  let ts: TestServer;
  let publisher: Publisher;
  const players = new Map<Scheme, HealthyPlayer>();
  let uri: (scheme: Scheme, rest: string) => string;
  let ports: { rtmp: number; rtmps: number; http: number; https: number };

  const logged = (predicate: (r: LogRecord) => boolean, what: string) => ts.logs.waitFor(predicate, 5000).catch(() => assert.fail(`no log line: ${what}`));

  before(async () => {
    tlsFiles = makeTlsFixtures();
    const apps = tempDir('apps');
    mkdirSync(path.join(apps, 'live'));
    ts = await startTestServer(apps, {
      rtmp: { handshakeTimeoutMs: 1500 },
      rtmps: { host: '127.0.0.1', port: 0, cert: tlsFiles.cert, key: tlsFiles.key },
      https: { enabled: true, port: 0 },
      tls: { handshakeTimeoutMs: 800 },
      rtmpt: { maxSessions: 8, idleTimeoutMs: 1500, maxRequestBytes: 64 * 1024 },
      rtmpe: { maxHandshakesPerSec: 20 },
    });
    const s = ts.server;
    ports = { rtmp: s.rtmpPort, rtmps: s.rtmpsPort, http: s.httpPort, https: s.httpsPort };
    const port: Record<Scheme, number> = { rtmp: ports.rtmp, rtmpe: ports.rtmp, rtmps: ports.rtmps, rtmpt: ports.http, rtmpte: ports.http, rtmpts: ports.https };
    uri = (scheme, rest) => `${scheme}://127.0.0.1:${port[scheme]}/${rest}`;
    publisher = publishWithFfmpeg(testFlv(20), uri('rtmp', 'live/cam'), [], ['-stream_loop', '-1']);
    await ts.logs.waitFor((r) => r.msg === 'publish started' && r.stream === 'cam', 20_000);
    for (const scheme of SCHEMES) {
      const player = new HealthyPlayer(tlsFiles.caPem);
      await player.start(uri(scheme, 'live'));
      players.set(scheme, player);
    }
  });

  after(async () => {
    for (const player of players.values()) player.nc.close();
    await publisher?.stop();
    await ts?.close();
  });

  /** Runs the attack while measuring every healthy player; each must get ≥ 85 % of 25 fps meanwhile. */
  async function whileHealthyPlay(attack: () => Promise<void>): Promise<void> {
    const before = new Map([...players].map(([scheme, p]) => [scheme, p.frames]));
    const started = Date.now();
    await attack();
    // At least 2 s of measurement, so a short attack still proves continuous delivery.
    const elapsed = Date.now() - started;
    if (elapsed < 2000) await new Promise((r) => setTimeout(r, 2000 - elapsed));
    const seconds = (Date.now() - started) / 1000;
    for (const [scheme, player] of players) {
      const got = player.frames - before.get(scheme)!;
      assert.ok(player.nc.isConnected, `${scheme} player still connected`);
      assert.ok(got >= 25 * seconds * 0.85, `${scheme} player got ${got} frames in ${seconds.toFixed(1)} s`);
    }
  }

  it('RTMPS port: TLS garbage, a plain RTMP handshake and a silent socket are dropped with one log line each', async () => {
    await whileHealthyPlay(async () => {
      const garbage = net.connect(ports.rtmps, '127.0.0.1');
      garbage.write(randomBytes(2048));
      assert.ok(await closedBy(garbage, 3000), 'garbage closed');
      const plain = net.connect(ports.rtmps, '127.0.0.1');
      plain.write(Buffer.concat([Buffer.from([3]), randomBytes(HANDSHAKE_PACKET_BYTES)]));
      assert.ok(await closedBy(plain, 3000), 'plain RTMP handshake closed');
      await logged((r) => r.msg === 'TLS handshake failed' && r['code'] === ErrorCode.TlsHandshakeFailed, 'TLS handshake failed');
      const silent = net.connect(ports.rtmps, '127.0.0.1');
      const started = Date.now();
      assert.ok(await closedBy(silent, 4000), 'a socket that never starts TLS is dropped');
      assert.ok(Date.now() - started < 3000, 'within about tls.handshakeTimeoutMs');
      // TLS done, then RTMP garbage inside it: that connection only.
      const inner = tls.connect({ host: '127.0.0.1', port: ports.rtmps, ca: tlsFiles.caPem });
      await new Promise((resolve) => inner.once('secureConnect', resolve));
      inner.write(Buffer.from([0x42, ...randomBytes(100)]));
      assert.ok(await closedBy(inner as net.Socket, 3000), 'bad C0 inside TLS closed');
    });
  });

  it('RTMPT: forged and closed session ids get 404, bad paths 400, random bodies end only their own session', async () => {
    await whileHealthyPlay(async () => {
      for (let i = 0; i < 20; i++) {
        const forged = await post(ports.http, `/send/${randomBytes(16).toString('hex')}/${i}`, randomBytes(200));
        assert.deepEqual([forged.status, forged.body.length], [404, 0], 'a forged id learns nothing');
      }
      assert.equal((await post(ports.http, '/idle/x/notanumber', Buffer.from([0]))).status, 400);
      assert.equal((await post(ports.http, '/fcs/ident2', Buffer.from([0]))).status, 404);
      for (let i = 0; i < 5; i++) {
        const open = await post(ports.http, '/open/1', Buffer.from([0]));
        assert.equal(open.status, 200);
        const id = open.body.toString().trim();
        assert.match(id, /^[0-9a-f]{32}$/, '128-bit id');
        await post(ports.http, `/send/${id}/0`, randomBytes(3000)); // not an RTMP handshake
        const after = await post(ports.http, `/idle/${id}/1`, Buffer.from([0]));
        assert.equal(after.status, 404, 'the session ended with its connection');
      }
      const open = await post(ports.http, '/open/1', Buffer.from([0]));
      const id = open.body.toString().trim();
      assert.equal((await post(ports.http, `/close/${id}/0`, Buffer.from([0]))).status, 200);
      assert.equal((await post(ports.http, `/idle/${id}/1`, Buffer.from([0]))).status, 404, 'closed id');
    });
  });

  it('RTMPT budgets: idle sessions expire (404), bodies over maxRequestBytes get 413, opens beyond maxSessions get 503', async () => {
    await whileHealthyPlay(async () => {
      const idle = (await post(ports.http, '/open/1', Buffer.from([0]))).body.toString().trim();
      await new Promise((r) => setTimeout(r, 2200));
      assert.equal((await post(ports.http, `/idle/${idle}/0`, Buffer.from([0]))).status, 404, 'expired after rtmpt.idleTimeoutMs');
      await logged((r) => r['code'] === ErrorCode.RtmptSessionExpired, 'session expired');

      const big = (await post(ports.http, '/open/1', Buffer.from([0]))).body.toString().trim();
      assert.equal((await post(ports.http, `/send/${big}/0`, Buffer.alloc(100 * 1024))).status, 413);
      assert.equal((await post(ports.http, `/idle/${big}/1`, Buffer.from([0]))).status, 404, 'the oversized session ended');

      // Three RTMPT sessions are the healthy players (rtmpt, rtmpte, rtmpts); fill up to 8.
      const held: string[] = [];
      let refused = 0;
      for (let i = 0; i < 8; i++) {
        const open = await post(ports.http, '/open/1', Buffer.from([0]));
        if (open.status === 503) refused++;
        else held.push(open.body.toString().trim());
      }
      assert.equal(held.length, 5, 'sessions up to rtmpt.maxSessions');
      assert.equal(refused, 3, 'the rest answered 503');
      await logged((r) => r.msg === 'RTMPT request refused' && String(r['reason']).includes('maxSessions'), 'maxSessions refusal');
      for (const id of held) await post(ports.http, `/close/${id}/0`, Buffer.from([0]));
      assert.equal((await post(ports.http, '/open/1', Buffer.from([0]))).status, 200, 'room again after closes');
    });
  });

  it('RTMPE: truncated handshakes, invalid DH keys and digest-less C1 close that connection only; over the rate budget: refused', async () => {
    await whileHealthyPlay(async () => {
      const truncated = net.connect(ports.rtmp, '127.0.0.1');
      truncated.write(Buffer.concat([Buffer.from([6]), randomBytes(700)]));
      assert.ok(await closedBy(truncated, 4000), 'truncated RTMPE handshake closed by the handshake timeout');

      for (const key of [Buffer.alloc(128), Buffer.alloc(128, 0xff)]) {
        const invalid = net.connect(ports.rtmp, '127.0.0.1');
        invalid.write(rtmpeC0C1(key));
        assert.ok(await closedBy(invalid, 3000), 'invalid DH key closed');
      }
      await logged((r) => r.msg === 'connection closed during handshake' && r['code'] === ErrorCode.RtmpeInvalid && String(r['err']).includes('DH public key'), 'invalid DH key');

      const noDigest = net.connect(ports.rtmp, '127.0.0.1');
      noDigest.write(Buffer.concat([Buffer.from([6]), randomBytes(HANDSHAKE_PACKET_BYTES)]));
      assert.ok(await closedBy(noDigest, 3000), 'C1 without digest closed');

      // RTMPTE: the same invalid key inside an RTMPT session ends that session.
      const id = (await post(ports.http, '/open/1', Buffer.from([0]))).body.toString().trim();
      await post(ports.http, `/send/${id}/0`, rtmpeC0C1(Buffer.alloc(128)));
      assert.equal((await post(ports.http, `/idle/${id}/1`, Buffer.from([0]))).status, 404);

      // Over rtmpe.maxHandshakesPerSec (20): a burst of 40 handshakes, some refused on their first byte.
      const burst = Array.from({ length: 40 }, () => {
        const socket = net.connect(ports.rtmp, '127.0.0.1');
        socket.write(Buffer.from([6]));
        return closedBy(socket, 3000);
      });
      await logged((r) => r['code'] === ErrorCode.RtmpeRefused, 'RTMPE rate refusal');
      await Promise.all(burst);
    });
  });

  it('after all of it, a new client connects on every transport', async () => {
    for (const scheme of SCHEMES) {
      const nc = new NetConnection({ ca: [tlsFiles.caPem] });
      const info = await nc.connect(uri(scheme, 'live'));
      assert.equal(info.code, 'NetConnection.Connect.Success', scheme);
      nc.close();
    }
  });
});

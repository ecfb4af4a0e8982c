import { strict as assert } from 'node:assert';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { countFrames, playWithFfprobe, publishTags, publishWithFfmpeg, testFlv } from '../helpers/media-tools.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { makeTlsFixtures } from '../helpers/tls-fixtures.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/apps');

describe('multipoint publishing: server-side NetConnection/NetStream as native relays', function () {
  this.timeout(90_000);

  describe('the shipped applications/livestreams app, unmodified', () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer(path.join(ROOT, 'applications'));
    });
    after(async () => ts?.close());

    it('publish to _definst_, play from anotherinstance; traces in order', async () => {
      const pub = publishWithFfmpeg(testFlv(20), ts.url('livestreams/show'));
      try {
        await ts.logs.waitFor((r) => r.msg === 'The stream is now publishing', 15_000);
        const play = await playWithFfprobe(ts.url('livestreams/anotherinstance/show'), 3);
        assert.ok(play.videoFrames >= 50, `anotherinstance played ${play.videoFrames} frames: ${play.stderr}`);
      } finally {
        await pub.stop();
      }
      await ts.logs.waitFor((r) => r.msg === 'show is unpublishing' && r.app === 'livestreams/_definst_');
      const traces = ts.logs.traces('livestreams/_definst_');
      assert.deepEqual(traces, [
        'show is publishing into application livestreams/_definst_',
        'Stream Status: NetStream.Publish.Start',
        'The stream is now publishing',
        'show is unpublishing',
      ]);
      // The relay is a client of anotherinstance, whose onPublish fires too (hence Adobe's guard).
      assert.ok(ts.logs.traces('livestreams/anotherinstance').includes('show is publishing into application livestreams/anotherinstance'));
    });
  });

  describe('three server processes: New York → Chicago + Los Angeles', () => {
    const servers: ServerProcess[] = [];
    after(async () => {
      await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    });

    it('both cities play the stream published in New York; a killed city resumes after restart', async () => {
      const sample = path.join(ROOT, 'samples/multipoint');
      // As run.sh does, with this run's own CA: Los Angeles serves RTMPS, New York trusts the CA.
      const tlsFiles = makeTlsFixtures();
      const laConfig = path.join(tlsFiles.dir, 'la.json');
      const nyConfig = path.join(tlsFiles.dir, 'ny.json');
      writeFileSync(laConfig, JSON.stringify({ rtmps: { host: '127.0.0.1', cert: tlsFiles.cert, key: tlsFiles.key } }));
      writeFileSync(nyConfig, JSON.stringify({ outbound: { caFiles: [tlsFiles.caFile] } }));
      const chicago = await startServerProcess(path.join(sample, 'chicago'));
      const losAngeles = await startServerProcess(path.join(sample, 'losangeles'), ['--config', laConfig, '--rtmps-port', '0']);
      servers.push(chicago, losAngeles);
      const laRtmpsPort = (await losAngeles.logs.waitFor((r) => r.msg === 'server listening'))['rtmpsPort'] as number;
      const nyApps = tempDir('ny');
      cpSync(path.join(sample, 'newyork'), nyApps, { recursive: true });
      const script = path.join(nyApps, 'livestreams/main.asc');
      const source = readFileSync(script, 'utf8');
      assert.ok(source.includes('rtmps://localhost:19443/livestreams'), 'the sample relays to Los Angeles over RTMPS');
      writeFileSync(script, source.replace('19352', String(chicago.rtmpPort)).replace('19443', String(laRtmpsPort)));
      const newYork = await startServerProcess(nyApps, ['--config', nyConfig]);
      servers.push(newYork);

      const pub = publishWithFfmpeg(testFlv(20), newYork.url('livestreams/show'), [], ['-stream_loop', '-1']);
      try {
        await newYork.logs.waitFor((r) => r.msg === `rtmps://localhost:${laRtmpsPort}/livestreams stream: NetStream.Publish.Start`, 20_000);
        assert.ok(losAngeles.logs.records.some((r) => r.msg === 'client accepted' && r['transport'] === 'rtmps'), 'the relay arrived in Los Angeles over RTMPS');
        await newYork.logs.waitFor((r) => String(r.msg).endsWith(`${chicago.rtmpPort}/livestreams stream: NetStream.Publish.Start`), 20_000);
        const [chi, la] = await Promise.all([
          playWithFfprobe(chicago.url('livestreams/show'), 3),
          playWithFfprobe(losAngeles.url('livestreams/show'), 3),
        ]);
        assert.ok(chi.videoFrames >= 50, `Chicago: ${chi.videoFrames} ${chi.stderr}`);
        assert.ok(la.videoFrames >= 50, `Los Angeles: ${la.videoFrames} ${la.stderr}`);

        // Kill Chicago mid-stream: New York's script hears Closed and keeps retrying; LA is unaffected.
        const chicagoPort = chicago.rtmpPort;
        await chicago.stop('SIGKILL');
        await newYork.logs.waitFor((r) => r.msg === `rtmp://127.0.0.1:${chicagoPort}/livestreams connection: NetConnection.Connect.Closed`, 10_000);
        assert.ok((await countFrames(losAngeles.url('livestreams'), 'show', 1500)) >= 20, 'Los Angeles keeps playing');
        const chicago2 = await startServerProcess(path.join(sample, 'chicago'), [], chicagoPort);
        servers.push(chicago2);
        await chicago2.logs.waitFor((r) => r.msg === 'publish started', 15_000);
        assert.ok((await countFrames(chicago2.url('livestreams'), 'show', 2000)) >= 20, 'Chicago plays again after restart');
      } finally {
        await pub.stop();
      }
    });
  });

  describe('failure isolation (in-process servers)', () => {
    let origin: TestServer;
    let dest: TestServer;
    let dest2: TestServer;
    before(async () => {
      const apps = tempDir('origin');
      cpSync(path.join(FIXTURES, 'relayer'), path.join(apps, 'relayer'), { recursive: true });
      origin = await startTestServer(apps);
      const plain = tempDir('dest');
      cpSync(path.join(FIXTURES, 'plain'), path.join(plain, 'live'), { recursive: true });
      dest = await startTestServer(plain);
      dest2 = await startTestServer(plain);
    });
    after(async () => {
      await Promise.all([origin?.close(), dest?.close(), dest2?.close()]);
    });

    it('remote down at connect: Connect.Failed reaches the script; local publish and viewers unaffected', async () => {
      const deadUri = 'rtmp://127.0.0.1:1/live';
      const pub = publishWithFfmpeg(testFlv(20), origin.url(`relayer/down?to=${encodeURIComponent(deadUri)}`));
      try {
        await origin.logs.waitFor((r) => r.msg === `nc ${deadUri} NetConnection.Connect.Failed` || String(r.msg).startsWith(`nc ${deadUri} NetConnection.Connect.Failed`), 15_000);
        const local = await playWithFfprobe(origin.url('relayer/down'), 2);
        assert.ok(local.videoFrames >= 30, `local viewer: ${local.videoFrames}`);
      } finally {
        await pub.stop();
      }
    });

    it('a destination that stops reading never stalls the source or the other destination; memory bounded', async () => {
      const slowUri = dest.url('live');
      const okUri = dest2.url('live');
      const pubNc = new NetConnection();
      await pubNc.connect(origin.url('relayer'));
      const ns = await pubNc.createStream();
      await ns.publish(`big?to=${encodeURIComponent(`${slowUri}|${okUri}`)}`);
      await dest.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'big');
      await dest2.logs.waitFor((r) => r.msg === 'publish started' && r['stream'] === 'big');
      // The slow destination stops reading the relay's socket.
      for (const instance of dest.server.instances.instances) for (const s of instance.sessions) s.connection.socket.pause();
      const okViewer = countFrames(okUri, 'big', 6000);
      const localViewer = countFrames(origin.url('relayer'), 'big', 6000);
      await publishTags(ns, testFlv(20, 4000), { realtime: true, speed: 4 }); // 16 Mbit/s
      const [okFrames, localFrames] = await Promise.all([okViewer, localViewer]);
      assert.ok(okFrames >= 200, `healthy destination viewer got ${okFrames}`);
      assert.ok(localFrames >= 200, `local viewer got ${localFrames}`);
      const relays = origin.server.instances.instances.flatMap((i) => i.relays());
      const slow = relays.find((r) => r.destination.includes(String(dest.rtmpPort)))!;
      const ok = relays.find((r) => r.destination.includes(String(dest2.rtmpPort)))!;
      assert.ok(slow.droppedPackets > 0, `slow relay dropped ${slow.droppedPackets}`);
      assert.equal(ok.droppedPackets, 0);
      assert.equal(ok.state, 'publishing');
      pubNc.close();
    });
  });
});

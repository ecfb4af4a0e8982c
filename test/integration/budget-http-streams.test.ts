import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { NetStream } from '../../runtime/client/net-stream.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { assertHealthy, HealthyClients } from '../helpers/healthy-clients.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { appsFolder } from '../helpers/test-server.ts';

const MB = 1024 * 1024;
/** Calls of LINES traces of 2 KB: 15,000 records, 31 MB per subscriber, each call a burst below the SSE budget. */
const FLOODS = 50;
const LINES = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server process (its RSS is the server's alone) with `apps` folders and a config file of `overrides`. */
async function serverWith(apps: Record<string, string | null>, overrides: object): Promise<ServerProcess> {
  const dir = appsFolder(apps);
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify(overrides));
  return startServerProcess(dir, ['--config', config, '--log-level', 'info']);
}

/** An HTTP request on a raw socket that is never read after the request went out. */
function stalledHttp(port: number, target: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** SSE events of a reader that does read. */
function readSse(port: number, target: string): { events: { event: string; data: string }[]; close(): void } {
  const events: { event: string; data: string }[] = [];
  const request = http.get({ host: '127.0.0.1', port, path: target }, (response) => {
    let buffer = '';
    response.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n\n');
      buffer = parts.pop()!;
      for (const part of parts) {
        const event = /^event: (.*)$/m.exec(part)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(part)?.[1];
        if (data !== undefined) events.push({ event, data });
      }
    });
  });
  request.on('error', () => undefined);
  return { events, close: () => request.destroy() };
}

describe('budget: back-pressure on every HTTP stream (finding 5)', function () {
  this.timeout(120_000);

  describe('live-log subscribers that stop reading (SSE)', () => {
    let ts: ServerProcess;
    before(async () => {
      // 2 KB lines: a busy log. The budget (1 MB) is above one flood call's burst (300 records of 2 KB
      // written at once), far below what 50 of them make.
      const chatty = 'var line = new Array(2049).join("x");\nClient.prototype.flood = function (n) { for (var i = 0; i < n; i++) trace(i + " " + line); trace("flood done"); return n; };\n';
      ts = await serverWith({ live: null, chatty }, { http: { liveLogMaxBufferedBytes: 1 * MB } });
    });
    after(async () => ts?.stop());

    it('10 stalled subscribers hold at most the budget each (RSS bounded), get a `dropped` event once they read; a reading one misses nothing', async () => {
      const port = ts.httpPort;
      const healthy = await HealthyClients.start(ts.url('live/health'));
      const reader = readSse(port, '/api/log/stream?app=chatty&limit=1');
      const nc = new NetConnection();
      await nc.connect(ts.url('chatty'));
      const stalled: net.Socket[] = [];
      /** FLOODS calls of LINES traces; resolves when the reader has them all. */
      const flood = async () => {
        const done = reader.events.filter((e) => e.data.includes('flood done')).length + FLOODS;
        for (let i = 0; i < FLOODS; i++) await nc.call('flood', LINES);
        for (let waited = 0; waited < 30_000 && reader.events.filter((e) => e.data.includes('flood done')).length < done; waited += 100) await sleep(100);
      };
      try {
        // Once with the reader alone, so the heap has grown to what the churn of this log needs.
        await flood();
        const rssBefore = ts.rss();
        stalled.push(...(await Promise.all(Array.from({ length: 10 }, () => stalledHttp(port, '/api/log/stream?app=chatty&limit=1')))));
        await sleep(300);
        healthy.mark();
        await flood();
        const grownMb = (ts.rss() - rssBefore) / MB;
        assertHealthy(await healthy.report(), 1500, 'a busy log with 10 stalled subscribers');
        const traced = reader.events.filter((e) => e.event === 'message' && JSON.parse(e.data).trace === true);
        assert.equal(traced.length, 2 * FLOODS * (LINES + 1), 'the reading subscriber got every record');
        assert.ok(!reader.events.some((e) => e.event === 'dropped'));
        // Without the budget each stalled subscriber held what the kernel did not take (~25 MB each); with it, 1 MB.
        assert.ok(grownMb < 100, `RSS grew ${grownMb.toFixed(0)} MB with 10 stalled subscribers`);
        // Asked of the live log: this test reads the server's stdout more slowly than 60 MB of traces fill it.
        const warned = (await fetch(`http://127.0.0.1:${port}/api/log?level=warn&q=live-log%20subscriber`).then((r) => r.json())) as { records: Record<string, unknown>[] };
        assert.equal(warned.records.filter((r) => r['budget'] === 'http.liveLogMaxBufferedBytes').length, 1, 'one rate-limited line');
        // A stalled subscriber that reads again: what fit in the budget, then `dropped` with a count.
        const woken = stalled[0]!;
        let text = '';
        woken.on('data', (chunk: Buffer) => (text += chunk.toString()));
        woken.resume();
        for (let waited = 0; waited < 10_000 && !/event: dropped\ndata: \{"dropped":\d+\}/.test(text); waited += 100) await sleep(100);
        const dropped = Number(/event: dropped\ndata: \{"dropped":(\d+)\}/.exec(text)?.[1] ?? 0);
        assert.ok(dropped > 1000, `dropped ${dropped} records`);
      } finally {
        healthy.stop();
        nc.close();
        reader.close();
        for (const socket of stalled) socket.destroy();
      }
    });
  });

  describe('HTTP-FLV and WS-FLV players that stop reading', () => {
    let ts: ServerProcess;
    let publisher: NetConnection;
    let stream: NetStream;
    let timer: NodeJS.Timeout | undefined;
    before(async () => {
      ts = await serverWith({ live: null }, { media: { playerMaxBufferedBytes: 256 * 1024 }, http: { playerMaxOutputBytes: 2 * MB } });
      publisher = new NetConnection();
      await publisher.connect(ts.url('live'));
      stream = await publisher.createStream();
      await stream.publish('heavy');
      // Media the queue may drop, and data messages it must never drop (what used to pile up).
      let timestamp = 0;
      stream.sendMedia(MessageType.Video, 0, Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f]));
      timer = setInterval(() => {
        stream.sendMedia(MessageType.Video, timestamp, Buffer.concat([Buffer.from([timestamp % 1000 === 0 ? 0x17 : 0x27, 1, 0, 0, 0]), Buffer.alloc(20_000)]));
        stream.send('onTextData', { text: 'd'.repeat(40_000), at: timestamp });
        timestamp += 10;
      }, 10);
    });
    after(async () => {
      clearInterval(timer);
      publisher?.close();
      await ts?.stop();
    });

    it('are cut off past http.playerMaxOutputBytes; readers and RTMP clients are unaffected, RSS bounded', async () => {
      const port = ts.httpPort;
      const healthy = await HealthyClients.start(ts.url('live/health'));
      const rssBefore = ts.rss();
      let readBytes = 0;
      const reader = http.get({ host: '127.0.0.1', port, path: '/live/heavy.flv' }, (response) => response.on('data', (chunk: Buffer) => (readBytes += chunk.length)));
      reader.on('error', () => undefined);
      const stalledHttpPlayers = await Promise.all(Array.from({ length: 3 }, () => stalledHttp(port, '/live/heavy.flv')));
      const stalledWs = Array.from({ length: 3 }, () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/live/heavy.flv`);
        ws.on('open', () => (ws as unknown as { _socket: net.Socket })._socket.pause());
        ws.on('error', () => undefined);
        return ws;
      });
      try {
        const cut = (transport: string) => ts.logs.records.filter((r) => r.msg === `${transport} play ended` && r['reason'] === 'player too slow').length;
        for (let waited = 0; waited < 30_000 && (cut('http-flv') < 3 || cut('ws-flv') < 3); waited += 200) await sleep(200);
        assert.equal(cut('http-flv'), 3, 'each stalled HTTP-FLV player is cut off');
        assert.equal(cut('ws-flv'), 3, 'each stalled WS-FLV player is cut off');
        assert.ok(ts.logs.records.some((r) => r['budget'] === 'http.playerMaxOutputBytes'), 'one rate-limited line');
        const before = readBytes;
        await sleep(1000);
        assert.ok(readBytes - before > 1 * MB, `the reading HTTP-FLV player still gets the stream (${readBytes - before} bytes/s)`);
        assertHealthy(await healthy.report(), 1000, 'stalled FLV players');
        const grownMb = (ts.rss() - rssBefore) / MB;
        assert.ok(grownMb < 100, `RSS grew ${grownMb.toFixed(0)} MB`);
      } finally {
        healthy.stop();
        reader.destroy();
        for (const socket of stalledHttpPlayers) socket.destroy();
        for (const ws of stalledWs) ws.terminate();
      }
    });
  });
});

/**
 * LL-HLS figures (no assertions; medians of BENCH_RUNS runs, default 3):
 *   1. server-side latency: a frame sent by the publisher → the blocking playlist reload that lists
 *      the part holding it is answered (p50/p99; goal: p99 ≤ part duration + 50 ms);
 *   2. glass-to-glass: hls.js in headless Chromium, the displayed frame's number read from its
 *      pixels (bench/lib/frame-counter-flv.ts) → now minus when the publisher sent that frame;
 *   3. CPU and memory per packaged stream: BENCH_HLS_STREAMS (10) streams at 2.5 Mbit/s, ours with
 *      packaging "always" vs HLS off, and nginx-rtmp `hls on` vs `hls off`, in the same invocation.
 *
 *   npm run bench:hls
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { testFlv } from '../test/helpers/media-tools.ts';
import { parseMediaPlaylist } from '../test/helpers/hls.ts';
import { nginxRtmpAvailable } from '../test/helpers/nginx-rtmp.ts';
import { frameCounterFlv, BOX_PX, COUNTER_BITS } from './lib/frame-counter-flv.ts';
import { videoSampleTimesMs } from './lib/fmp4-samples.ts';
import { startNginxHls, startOursHls, type HlsServer } from './lib/hls-servers.ts';
import { PacedPublisher } from './lib/paced-publisher.ts';
import { fmt, spread, type Spread } from './lib/percentiles.ts';
import { CpuWindow, MachineCpuWindow, median, memory } from './lib/proc-stats.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const STREAMS = Number(process.env['BENCH_HLS_STREAMS'] ?? 10);
const MEASURE_MS = Number(process.env['BENCH_HLS_SECONDS'] ?? 15) * 1000;
const CHROMIUM = '/usr/bin/chromium';
const HLS_JS = path.join(path.dirname(createRequire(import.meta.url).resolve('hls.js/package.json')), 'dist', 'hls.min.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** BENCH_HLS_PHASES=latency,g2g,cpu (default all) runs only some of the three. */
const PHASES = new Set((process.env['BENCH_HLS_PHASES'] ?? 'latency,g2g,cpu').split(','));

/** 1. Frame sent → blocking reload listing its part answered. */
async function serverLatency(): Promise<Spread> {
  const server = await startOursHls('on-request');
  const publisher = new PacedPublisher(testFlv(20));
  const sentAt = new Map<number, number>();
  publisher.onSent = (type, ts, at) => type === 9 && sentAt.set(ts, at);
  try {
    await publisher.start(server.rtmpUrl, 'lat');
    const base = `http://127.0.0.1:${server.httpPort}/live/lat`;
    let p = parseMediaPlaylist(await (await fetch(`${base}/index.m3u8`)).text());
    const seen = new Set([...p.segments.flatMap((s) => s.parts), ...p.openParts].map((x) => x.uri));
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const until = Date.now() + MEASURE_MS;
    while (Date.now() < until) {
      const msn = p.mediaSequence + p.segments.length;
      const res = await fetch(`${base}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${p.openParts.length}`);
      const answeredAt = Date.now();
      p = parseMediaPlaylist(await res.text());
      for (const part of [...p.segments.flatMap((s) => s.parts), ...p.openParts]) {
        if (seen.has(part.uri)) continue;
        seen.add(part.uri);
        // Fetched beside the next blocking reload, which goes out at once.
        pending.push(fetch(`${base}/${part.uri}`).then(async (r) => {
          for (const dts of videoSampleTimesMs(Buffer.from(await r.arrayBuffer()))) {
            const sent = sentAt.get(dts);
            if (sent !== undefined) latencies.push(answeredAt - sent);
          }
        }));
      }
    }
    await Promise.all(pending);
    return spread(latencies);
  } finally {
    await publisher.stop();
    await server.stop();
  }
}

/** 2. Glass-to-glass through hls.js in Chromium, on the frame numbers drawn into the picture. */
async function glassToGlass(): Promise<{ g2g: Spread; hlsLatency: number; frames: number }> {
  const server = await startOursHls('on-request');
  const publisher = new PacedPublisher(frameCounterFlv(80));
  const sentByFrame: number[] = [];
  publisher.onSent = (type, _ts, at) => type === 9 && sentByFrame.push(at);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'] });
  try {
    await publisher.start(server.rtmpUrl, 'g2g');
    const page = await browser.newPage();
    await page.setContent('<video id="v" muted playsinline width="640" height="360"></video>');
    await page.addScriptTag({ path: HLS_JS });
    const url = `http://127.0.0.1:${server.httpPort}/live/g2g/index.m3u8`;
    // Page side (a string: this project compiles without the DOM types): hls.js low-latency mode;
    // each presented frame is drawn to a canvas and its counter boxes read.
    await page.evaluate(`(() => {
      const video = document.getElementById('v');
      const canvas = document.createElement('canvas');
      canvas.width = 640; canvas.height = 360;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      window.frames_ = []; window.latency_ = [];
      // As the console's player: low-latency mode, and catching up (up to 1.5× speed) after a stall.
      const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 });
      hls.loadSource(${JSON.stringify(url)});
      hls.attachMedia(video);
      video.play();
      setInterval(() => Number.isFinite(hls.latency) && window.latency_.push(hls.latency), 500);
      const onFrame = (_now, meta) => {
        ctx.drawImage(video, 0, 0, 640, 360);
        const row = ctx.getImageData(0, 0, ${COUNTER_BITS * BOX_PX}, ${BOX_PX}).data;
        let n = 0;
        for (let bit = 0; bit < ${COUNTER_BITS}; bit++) {
          const i = ((${BOX_PX / 2}) * ${COUNTER_BITS * BOX_PX} + bit * ${BOX_PX} + ${BOX_PX / 2}) * 4;
          if (row[i] + row[i + 1] + row[i + 2] > 3 * 128) n |= 1 << bit;
        }
        window.frames_.push([n, performance.timeOrigin + meta.expectedDisplayTime]);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    })()`);
    await sleep(8000); // hls.js settles at its live edge
    await page.evaluate('window.frames_ = []; window.latency_ = []');
    await sleep(MEASURE_MS);
    const frames = (await page.evaluate('window.frames_')) as [number, number][];
    const hlsLatency = median((await page.evaluate('window.latency_')) as number[]);
    const firstSeen = new Map<number, number>();
    for (const [n, at] of frames) if (!firstSeen.has(n)) firstSeen.set(n, at);
    const g2g = [...firstSeen].filter(([n]) => sentByFrame[n] !== undefined).map(([n, at]) => at - sentByFrame[n]!);
    return { g2g: spread(g2g), hlsLatency: hlsLatency * 1000, frames: firstSeen.size };
  } finally {
    await browser.close();
    await publisher.stop();
    await server.stop();
  }
}

interface CpuFigures {
  cores: number;
  rssBytes: number;
  /** Ours only: bytes held in HLS windows (from /api/server). */
  windowBytes: number;
}

/** 3. N publishers into one server, CPU (fraction of a core) and RSS of the server process. */
async function cpuRun(start: () => Promise<HlsServer>): Promise<CpuFigures> {
  const server = await start();
  const publishers = Array.from({ length: STREAMS }, () => new PacedPublisher(testFlv(20, 2500)));
  try {
    for (const [i, p] of publishers.entries()) await p.start(server.rtmpUrl, `s${i}`);
    await sleep(6000); // windows fill, JIT warms up
    const cpu = new CpuWindow(server.pid);
    await sleep(MEASURE_MS);
    const { cores } = cpu.end();
    let windowBytes = 0;
    if (server.httpPort) windowBytes = ((await (await fetch(`http://127.0.0.1:${server.httpPort}/api/server`)).json()) as { hls: { bytesInMemory: number } }).hls.bytesInMemory;
    return { cores, rssBytes: memory(server.pid).rss, windowBytes };
  } finally {
    for (const p of publishers) await p.stop();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const machine = new MachineCpuWindow();
  console.log(`LL-HLS bench: ${RUNS} runs, ${MEASURE_MS / 1000} s measured each; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  testFlv(20, 2500);
  frameCounterFlv(80);

  const lat: Spread[] = [];
  for (let i = 0; i < RUNS && PHASES.has('latency'); i++) {
    lat.push(await serverLatency());
    console.log(`  server latency run ${i + 1}: p50 ${fmt(lat.at(-1)!.p50, 0)} ms, p99 ${fmt(lat.at(-1)!.p99, 0)} ms (${lat.at(-1)!.count} frames)`);
  }
  const g2g: Awaited<ReturnType<typeof glassToGlass>>[] = [];
  if (existsSync(CHROMIUM)) {
    for (let i = 0; i < RUNS && PHASES.has('g2g'); i++) {
      g2g.push(await glassToGlass());
      const r = g2g.at(-1)!;
      console.log(`  glass-to-glass run ${i + 1}: p50 ${fmt(r.g2g.p50, 0)} ms, p99 ${fmt(r.g2g.p99, 0)} ms over ${r.frames} frames; hls.js latency ${fmt(r.hlsLatency, 0)} ms`);
    }
  } else console.log(`  glass-to-glass: skipped (${CHROMIUM} not installed)`);

  const configs: [string, () => Promise<HlsServer>][] = [
    ['ours, HLS always', () => startOursHls('always')],
    ['ours, HLS off', () => startOursHls('off')],
  ];
  if (nginxRtmpAvailable()) configs.push(['nginx-rtmp, hls on', () => startNginxHls(true)], ['nginx-rtmp, hls off', () => startNginxHls(false)]);
  const cpu = new Map<string, CpuFigures[]>();
  for (let i = 0; i < RUNS && PHASES.has('cpu'); i++) {
    for (const [label, start] of configs) {
      const r = await cpuRun(start);
      cpu.set(label, [...(cpu.get(label) ?? []), r]);
      console.log(`  ${label} run ${i + 1}: ${fmt(r.cores * 100, 1)} % of a core, RSS ${fmt(r.rssBytes / 2 ** 20, 1)} MiB`);
    }
  }

  const m = (label: string, pick: (f: CpuFigures) => number) => median((cpu.get(label) ?? []).map(pick));
  const perStream = (label: string) => (m(label, (f) => f.cores) * 1000) / STREAMS; // ms of CPU per second per stream
  const oursHls = perStream('ours, HLS always');
  const oursOff = perStream('ours, HLS off');
  const ngxHls = perStream('nginx-rtmp, hls on');
  const ngxOff = perStream('nginx-rtmp, hls off');
  const medLat = { p50: median(lat.map((l) => l.p50)), p99: median(lat.map((l) => l.p99)) };
  console.log('\nmedians of the runs');
  console.log(`  frame in → part available (server-side): p50 ${fmt(medLat.p50, 0)} ms, p99 ${fmt(medLat.p99, 0)} ms   goal p99 ≤ 334 + 50 ms`);
  if (g2g.length) {
    console.log(`  glass-to-glass, hls.js in Chromium:      p50 ${fmt(median(g2g.map((r) => r.g2g.p50)), 0)} ms, p99 ${fmt(median(g2g.map((r) => r.g2g.p99)), 0)} ms (hls.js's own latency ${fmt(median(g2g.map((r) => r.hlsLatency)), 0)} ms)   goal ≤ 1500 ms`);
  }
  console.log(`  CPU per stream (ms of CPU per s), ${STREAMS} streams at 2.5 Mbit/s:`);
  console.log(`    ours: ${fmt(oursHls)} with HLS, ${fmt(oursOff)} without → packaging ${fmt(oursHls - oursOff)}`);
  if (nginxRtmpAvailable()) {
    console.log(`    nginx-rtmp: ${fmt(ngxHls)} with hls on, ${fmt(ngxOff)} without → packaging ${fmt(ngxHls - ngxOff)}`);
    console.log(`    ratio ours/nginx-rtmp: total ${fmt(oursHls / ngxHls)}×, packaging alone ${fmt((oursHls - oursOff) / (ngxHls - ngxOff))}×   goal ≤ 1.5×`);
  }
  const rssPer = (m('ours, HLS always', (f) => f.rssBytes) - m('ours, HLS off', (f) => f.rssBytes)) / STREAMS;
  console.log(`  memory per packaged stream: RSS +${fmt(rssPer / 2 ** 20, 1)} MiB, HLS windows ${fmt(m('ours, HLS always', (f) => f.windowBytes) / STREAMS / 2 ** 20, 1)} MiB (6 listed + 6 retained 2 s segments)`);
  console.log(`  machine: ${fmt(machine.end(), 2)} cores busy on average during the bench (all processes); load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

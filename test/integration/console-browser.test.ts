import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { publishWithFfmpeg, testFlv, type Publisher } from '../helpers/media-tools.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

/*
 * The admin console in a real browser: Debian's chromium, headless, driven by playwright-core over
 * CDP (no browser download: CI installs the chromium package). Debian's build decodes H.264/AAC in
 * MSE (MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001e,mp4a.40.2"') is true), which is
 * what testFlv() publishes (x264 High profile + AAC LC), so mpegts.js plays it as the real page would.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const haveChromium = existsSync(CHROMIUM);

/*
 * The page-side functions below are serialised and run in the browser. This project compiles
 * without the DOM lib, so the few browser globals they use are declared here, module-local
 * (strings instead of functions would need 'unsafe-eval', which the console's CSP rightly refuses).
 */
interface PageElement {
  textContent: string | null;
  currentTime: number;
  videoWidth: number;
  videoHeight: number;
  paused: boolean;
}
declare const document: { getElementById(id: string): PageElement | null; querySelectorAll(selector: string): { length: number } };
declare const sessionStorage: { clear(): void };
type HTMLVideoElement = PageElement;
const title = haveChromium ? 'admin console in headless chromium' : `admin console in headless chromium — SKIPPED: ${CHROMIUM} is not installed (apt-get install chromium)`;

describe(title, function () {
  this.timeout(60_000);
  let ts: TestServer;
  let browser: Browser | null = null;
  let page: Page;
  let pub: Publisher | null = null;
  const nc = new NetConnection({ flashVer: `browser-test-${process.pid}-${Date.now()}` });
  const pageErrors: string[] = [];

  before(async function () {
    if (!haveChromium) {
      console.warn(`    skipping: ${CHROMIUM} is not installed`);
      this.skip();
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    ts = await startTestServer(path.join(ROOT, 'test/fixtures/apps'), { reload: { watch: false } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
    await page.goto(`http://127.0.0.1:${ts.server.httpPort}/console`);
    await page.waitForFunction(() => document.getElementById('log-state')?.textContent === 'live', undefined, { timeout: 10_000 });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && browser) await page.screenshot({ path: path.join(ARTIFACTS, 'console-failure.png') }).catch(() => undefined);
  });

  after(async () => {
    // Each step guarded: a failure in one must not leave chromium or ffmpeg running.
    await browser?.close().catch(() => undefined);
    nc.close();
    await pub?.stop();
    await ts?.close();
  });

  it('the live log pane shows a script trace within 1 s of the connect that produced it', async () => {
    const expected = `onConnect accept agent=${nc.options.flashVer}`;
    const started = Date.now();
    await nc.connect(ts.url('scripted'), 'accept');
    await page.waitForFunction((text) => document.getElementById('log')!.textContent!.includes(text), expected, { timeout: 1000, polling: 'raf' });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1000, `trace shown after ${elapsed} ms`);
    // The polled tables pick up the client with its agent within a poll period (2 s).
    await page.waitForSelector(`[data-testid="clients"] td:text("${nc.options.flashVer}")`, { timeout: 5000 });
    // Its transport is shown, and the summary counts connections per transport.
    assert.equal(await page.locator(`[data-testid="clients"] tr:has(td:text("${nc.options.flashVer}")) td:nth-child(4)`).textContent(), 'rtmp');
    assert.match((await page.locator('#server-summary').textContent()) ?? '', /connections \(rtmp \d+\)/);
  });

  it('Play on an ffmpeg-published stream plays it over WS-FLV: video.currentTime advances', async () => {
    pub = publishWithFfmpeg(testFlv(30), ts.url('scripted/cam'));
    await ts.logs.waitFor((r) => r.msg === 'publish started' && r.stream === 'cam', 15_000);
    const row = page.locator('[data-stream="scripted/_definst_/cam"]');
    await row.locator('[data-testid="play"]').click({ timeout: 5000 });
    await ts.logs.waitFor((r) => r.msg === 'ws-flv play started' && r.stream === 'cam', 5000);
    await page.waitForFunction(() => (document.getElementById('player') as HTMLVideoElement).currentTime > 1.0, undefined, { timeout: 10_000 });
    const first = await page.evaluate(() => (document.getElementById('player') as HTMLVideoElement).currentTime);
    await new Promise((r) => setTimeout(r, 1000));
    const video = await page.evaluate(() => {
      const v = document.getElementById('player') as HTMLVideoElement;
      return { currentTime: v.currentTime, width: v.videoWidth, height: v.videoHeight, paused: v.paused };
    });
    assert.ok(video.currentTime > first + 0.5, `currentTime ${first} -> ${video.currentTime}`);
    assert.deepEqual([video.width, video.height, video.paused], [640, 360, false]);
    await row.locator('td:text("H.264 + AAC")').waitFor({ timeout: 5000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'console.png'), fullPage: true });
  });

  it('the same player works over HTTP-FLV', async () => {
    await page.selectOption('[data-testid="player-transport"]', 'http');
    await page.locator('[data-stream="scripted/_definst_/cam"] [data-testid="play"]').click();
    await ts.logs.waitFor((r) => r.msg === 'http-flv play started' && r.stream === 'cam', 5000);
    await page.waitForFunction(() => (document.getElementById('player') as HTMLVideoElement).currentTime > 1.0, undefined, { timeout: 10_000 });
    // The WS-FLV player of the previous test was destroyed when this one started.
    await ts.logs.waitFor((r) => r.msg === 'ws-flv play ended' && r.stream === 'cam', 5000);
  });

  it('the player plays LL-HLS through hls.js: currentTime advances, hls.js reports the latency to the live edge', async () => {
    const row = page.locator('[data-stream="scripted/_definst_/cam"]');
    assert.equal(await row.locator('[data-testid="hls-url"]').textContent(), `http://127.0.0.1:${ts.server.httpPort}/scripted/_definst_/cam/index.m3u8`);
    await page.selectOption('[data-testid="player-transport"]', 'hls');
    await row.locator('[data-testid="play"]').click();
    await ts.logs.waitFor((r) => r.msg === 'hls packaging started' && r.stream === 'cam', 5000);
    const start = await page.waitForFunction(() => {
      const v = document.getElementById('player') as HTMLVideoElement;
      return v.currentTime > 0.5 ? v.currentTime : 0;
    }, undefined, { timeout: 15_000 });
    const first = (await start.jsonValue()) as number;
    await new Promise((r) => setTimeout(r, 1500));
    const now = await page.evaluate(() => (document.getElementById('player') as HTMLVideoElement).currentTime);
    assert.ok(now > first + 1, `currentTime ${first} -> ${now}`);
    const latency = await page.waitForFunction(() => /latency ([\d.]+) s/.exec(document.getElementById('player-latency')!.textContent ?? '')?.[1], undefined, { timeout: 5000 });
    const seconds = Number(await latency.jsonValue());
    // PART-HOLD-BACK is 1.0 s; hls.js keeps about that far behind the newest part.
    assert.ok(seconds > 0 && seconds < 4, `hls.js latency ${seconds} s`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-hls.png'), fullPage: true });
  });

  it('Reload on the instance reloads it, and the log pane shows it', async () => {
    await page.locator('[data-instance="scripted/_definst_"] [data-testid="reload"]').click();
    await page.waitForFunction(() => document.getElementById('log')!.textContent!.includes('instance reloaded'), undefined, { timeout: 5000 });
    // The log line is written at the swap; the HTTP answer follows once the replayed events ran.
    await page.waitForFunction(() => document.getElementById('status')!.textContent!.includes('"reloaded"'), undefined, { timeout: 5000 });
    const status = await page.textContent('[data-testid="status"]');
    assert.match(status ?? '', /reload scripted\/_definst_: .*"reloaded":\["scripted\/_definst_"\]/);
  });

  it('the log filters narrow the pane to matching records (app, level, text)', async () => {
    await page.fill('[data-testid="log-app"]', 'scripted');
    await page.fill('[data-testid="log-instance"]', '_definst_');
    await page.fill('[data-testid="log-text"]', 'onConnect');
    await page.selectOption('[data-testid="log-level"]', 'info'); // applies the filters
    await page.waitForFunction(() => document.querySelectorAll('#log li').length >= 2 && document.getElementById('log-state')!.textContent === 'live', undefined, { timeout: 5000 });
    const lines = await page.locator('#log li').allTextContents();
    assert.ok(lines.length >= 2, lines.join('\n'));
    for (const line of lines) assert.match(line, /\[scripted\/_definst_\] onConnect /);
    assert.ok(!lines.some((l) => l.includes('instance reloaded')));
  });

  it('with http.adminToken set, /console#token=… shows the data (token sent as a header, dropped from the URL)', async () => {
    const token = 'browser-t0ken';
    const guarded = await startTestServer(path.join(ROOT, 'test/fixtures/apps'), { reload: { watch: false }, http: { adminToken: token } });
    const tokenPage = await browser!.newPage();
    try {
      await tokenPage.goto(`http://127.0.0.1:${guarded.server.httpPort}/console#token=${token}`);
      await tokenPage.waitForFunction(() => document.getElementById('log-state')?.textContent === 'live', undefined, { timeout: 5000 });
      await tokenPage.waitForSelector('[data-testid="apps"] td:text("scripted")', { timeout: 5000 });
      assert.equal(new URL(tokenPage.url()).hash, '', 'the token left the address bar');
      assert.equal(await tokenPage.isHidden('[data-testid="token-form"]'), true);
      // Without the token the same page asks for it.
      await tokenPage.evaluate(() => sessionStorage.clear());
      await tokenPage.goto(`http://127.0.0.1:${guarded.server.httpPort}/console`);
      await tokenPage.waitForSelector('[data-testid="token-form"]', { state: 'visible', timeout: 5000 });
    } finally {
      await tokenPage.close();
      await guarded.close();
    }
  });

  it('the page ran without script errors or CSP violations', () => {
    // The HTTP-FLV player ends when the reload drops the publisher; mpegts.js may log that as its own error.
    const unexpected = pageErrors.filter((e) => !/^console: \[[A-Za-z]+\] > /.test(e)); // mpegts.js's "[Tag] > message" lines
    assert.deepEqual(unexpected, []);
  });
});

import type http from 'node:http';
import { ErrorCode } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import type { LiveStream } from '../live-stream.ts';
import { BlockedRequests, type HeldGroup } from './blocked-requests.ts';
import type { HlsSettings } from './hls-settings.ts';
import { parseDeliveryDirectives, parseHlsPath, type HlsObject, type HlsRoute } from './hls-request.ts';
import { answerError, answerObject, answerPreflight, CORS_HEADERS, IMMUTABLE } from './http-answers.ts';
import { LivePackager } from './live-packager.ts';
import { renderPlaylist } from './playlist.ts';
import type { VodHls } from './vod-hls.ts';

/*
 * HLS / LL-HLS routes on the server's HTTP port:
 *   /<app>/<instance>/<stream>/index.m3u8     live media playlist (/<app>/<stream>/… for _definst_)
 *   …/<epoch>-init-<n>.mp4  …/<epoch>-<msn>.m4s  …/<epoch>-p<id>.m4s     init, segments, parts
 *   …/vod.m3u8, …/vod-<version>-init.mp4, …/vod-<version>-<n>.m4s         a recording as VOD (vod-hls.ts)
 *
 * A stream is packaged from the first playlist request (or its publish, with packaging "always", or a
 * script's Stream.get("f4f:"+name).record()) until nobody asked for it for `hls.idleTimeoutMs`; it
 * costs nothing before that. When its publisher stops and does not come back within
 * `hls.republishGraceMs`, the playlist ends (EXT-X-ENDLIST) and stays readable as long again.
 */

/** A live stream of an application instance, found for HLS, with that application's settings. */
export interface HlsSource {
  stream: LiveStream;
  settings: HlsSettings;
  /** Tells the stream's registry the packager left (it may forget an idle stream). */
  release(): void;
}

export type HlsLookup = (app: string, instance: string, stream: string) => HlsSource | null;

/** The egress's budgets and timers (config keys `hls.*`; README "Budgets"). */
export interface HlsBudgets {
  /** Streams packaged at once; one more is refused (503). */
  maxPackagedStreams: number;
  /** Bytes of one stream's window; beyond it the oldest segments go early. */
  maxBytesPerStream: number;
  /** Blocked requests (blocking reloads, hinted parts) one client address may hold (429 beyond). */
  maxBlockedPerClient: number;
  /** Blocked requests of all clients (503 beyond). */
  maxBlockedTotal: number;
  /** Longest a request is held (never more than three target durations); then 503. */
  blockTimeoutMs: number;
  /** Longest request target (path and query) an HLS route reads (414 beyond). */
  maxTargetBytes: number;
  /** An on-request packaging stops this long after the last request for its stream. */
  idleTimeoutMs: number;
  /** A publisher that comes back within this time continues the playlist (discontinuity); later, the playlist ends. */
  republishGraceMs: number;
}

export interface HlsEgressOptions {
  lookup: HlsLookup;
  budgets: HlsBudgets;
  vod: VodHls;
  log: Logger;
}

interface Entry {
  key: string;
  route: HlsRoute;
  app: string;
  packager: LivePackager;
  source: HlsSource;
  waiting: HeldGroup;
  lastRequestAt: number;
  pins: number;
  /** When the publisher left (null while it publishes). */
  unpublishedAt: number | null;
  endedAt: number | null;
  skipped: Set<string>;
  /** The playlist as last rendered: every reader of one window version gets the same bytes. */
  rendered: { version: number; body: Buffer } | null;
}

export interface HlsEgressStats {
  packagedStreams: number;
  blockedRequests: number;
  bytesInMemory: number;
  requests: number;
}

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const SWEEP_MS = 1000;

export class HlsEgress {
  readonly #options: HlsEgressOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #blocked: BlockedRequests;
  readonly #sweep: NodeJS.Timeout;
  readonly #warnedAt = new Map<string, number>();
  #epochCounter = 0;
  #requests = 0;
  #closed = false;

  constructor(options: HlsEgressOptions) {
    this.#options = options;
    const b = options.budgets;
    this.#blocked = new BlockedRequests({ maxPerClient: b.maxBlockedPerClient, maxTotal: b.maxBlockedTotal });
    this.#sweep = setInterval(() => this.#sweepEntries(), SWEEP_MS);
    this.#sweep.unref();
  }

  get stats(): HlsEgressStats {
    let bytes = 0;
    for (const entry of this.#entries.values()) bytes += entry.packager.window.bytes;
    return { packagedStreams: this.#entries.size, blockedRequests: this.#blocked.total, bytesInMemory: bytes, requests: this.#requests };
  }

  /** The playlist path of a stream, for the admin API and console. */
  static playlistPath(app: string, instance: string, stream: string): string {
    return `/${[app, instance, stream].map(encodeURIComponent).join('/')}/index.m3u8`;
  }

  /** Whether a stream is being packaged now (admin API). */
  isPackaged(app: string, instance: string, stream: string): boolean {
    return this.#entries.has(keyOf({ app, instance, stream }));
  }

  /** Handles the request if its path is an HLS route; returns false to let other routes try. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://host');
    const target = parseHlsPath(url.pathname);
    if (!target) return false;
    this.#requests++;
    if (req.method === 'OPTIONS') {
      answerPreflight(res);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answerError(res, 405, 'HLS objects are read-only', { allow: 'GET, HEAD, OPTIONS' });
      return true;
    }
    if (rawUrl.length > this.#options.budgets.maxTargetBytes) {
      this.#warn('target', { ip: req.socket.remoteAddress, length: rawUrl.length, code: ErrorCode.HlsBudget, budget: 'hls.maxTargetBytes' }, 'HLS request refused: target too long');
      answerError(res, 414, 'request target too long');
      return true;
    }
    if (this.#closed) {
      answerError(res, 503, 'server closing');
      return true;
    }
    const object = target.object;
    if (object.kind === 'vod-playlist' || object.kind === 'vod-init' || object.kind === 'vod-segment') {
      this.#options.vod.handle(req, res, target.routes, object);
      return true;
    }
    if (object.kind === 'playlist') this.#playlist(req, res, url, target.routes);
    else this.#object(req, res, target.routes, object);
    return true;
  }

  /**
   * Starts (or stops) packaging a stream whatever its requests: Stream.get("f4f:"+name).record() in
   * Adobe's livepkgr pattern. False when the stream cannot be packaged (HLS off, budget).
   */
  pin(route: HlsRoute, on: boolean): boolean {
    const key = keyOf(route);
    if (!on) {
      const entry = this.#entries.get(key);
      if (!entry || entry.pins === 0) return false;
      entry.pins--;
      entry.lastRequestAt = Date.now(); // then it idles out like any on-request packaging
      return true;
    }
    const entry = this.#entryFor(route, true);
    if (!entry || entry === 'budget') return false;
    entry.pins++;
    return true;
  }

  /** A stream started publishing: with packaging "always" it is packaged from now on. */
  streamPublished(route: HlsRoute): void {
    const source = this.#options.lookup(route.app, route.instance, route.stream);
    if (!source) return;
    const always = source.settings.enabled && source.settings.packaging === 'always';
    source.release();
    if (always) this.#entryFor(route, true);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const entry of [...this.#entries.values()]) this.#remove(entry, 'server closing');
  }

  #playlist(req: http.IncomingMessage, res: http.ServerResponse, url: URL, routes: HlsRoute[]): void {
    const directives = parseDeliveryDirectives(url.searchParams);
    if ('error' in directives) {
      this.#warn('directive', { ip: req.socket.remoteAddress, code: ErrorCode.HlsBadRequest, reason: directives.error }, 'HLS request refused: bad delivery directive');
      answerError(res, 400, directives.error);
      return;
    }
    const entry = this.#findOrCreate(routes, res);
    if (!entry) return;
    entry.lastRequestAt = Date.now();
    const window = entry.packager.window;
    if (entry.packager.packageable === false && window.segments.length === 0) {
      this.#warn('codec', { stream: entry.packager.stream.name, code: ErrorCode.HlsCodecUnsupported }, 'HLS request refused: no H.264/HEVC or AAC track to package');
      answerError(res, 501, 'the stream\'s codecs cannot be packaged as HLS (H.264/HEVC video or AAC audio needed); play it over HTTP-FLV');
      return;
    }
    const { msn, part } = directives;
    const blocking = msn !== null && !window.ended;
    if (blocking && window.tooFarAhead(msn, part)) {
      answerError(res, 400, '_HLS_msn/_HLS_part is too far ahead of the live edge');
      return;
    }
    const send = () => this.#sendPlaylist(req, res, entry);
    // Without directives, a playlist waits for its first complete segment: players (ffmpeg, Safari)
    // give up on a live playlist without one.
    const ready = blocking ? () => window.satisfies(msn, part) : () => window.ended || window.lastComplete !== null;
    if (ready()) send();
    else this.#hold(req, res, entry, ready, send);
  }

  #sendPlaylist(req: http.IncomingMessage, res: http.ServerResponse, entry: Entry): void {
    const window = entry.packager.window;
    if (res.headersSent || res.destroyed) return;
    if (entry.rendered?.version !== window.version) entry.rendered = { version: window.version, body: Buffer.from(renderPlaylist(window)) };
    const body = entry.rendered.body;
    res.writeHead(200, {
      ...CORS_HEADERS,
      'content-type': PLAYLIST_TYPE,
      // About a part duration (a CDN collapses the readers of one live edge); an ended playlist no longer changes.
      'cache-control': window.ended ? 'public, max-age=60' : 'public, max-age=1',
      'content-length': body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  #object(req: http.IncomingMessage, res: http.ServerResponse, routes: HlsRoute[], object: HlsObject): void {
    const entry = this.#find(routes);
    if (!entry || !('epoch' in object) || object.epoch !== entry.packager.window.epoch) {
      answerError(res, 404, 'no such HLS object (the stream is not packaged, or this object is from an earlier packaging)');
      return;
    }
    entry.lastRequestAt = Date.now();
    const window = entry.packager.window;
    const answer = (body: Buffer[]) =>
      answerObject(req, res, { contentType: 'video/mp4', cacheControl: IMMUTABLE, etag: `"${window.epoch}-${object.kind}-${'id' in object ? object.id : object.msn}"`, body });
    if (object.kind === 'init') {
      const init = window.init(object.id);
      if (init) answer([init]);
      else answerError(res, 404, 'no such init segment');
    } else if (object.kind === 'segment') {
      const segment = window.segment(object.msn);
      if (segment?.complete) answer(segment.parts.map((p) => p.bytes));
      else answerError(res, 404, 'no such segment (not complete, or out of the window)');
    } else if (object.kind === 'part') {
      const part = window.part(object.id);
      if (part) answer([part.bytes]);
      else if (object.id === window.nextPartId && !window.ended) {
        // The preload hint: held until the part is complete, then sent at once (RFC 8216bis 6.2.6).
        this.#hold(req, res, entry, () => window.part(object.id) !== undefined || window.ended, () => {
          const done = window.part(object.id);
          if (done) answer([done.bytes]);
          else answerError(res, 404, 'the hinted part was not produced: the stream ended');
        });
      } else answerError(res, 404, 'no such part (out of the window, or not hinted yet)');
    }
  }

  #hold(req: http.IncomingMessage, res: http.ServerResponse, entry: Entry, ready: () => boolean, answer: () => void): void {
    const client = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const refusal = this.#blocked.refusal(client);
    if (refusal) {
      const key = refusal === 'client' ? 'hls.maxBlockedPerClient' : 'hls.maxBlockedTotal';
      this.#warn(`blocked-${refusal}`, { ip: client, budget: key, code: ErrorCode.HlsBudget }, 'HLS blocking request refused: budget reached');
      answerError(res, refusal === 'client' ? 429 : 503, `too many blocked requests (${key})`, { 'retry-after': '1' });
      return;
    }
    const timeoutMs = Math.min(this.#options.budgets.blockTimeoutMs, 3 * entry.packager.window.targetDurationSec * 1000);
    this.#blocked.hold(entry.waiting, res, {
      client,
      ready,
      answer,
      giveUp: (reason) => answerError(res, reason === 'timeout' ? 503 : 404, reason === 'timeout' ? 'not available in time' : 'the stream is no longer packaged', { 'retry-after': '1' }),
    }, timeoutMs);
  }

  #find(routes: HlsRoute[]): Entry | null {
    for (const route of routes) {
      const entry = this.#entries.get(keyOf(route));
      if (entry) return entry;
    }
    return null;
  }

  /** The packaging of the first route that names a live stream (started now if need be), or null after answering. */
  #findOrCreate(routes: HlsRoute[], res: http.ServerResponse): Entry | null {
    let budget = false;
    for (const route of routes) {
      const entry = this.#entryFor(route, false);
      if (entry === 'budget') budget = true;
      else if (entry) return entry;
    }
    if (budget) answerError(res, 503, 'too many streams packaged (hls.maxPackagedStreams)', { 'retry-after': '5' });
    else answerError(res, 404, 'stream not found, not published, or HLS is off for this application');
    return null;
  }

  /**
   * The entry of a route, creating it for a live stream; `force` also packages a stream nobody
   * publishes yet (a pin, a publish hook). Null when there is nothing to package.
   */
  #entryFor(route: HlsRoute, force: boolean): Entry | null | 'budget' {
    const key = keyOf(route);
    const existing = this.#entries.get(key);
    const source = this.#options.lookup(route.app, route.instance, route.stream);
    // An ended playlist cannot take new segments (RFC 8216): a stream publishing again gets a new packaging.
    const restart = existing !== undefined && existing.packager.window.ended && source?.stream.isPublishing === true;
    if (existing && !restart && (!source || source.stream === existing.packager.stream)) {
      source?.release();
      return existing;
    }
    if (!source) return null;
    if (!source.settings.enabled || (!force && !source.stream.isPublishing)) {
      source.release();
      return existing ?? null; // an ended packaging of an older stream object still answers
    }
    const pins = existing?.pins ?? 0;
    if (existing) this.#remove(existing, restart ? 'published again after the playlist ended' : 'the stream was replaced (instance restarted)');
    if (this.#entries.size >= this.#options.budgets.maxPackagedStreams) {
      source.release();
      this.#warn('streams', { budget: 'hls.maxPackagedStreams', stream: route.stream, code: ErrorCode.HlsBudget }, 'HLS packaging refused: budget reached');
      return 'budget';
    }
    const entry = this.#start(route, key, source);
    entry.pins = pins;
    return entry;
  }

  #start(route: HlsRoute, key: string, source: HlsSource): Entry {
    const app = `${route.app}/${route.instance}`;
    const log = this.#options.log.child({ app, stream: route.stream });
    const epoch = (Date.now() * 64 + (this.#epochCounter++ % 64)).toString(36);
    const entry: Entry = {
      key, route, app, source, waiting: new Set(), lastRequestAt: Date.now(), pins: 0,
      unpublishedAt: source.stream.isPublishing ? null : Date.now(), endedAt: null, skipped: new Set(), rendered: null,
      packager: new LivePackager(source.stream, source.settings, this.#options.budgets.maxBytesPerStream, epoch, {
        changed: () => this.#blocked.wake(entry.waiting),
        skippedCodecs: (what) => {
          if (entry.skipped.has(what)) return;
          entry.skipped.add(what);
          log.warn({ track: what }, `HLS leaves this ${what} track out: only H.264/HEVC video and AAC audio are packaged`);
        },
        failed: (error) => {
          log.error({ err: error.message, code: ErrorCode.HlsPackagingFailed }, 'HLS packaging failed');
          queueMicrotask(() => this.#remove(entry, 'packaging failed'));
        },
      }),
    };
    this.#entries.set(key, entry);
    entry.packager.start();
    log.info({ epoch, packaging: source.settings.packaging, lowLatency: source.settings.lowLatency }, 'hls packaging started');
    return entry;
  }

  #remove(entry: Entry, reason: string): void {
    if (this.#entries.get(entry.key) !== entry) return;
    this.#entries.delete(entry.key);
    entry.packager.stop();
    this.#blocked.drop(entry.waiting);
    entry.source.release();
    const w = entry.packager.window;
    this.#options.log.info({ app: entry.app, stream: entry.packager.stream.name, reason, segments: w.nextMsn, trimmedEarly: w.trimmedEarly }, 'hls packaging stopped');
  }

  /** Once a second: end playlists whose publisher left, forget idle and long-ended packagings. */
  #sweepEntries(): void {
    const now = Date.now();
    const b = this.#options.budgets;
    for (const entry of [...this.#entries.values()]) {
      const { packager } = entry;
      const window = packager.window;
      if (packager.stream.isPublishing) entry.unpublishedAt = null;
      else entry.unpublishedAt ??= now;
      if (window.ended && packager.stream.isPublishing && (entry.pins > 0 || entry.source.settings.packaging === 'always')) {
        this.#entryFor(entry.route, true); // packaged anyway: start over
        continue;
      }
      // Nothing packaged yet (a pin waiting for its first publish) has nothing to end.
      if (!window.ended && window.segments.length > 0 && entry.unpublishedAt !== null && now - entry.unpublishedAt >= b.republishGraceMs) {
        packager.end();
        entry.endedAt = now;
      }
      const always = entry.source.settings.packaging === 'always' && packager.stream.isPublishing;
      const lingerMs = Math.max(b.idleTimeoutMs, 2 * window.settings.windowSegments * window.targetDurationSec * 1000);
      if (entry.endedAt !== null && now - entry.endedAt >= lingerMs && entry.pins === 0) this.#remove(entry, 'ended');
      else if (entry.pins === 0 && !always && now - entry.lastRequestAt >= b.idleTimeoutMs) this.#remove(entry, 'no HLS requests');
    }
  }

  /** One warning per kind per 10 s: budget hits must not flood the log. */
  #warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - (this.#warnedAt.get(kind) ?? 0) < 10_000) return;
    this.#warnedAt.set(kind, now);
    this.#options.log.warn(fields, msg);
  }
}


function keyOf(route: HlsRoute): string {
  return `${route.app}/${route.instance}\0${route.stream}`;
}

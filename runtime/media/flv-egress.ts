import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { WebSocket, WebSocketServer } from 'ws';
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';
import { MessageType } from '../rtmp/message.ts';
import { flvHeader, flvTag } from './flv-file.ts';
import type { LiveStream, LiveSubscriber } from './live-stream.ts';
import { metadataObject, type MediaPacket } from './media-packet.ts';
import { parseStreamName } from './stream-registry.ts';
import { SubscriberQueue, type PacketSink } from './subscriber-queue.ts';
import { Timeline } from './timeline.ts';

/*
 * Browser egress: live streams as HTTP-FLV (flv.js / mpegts.js / ffplay / ffprobe).
 *
 * The FLV muxing is ours (flv-file.ts), not node-media-server's. ARCHITECTURE.md decision 2 prefers
 * NMS 4.4.3's FlvSession/BroadcastServer; we read them and mounting them on our http.Server would
 * need, per player: a fake Express request (FlvSession reads req.params/req.query/req.hostname),
 * replacing FlvSession.sendBuffer (it writes without any back-pressure), closing sessions ourselves
 * on unpublish (NMS keeps players attached across publish gaps and holds the publisher for a 30 s
 * "grace" window), calling the underscore-private BroadcastServer._finishPublish, and silencing NMS's
 * process-wide logger (console.log text lines would break "logs are data"). NMS would also keep a
 * second GOP cache bounded by packet count (not bytes) and chunk every packet for RTMP players we
 * never attach. What would remain of NMS after those overrides is its 13-byte header and its tag
 * writer, which flv-file.ts already has. So: no NMS import here, no NMS internals to guard.
 *
 * WS-FLV: the same byte stream as binary WebSocket messages at the same path (mpegts.js/flv.js in
 * browsers that prefer WebSocket). The upgrade is done by `ws` (RFC 6455 framing, masking, ping and
 * close handshakes are not worth re-implementing); everything after the upgrade is the same player
 * as HTTP-FLV, writing to a different FlvOutput. Playback only: a message from the client closes it.
 */

/** A live stream of an application instance, found for an HTTP player. */
export interface EgressSource {
  stream: LiveStream;
  /** Tells the stream's registry this player left (it may forget an idle stream). */
  release(): void;
}

/** How the egress finds streams; the composition root implements it over the instances. */
export type EgressLookup = (app: string, instance: string, streamName: string) => EgressSource | null;

export interface FlvEgressOptions {
  lookup: EgressLookup;
  /** A player whose unsent backlog exceeds this drops media until the next keyframe. */
  maxBufferedBytes: number;
  /**
   * A player with more than this unsent is cut off (http.playerMaxOutputBytes): what the queue never
   * drops (codec configs, data messages) must not pile up without end for a player that stopped reading.
   */
  maxOutputBytes: number;
  log: Logger;
  budgetLog: RateLimitedLog;
}

/** One `{app, instance, stream}` reading of a request path. */
export interface FlvRoute {
  app: string;
  instance: string;
  stream: string;
}

const DEFAULT_INSTANCE = '_definst_';

/**
 * `/<app>/<instance>/<stream>.flv` (or `/<app>/<stream>.flv` for `_definst_`). With more segments
 * the split between instance and stream name is ambiguous (both may contain `/`), so every reading
 * is returned, shortest instance first. Null when the path is not an FLV route or badly encoded.
 */
export function parseFlvPath(pathname: string): FlvRoute[] | null {
  if (!pathname.endsWith('.flv')) return null;
  let segments: string[];
  try {
    segments = pathname.slice(1, -'.flv'.length).split('/').map(decodeURIComponent);
  } catch {
    return null; // bad %-encoding
  }
  if (segments.length < 2 || segments.some((s) => s === '' || s === '.' || s === '..')) return null;
  const [app, ...rest] = segments as [string, ...string[]];
  if (rest.length === 1) return [{ app, instance: DEFAULT_INSTANCE, stream: rest[0]! }];
  const routes: FlvRoute[] = [];
  for (let split = 1; split < rest.length; split++) {
    routes.push({ app, instance: rest.slice(0, split).join('/'), stream: rest.slice(split).join('/') });
  }
  return routes;
}

export interface FlvEgressStats {
  players: number;
  totalPlayers: number;
  bytesSent: number;
  packetsDropped: number;
}

/** Where a player's FLV bytes go: an HTTP response or a WebSocket. */
interface FlvOutput {
  readonly kind: 'http' | 'ws';
  /** Unsent bytes: the SubscriberQueue's measure of a slow player. */
  readonly bufferedBytes: number;
  readonly writable: boolean;
  write(buffer: Buffer): void;
  end(reason: string): void;
  /** Ends at once, dropping what is unsent (a player that does not read would never take it). */
  abort(): void;
  /** Called once when the transport closes (by either side), with why. */
  onClosed(listener: (reason: string) => void): void;
}

class HttpFlvOutput implements FlvOutput {
  readonly kind = 'http';
  readonly #res: http.ServerResponse;

  constructor(res: http.ServerResponse) {
    this.#res = res;
  }

  get bufferedBytes(): number {
    return this.#res.writableLength;
  }

  get writable(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }

  write(buffer: Buffer): void {
    this.#res.write(buffer);
  }

  end(): void {
    if (!this.#res.writableEnded && !this.#res.destroyed) this.#res.end();
  }

  abort(): void {
    this.#res.destroy();
  }

  onClosed(listener: (reason: string) => void): void {
    this.#res.once('close', () => listener(this.#res.writableFinished ? 'ended' : 'client closed'));
    this.#res.on('error', () => listener('socket error'));
  }
}

/** WebSocket close codes used here (RFC 6455 7.4.1). */
const WS_NORMAL = 1000;
const WS_GOING_AWAY = 1001;
const WS_UNSUPPORTED_DATA = 1003;

class WsFlvOutput implements FlvOutput {
  readonly kind = 'ws';
  readonly #ws: WebSocket;

  constructor(ws: WebSocket) {
    this.#ws = ws;
  }

  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  get writable(): boolean {
    return this.#ws.readyState === this.#ws.OPEN;
  }

  write(buffer: Buffer): void {
    this.#ws.send(buffer, { binary: true });
  }

  end(reason: string): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.close(reason === 'server closing' ? WS_GOING_AWAY : WS_NORMAL, reason.slice(0, 120));
  }

  abort(): void {
    this.#ws.terminate();
  }

  onClosed(listener: (reason: string) => void): void {
    // Read-only: a player has nothing to say; anything it sends (an attempt to publish?) ends it.
    this.#ws.on('message', () => {
      this.#ws.close(WS_UNSUPPORTED_DATA, 'read-only stream');
      listener('client sent data');
    });
    this.#ws.once('close', () => listener('client closed'));
    this.#ws.on('error', () => listener('socket error'));
  }
}

/**
 * Serves live streams over HTTP-FLV and WS-FLV on the server's own http.Server. Nothing can be
 * published: HTTP methods other than GET/HEAD get 405, and WebSocket messages from a player close it.
 * Like HTTP-FLV (public playback with CORS *), WS-FLV has no access check and accepts any Origin.
 */
export class FlvEgress {
  readonly #options: FlvEgressOptions;
  readonly #players = new Set<FlvPlayer>();
  // noServer: upgrades come from our http.Server's 'upgrade' event; tiny maxPayload since players send nothing.
  /** Made at the first WS-FLV upgrade: `ws` costs ~10 MiB of RSS to load, which a server without WS-FLV players never needs. */
  #wssOrNull: WebSocketServer | null = null;
  get #wss(): WebSocketServer {
    if (!this.#wssOrNull) {
      const { WebSocketServer: Server } = createRequire(import.meta.url)('ws') as typeof import('ws');
      this.#wssOrNull = new Server({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
    }
    return this.#wssOrNull;
  }
  #nextId = 1;
  #closed = false;
  #totals = { totalPlayers: 0, bytesSent: 0, packetsDropped: 0 };

  constructor(options: FlvEgressOptions) {
    this.#options = options;
  }

  get stats(): FlvEgressStats {
    let bytesSent = this.#totals.bytesSent;
    let packetsDropped = this.#totals.packetsDropped;
    for (const player of this.#players) {
      bytesSent += player.bytesSent;
      packetsDropped += player.packetsDropped;
    }
    return { players: this.#players.size, totalPlayers: this.#totals.totalPlayers, bytesSent, packetsDropped };
  }

  /** Handles the request if its path is an FLV route; returns false to let other routes try. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const pathname = new URL(req.url ?? '/', 'http://host').pathname;
    const routes = parseFlvPath(pathname);
    if (!routes) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('publishing over HTTP is not supported\n');
      return true;
    }
    const found = this.#find(routes);
    if (!found || this.#closed) {
      res.writeHead(404, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' });
      res.end('stream not found or not published\n');
      if (found) found.source.release();
      return true;
    }
    const headers = { 'content-type': 'video/x-flv', 'cache-control': 'no-cache, no-store', 'access-control-allow-origin': '*' };
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      res.end();
      found.source.release();
      return true;
    }
    res.writeHead(200, headers);
    this.#play(req, new HttpFlvOutput(res), found.route, found.source);
    return true;
  }

  /**
   * WS-FLV: handles a WebSocket upgrade if its path is an FLV route (answering 404 on the raw socket
   * when the stream is not published); returns false to let the caller refuse the upgrade.
   */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const routes = parseFlvPath(new URL(req.url ?? '/', 'http://host').pathname);
    if (!routes) return false;
    const found = this.#closed ? null : this.#find(routes);
    if (!found) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nstream not found or not published\n');
      return true;
    }
    // ws answers a malformed handshake (400/426) itself and then never calls back: release the stream then.
    let upgraded = false;
    socket.once('close', () => {
      if (!upgraded) found.source.release();
    });
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      if (this.#closed) {
        ws.terminate();
        found.source.release();
        return;
      }
      this.#play(req, new WsFlvOutput(ws), found.route, found.source);
    });
    return true;
  }

  /** Ends every player (server shutdown). Idempotent. */
  close(): void {
    this.#closed = true;
    for (const player of [...this.#players]) player.close('server closing');
    // A WebSocket close handshake waits for the peer; at shutdown nobody waits for a slow one.
    const wss = this.#wssOrNull;
    if (!wss) return;
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  }

  #find(routes: FlvRoute[]): { route: FlvRoute; source: EgressSource } | null {
    for (const route of routes) {
      const source = this.#options.lookup(route.app, route.instance, parseStreamName(route.stream).name);
      if (!source) continue;
      if (source.stream.isPublishing) return { route, source };
      source.release();
    }
    return null;
  }

  #play(req: http.IncomingMessage, output: FlvOutput, route: FlvRoute, source: EgressSource): void {
    const app = `${route.app}/${route.instance}`;
    const transport = output.kind === 'ws' ? 'ws-flv' : 'http-flv';
    const log = this.#options.log.child({ app, stream: source.stream.name, player: `${output.kind}-${this.#nextId++}`, ip: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '') });
    const player = new FlvPlayer(output, source, this.#options, (reason) => {
      this.#players.delete(player);
      this.#totals.bytesSent += player.bytesSent;
      this.#totals.packetsDropped += player.packetsDropped;
      log.info({ reason, bytesSent: player.bytesSent, packetsDropped: player.packetsDropped }, `${transport} play ended`);
    });
    this.#players.add(player);
    this.#totals.totalPlayers++;
    log.info({ agent: req.headers['user-agent'] ?? '' }, `${transport} play started`);
    player.start();
  }
}

/**
 * One HTTP-FLV or WS-FLV player: FLV header, then the stream's startup packets (metadata, codec
 * configs, the GOP cache from its keyframe), then live packets, all through a SubscriberQueue whose
 * backlog is the transport's unsent bytes. Timestamps start at 0 (flv.js and MSE prefer it).
 */
class FlvPlayer implements LiveSubscriber, PacketSink {
  readonly #output: FlvOutput;
  readonly #source: EgressSource;
  readonly #queue: SubscriberQueue;
  readonly #timeline = new Timeline(0);
  readonly #onClose: (reason: string) => void;
  readonly #limits: Pick<FlvEgressOptions, 'maxOutputBytes' | 'budgetLog'>;
  #closed = false;
  bytesSent = 0;

  constructor(output: FlvOutput, source: EgressSource, options: FlvEgressOptions, onClose: (reason: string) => void) {
    this.#output = output;
    this.#source = source;
    this.#onClose = onClose;
    this.#limits = options;
    this.#queue = new SubscriberQueue(this, { maxBufferedBytes: options.maxBufferedBytes });
    output.onClosed((reason) => this.close(reason));
  }

  get packetsDropped(): number {
    return this.#queue.packetsDropped;
  }

  get bufferedBytes(): number {
    return this.#output.bufferedBytes;
  }

  start(): void {
    const stream = this.#source.stream;
    const flags = headerFlags(stream);
    this.#send(flvHeader(flags.audio, flags.video));
    for (const packet of stream.startupPackets) this.#queue.push(packet);
    stream.subscribe(this);
  }

  /** PacketSink: the queue decided this packet goes out. */
  write(packet: MediaPacket): void {
    const tag = toFlvPacket(packet);
    if (!tag) return;
    this.#send(flvTag({ type: tag.type, timestamp: this.#timeline.map(packet), payload: tag.payload }));
  }

  packet(packet: MediaPacket): void {
    if (!this.#closed) this.#queue.push(packet);
  }

  published(): void {}

  /** Publish end ends the response: the FLV file is complete. */
  unpublished(): void {
    this.close('unpublished');
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#source.stream.unsubscribe(this);
    this.#source.release();
    this.#output.end(reason);
    this.#onClose(reason);
  }

  #send(buffer: Buffer): void {
    if (!this.#output.writable || this.#closed) return;
    this.#output.write(buffer);
    this.bytesSent += buffer.length;
    const unsent = this.#output.bufferedBytes;
    if (unsent > this.#limits.maxOutputBytes) {
      this.#limits.budgetLog.exceeded('http.playerMaxOutputBytes', { code: ErrorCode.HttpPeerTooSlow, kind: this.#output.kind, unsent }, 'FLV player does not read; cut off');
      this.#output.abort();
      this.close('player too slow');
    }
  }
}

/** FLV carries audio, video and AMF0 data tags; AMF3 data messages lose their leading 0 byte. */
function toFlvPacket(packet: MediaPacket): { type: number; payload: Buffer } | null {
  if (packet.type === MessageType.Audio || packet.type === MessageType.Video || packet.type === MessageType.DataAmf0) return packet;
  if (packet.type === MessageType.DataAmf3 && packet.payload[0] === 0) return { type: MessageType.DataAmf0, payload: packet.payload.subarray(1) };
  return null;
}

/**
 * FLV header audio/video flags: players (flv.js) wait for every track the header announces, so
 * announce only what the stream has, from onMetaData codec ids, else codec configs; both when unknown.
 */
export function headerFlags(stream: Pick<LiveStream, 'metadata' | 'videoConfig' | 'audioConfig'>): { audio: boolean; video: boolean } {
  const meta = stream.metadata ? metadataObject(stream.metadata.payload) : null;
  if (meta && ('videocodecid' in meta || 'audiocodecid' in meta)) return { audio: 'audiocodecid' in meta, video: 'videocodecid' in meta };
  if (stream.videoConfig || stream.audioConfig) return { audio: stream.audioConfig !== null, video: stream.videoConfig !== null };
  return { audio: true, video: true };
}

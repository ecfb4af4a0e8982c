import http from 'node:http';
import https from 'node:https';
import type { SecureContext } from 'node:tls';
import { ErrorCode, ProtocolError } from '../errors.ts';
import { END_GRACE_MS, type RtmpTransport, type TransportSink } from './transport.ts';

export interface RtmptClientOptions {
  host: string;
  port: number;
  /** RTMPTS: the tunnel runs over HTTPS. */
  secure: boolean;
  /** Trust for HTTPS (runtime/client/tls-trust.ts); certificates are always verified. */
  secureContext?: SecureContext;
  /** Largest answer body accepted from the server. */
  maxResponseBytes?: number;
}

/** The server's polling-interval byte, in these units, is how long we wait after an empty answer. */
const POLL_UNIT_MS = 10;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * The client side of RTMPT/RTMPTS (rtmpt:// and rtmpte:// NetConnections): one keep-alive HTTP
 * connection, one request in flight at a time — /send with what was written since the last one,
 * else /idle — each answer's bytes after the polling-interval byte handed up as received data.
 */
export class RtmptClientTransport implements RtmpTransport {
  readonly kind: 'http' | 'https';
  readonly encrypted = false;
  readonly socket = null;
  readonly remoteAddress: string;
  readonly #options: RtmptClientOptions;
  readonly #agent: http.Agent;
  #sink: TransportSink | null = null;
  #id: string | null = null;
  #seq = 0;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #inFlightBytes = 0;
  #busy = false;
  #pollTimer: NodeJS.Timeout | null = null;
  #current: http.ClientRequest | null = null;
  #ending = false;
  #closed = false;

  constructor(options: RtmptClientOptions) {
    this.#options = options;
    this.kind = options.secure ? 'https' : 'http';
    this.remoteAddress = options.host;
    this.#agent = options.secure ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.#busy = true;
    this.#post('/open/1', Buffer.from([0])).then(
      (body) => {
        const id = body.toString('latin1').trim();
        if (!/^[\x21-\x7e]{1,64}$/.test(id)) throw new ProtocolError(ErrorCode.RtmptRequestInvalid, 'RTMPT: the server sent no session id');
        this.#id = id;
        this.#busy = false;
        this.#pump();
      },
      (error: unknown) => this.#fail(error),
    ).catch((error: unknown) => this.#fail(error));
  }

  get bufferedBytes(): number {
    return this.#queuedBytes + this.#inFlightBytes;
  }

  bind(sink: TransportSink): void {
    this.#sink = sink;
  }

  write(pieces: readonly Buffer[], count = pieces.length): void {
    if (this.#closed) return;
    for (let i = 0; i < count; i++) {
      const piece = pieces[i]!;
      this.#queue.push(piece);
      this.#queuedBytes += piece.length;
    }
    this.#pump();
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.#pump();
    setTimeout(() => this.destroy(), END_GRACE_MS).unref();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    this.#current?.destroy();
    this.#agent.destroy();
  }

  /** Next request, if none is in flight: queued bytes first, then the close, else a poll. */
  #pump(delayMs = 0): void {
    if (this.#busy || this.#closed || this.#id === null) return;
    if (this.#pollTimer) {
      clearTimeout(this.#pollTimer);
      this.#pollTimer = null;
    }
    if (this.#queuedBytes > 0) return this.#exchange('send', Buffer.concat(this.#queue, this.#queuedBytes));
    if (this.#ending) {
      this.#busy = true;
      const done = () => this.destroy();
      this.#post(`/close/${this.#id}/${this.#seq++}`, Buffer.from([0])).then(done, done);
      return;
    }
    if (delayMs > 0) this.#pollTimer = setTimeout(() => this.#exchange('idle', Buffer.from([0])), delayMs);
    else this.#exchange('idle', Buffer.from([0]));
  }

  #exchange(command: 'send' | 'idle', body: Buffer): void {
    this.#pollTimer = null;
    this.#busy = true;
    if (command === 'send') {
      this.#queue = [];
      this.#inFlightBytes = this.#queuedBytes;
      this.#queuedBytes = 0;
    }
    this.#post(`/${command}/${this.#id}/${this.#seq++}`, body).then(
      (answer) => {
        const sent = this.#inFlightBytes > 0;
        this.#inFlightBytes = 0;
        this.#busy = false;
        if (this.#closed) return;
        const data = answer.subarray(1);
        if (data.length > 0) this.#sink?.data(data);
        if (sent && this.#queuedBytes === 0) this.#sink?.drain();
        // Answered with data, or we had bytes to send: ask again at once. Empty: wait as told.
        const waitMs = data.length > 0 || sent ? 0 : Math.max(1, answer[0] ?? 1) * POLL_UNIT_MS;
        this.#pump(waitMs);
      },
      (error: unknown) => this.#fail(error),
    );
  }

  #post(path: string, body: Buffer): Promise<Buffer> {
    const max = this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    return new Promise((resolve, reject) => {
      const request = (this.#options.secure ? https : http).request({
        host: this.#options.host,
        port: this.#options.port,
        method: 'POST',
        path,
        agent: this.#agent,
        ...(this.#options.secure ? { secureContext: this.#options.secureContext, servername: serverName(this.#options.host) } : {}),
        headers: { 'Content-Type': 'application/x-fcs', 'Content-Length': body.length, 'Cache-Control': 'no-cache', 'User-Agent': 'Shockwave Flash' },
      });
      this.#current = request;
      request.on('error', reject);
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > max) request.destroy(new ProtocolError(ErrorCode.RtmptRequestInvalid, `RTMPT answer over ${max} bytes`));
          else chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => {
          if (response.statusCode !== 200) reject(new ProtocolError(ErrorCode.RtmptRequestInvalid, `RTMPT ${path.split('/')[1]} answered HTTP ${response.statusCode}`));
          else resolve(Buffer.concat(chunks, size));
        });
      });
      request.end(body);
    });
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    this.destroy();
    this.#sink?.closed('rtmpt session failed', error instanceof Error ? error : new Error(String(error)));
  }
}

/** SNI carries host names only, never IP addresses. */
function serverName(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}

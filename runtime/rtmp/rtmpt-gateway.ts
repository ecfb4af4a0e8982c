import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import type { Logger } from '../log/logger.ts';
import { parseRtmptTarget } from './rtmpt-request.ts';
import { RtmptSession, type RtmptReply } from './rtmpt-session.ts';
import type { RtmpTransport } from './transport.ts';

export interface RtmptOptions {
  /** Serve RTMPT on the HTTP port (and RTMPTS on the HTTPS port). */
  enabled: boolean;
  /** Open sessions at most; /open beyond it is answered 503. */
  maxSessions: number;
  idleTimeoutMs: number;
  pollHoldMs: number;
  /** Largest request body (client→server bytes of one /send); more is answered 413 and ends the session. */
  maxRequestBytes: number;
}

/** 128 random bits: a session id is the only thing that ties a request to its session. */
const SESSION_ID_BYTES = 16;
const FCS_HEADERS = { 'Content-Type': 'application/x-fcs', 'Cache-Control': 'no-cache', Connection: 'keep-alive' } as const;

/**
 * RTMPT and RTMPTS on the server's HTTP and HTTPS ports (rtmpt-request.ts has the protocol). Each
 * /open makes an RtmptSession, a transport that goes through the RTMP listener's accept() like a
 * TCP socket. Unknown, expired and closed ids get 404 and nothing else.
 */
export class RtmptGateway {
  readonly #options: RtmptOptions;
  readonly #accept: (transport: RtmpTransport) => void;
  readonly #sessions = new Map<string, RtmptSession>();
  /** Refusals (full, too large, bad path) are logged at most once per 10 s per kind. */
  readonly #refusals: RateLimitedLog;

  constructor(options: RtmptOptions, accept: (transport: RtmpTransport) => void, log: Logger) {
    this.#options = options;
    this.#accept = accept;
    this.#refusals = new RateLimitedLog(log);
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Answers the request if it is RTMPT's (true); false lets the other HTTP routes look at it. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, kind: 'http' | 'https'): boolean {
    if (!this.#options.enabled || req.method !== 'POST') return false;
    const route = parseRtmptTarget(req.url ?? '/');
    if (!route) return false;
    const reply: RtmptReply = (status, body) => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(status, { ...FCS_HEADERS, 'Content-Length': body.length });
      res.end(body);
    };
    if (route.kind === 'ident') {
      req.resume();
      reply(404, Buffer.alloc(0));
      return true;
    }
    if (route.kind === 'invalid') {
      this.#refused('bad-path', req, route.reason);
      req.resume();
      reply(400, Buffer.from(`${route.reason}\n`));
      return true;
    }
    const session = route.kind === 'open' ? null : this.#sessions.get(route.id);
    if (route.kind !== 'open' && !session) {
      // Forged, expired or closed: the same answer, and nothing about any session.
      req.resume();
      reply(404, Buffer.alloc(0));
      return true;
    }
    this.#readBody(req, (body) => {
      if (body === null) {
        this.#refused('too-large', req, `body over rtmpt.maxRequestBytes (${this.#options.maxRequestBytes})`);
        reply(413, Buffer.alloc(0));
        session?.destroy();
        return;
      }
      if (route.kind === 'open') this.#open(req, kind, reply);
      else session!.request(route.kind, route.seq, body, reply);
    });
    return true;
  }

  #open(req: http.IncomingMessage, kind: 'http' | 'https', reply: RtmptReply): void {
    if (this.#sessions.size >= this.#options.maxSessions) {
      this.#refused('full', req, `rtmpt.maxSessions (${this.#options.maxSessions}) reached`);
      reply(503, Buffer.alloc(0));
      return;
    }
    const id = randomBytes(SESSION_ID_BYTES).toString('hex');
    const session = new RtmptSession(id, {
      kind,
      remoteAddress: req.socket.remoteAddress ?? '',
      idleTimeoutMs: this.#options.idleTimeoutMs,
      pollHoldMs: this.#options.pollHoldMs,
      onGone: (gone) => {
        if (this.#sessions.get(gone.id) === gone) this.#sessions.delete(gone.id);
      },
    });
    this.#sessions.set(id, session);
    this.#accept(session);
    reply(200, Buffer.from(`${id}\n`, 'latin1'));
  }

  /** Collects the body up to maxRequestBytes; null (and the rest discarded) when it is larger. */
  #readBody(req: http.IncomingMessage, done: (body: Buffer | null) => void): void {
    const max = this.#options.maxRequestBytes;
    if (Number(req.headers['content-length'] ?? 0) > max) {
      req.resume();
      done(null);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > max) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => done(over ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on('error', () => undefined); // an aborted upload: the session's idle timer ends it
  }

  #refused(what: string, req: http.IncomingMessage, reason: string): void {
    const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.#refusals.warn(what, { ip, target: (req.url ?? '').slice(0, 200), reason }, 'RTMPT request refused');
  }

  /** Server shutdown: the RTMP connections close through the listener; forget what is left. */
  close(): void {
    for (const session of [...this.#sessions.values()]) session.destroy();
  }
}

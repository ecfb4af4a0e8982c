import type http from 'node:http';
import type { Logger } from '../log/logger.ts';
import type { LiveLog, LiveLogFilter } from '../log/live-log.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';
import { admitAdminRequest } from './admin-access.ts';

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const HEARTBEAT_MS = 15_000;

export interface LiveLogRoutesOptions {
  token: string | null;
  log: Logger;
  /** Unsent bytes an SSE subscriber may hold before records are dropped (http.liveLogMaxBufferedBytes). */
  maxBufferedBytes: number;
  budgetLog: RateLimitedLog;
}

/**
 * `GET /api/log?app=&level=&q=&limit=` (recent records, JSON), `GET /api/log/stream?…` (the same
 * records live, as Server-Sent Events: the recent ones first, then each new one). Same access
 * rule as every admin route.
 */
export class LiveLogRoutes {
  readonly #liveLog: LiveLog;
  readonly #options: LiveLogRoutesOptions;
  readonly #streams = new Set<http.ServerResponse>();

  constructor(liveLog: LiveLog, options: LiveLogRoutesOptions) {
    this.#liveLog = liveLog;
    this.#options = options;
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://host');
    if (url.pathname !== '/api/log' && url.pathname !== '/api/log/stream') return false;
    if (!admitAdminRequest(req, res, this.#options.token, this.#options.log)) return true;
    const filter = filterOf(url.searchParams);
    const limit = Math.min(5000, Math.max(1, Number(url.searchParams.get('limit') ?? 500) || 500));
    if (url.pathname === '/api/log') return reply(res, 200, { records: this.#liveLog.recent(filter, limit) });
    this.#stream(res, filter, limit);
    return true;
  }

  /**
   * SSE with back-pressure: a subscriber that stops reading (a console tab in a sleeping laptop)
   * holds at most `maxBufferedBytes` of unsent records; past that, records are dropped and counted,
   * and once its socket drains it gets one `dropped` event saying how many, then live records again.
   */
  #stream(res: http.ServerResponse, filter: LiveLogFilter, limit: number): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': connected\n\n'); // send the headers now, not with the first record
    const maxBufferedBytes = this.#options.maxBufferedBytes;
    let dropped = 0;
    const send = (text: string): void => {
      if (dropped === 0 && res.writableLength <= maxBufferedBytes) {
        res.write(text);
        return;
      }
      if (dropped++ === 0) this.#options.budgetLog.exceeded('http.liveLogMaxBufferedBytes', { ip: res.socket?.remoteAddress, maxBufferedBytes }, 'live-log subscriber too slow; dropping records until it reads');
    };
    res.on('drain', () => {
      if (dropped === 0) return;
      res.write(`event: dropped\ndata: ${JSON.stringify({ dropped })}\n\n`);
      dropped = 0;
    });
    for (const record of this.#liveLog.recent(filter, limit)) send(`data: ${JSON.stringify(record)}\n\n`);
    const unsubscribe = this.#liveLog.subscribe(filter, (_record, json) => send(`data: ${json}\n\n`));
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS);
    this.#streams.add(res);
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      this.#streams.delete(res);
    });
  }

  /** Ends every open stream (server shutdown). */
  close(): void {
    for (const res of this.#streams) res.end();
  }
}

function filterOf(query: URLSearchParams): LiveLogFilter {
  const filter: LiveLogFilter = {};
  const app = query.get('app');
  const instance = query.get('instance');
  if (app) filter.app = instance ? `${app}/${instance}` : app;
  const level = query.get('level');
  if (level && LEVELS[level] !== undefined) filter.minLevel = LEVELS[level];
  const text = query.get('q');
  if (text) filter.text = text;
  return filter;
}

function reply(res: http.ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

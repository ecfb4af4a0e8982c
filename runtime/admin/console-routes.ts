import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type http from 'node:http';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import { admitAdminRequest } from './admin-access.ts';

/*
 * The admin console: GET /console (a plain HTML/JS page, no build step) and its assets, including
 * the mpegts.js (HTTP/WS-FLV) and hls.js (LL-HLS) players served from our own node_modules (nothing
 * from a CDN). GET / redirects to /console (someone opening http://host:8000/ lands on it; a
 * `#token=…` fragment survives the redirect, as browsers keep the fragment of a Location without one),
 * under the same access rule.
 *
 * Files come from a fixed table: no request path is ever joined to a directory, so there is no
 * path traversal to defend against.
 *
 * Access: with no token configured, the admin rule applies (loopback clients, loopback Host, no
 * foreign Origin) like every admin route. With a token, the static files are served to anyone:
 * they are the same bytes as in the repository and on npm and hold no server data. Everything the
 * page shows or does goes through /api/*, where the page sends the token as `Authorization: Bearer`
 * (given as `/console#token=…`: a URL fragment never reaches the server or its logs; the page keeps
 * it in sessionStorage). The live log is read with fetch() streaming rather than EventSource, so
 * it carries the same header instead of a token in the query string.
 */

const CONSOLE_DIR = path.join(import.meta.dirname, 'console');
const require = createRequire(import.meta.url);
const MPEGTS_JS = path.join(path.dirname(require.resolve('mpegts.js/package.json')), 'dist', 'mpegts.js');
const HLS_JS = path.join(path.dirname(require.resolve('hls.js/package.json')), 'dist', 'hls.min.js');

const JS = 'text/javascript; charset=utf-8';
const FILES: Record<string, { file: string; type: string }> = {
  '/console': { file: path.join(CONSOLE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/console/': { file: path.join(CONSOLE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: path.join(CONSOLE_DIR, 'console.js'), type: JS },
  '/console/console.css': { file: path.join(CONSOLE_DIR, 'console.css'), type: 'text/css; charset=utf-8' },
  '/console/mpegts.js': { file: MPEGTS_JS, type: JS },
  '/console/hls.js': { file: HLS_JS, type: JS },
};

/**
 * The page runs only our own scripts; it talks to this origin (fetch, WS-FLV) and plays MSE blobs.
 * No framing: the reload and unload buttons must not be clickjackable.
 */
const SECURITY_HEADERS: http.OutgoingHttpHeaders = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self' ws: wss:; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export interface ConsoleRoutesOptions {
  token: string | null;
  log: Logger;
}

export class ConsoleRoutes {
  readonly #options: ConsoleRoutesOptions;

  constructor(options: ConsoleRoutesOptions) {
    this.#options = options;
  }

  /** Handles `/`, `/console` and `/console/…`; returns false for other paths. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const pathname = new URL(req.url ?? '/', 'http://host').pathname;
    if (pathname !== '/' && pathname !== '/console' && !pathname.startsWith('/console/')) return false;
    if (!this.#options.token && !admitAdminRequest(req, res, null, this.#options.log)) return true;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('use GET\n');
      return true;
    }
    if (pathname === '/') {
      res.writeHead(302, { ...SECURITY_HEADERS, location: '/console', 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'the console is at /console\n');
      return true;
    }
    const entry = FILES[pathname];
    if (!entry) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return true;
    }
    readFile(entry.file).then(
      (body) => {
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': entry.type, 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        // A missing file is an install problem (e.g. mpegts.js not installed), not the client's.
        this.#options.log.error({ err: (error as Error).message, file: entry.file }, 'console file unreadable');
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('console file unreadable\n');
      },
    );
    return true;
  }
}

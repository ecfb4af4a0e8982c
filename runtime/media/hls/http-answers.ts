import type http from 'node:http';

/*
 * How HLS objects go out: CORS for players on any origin, cache headers a CDN can act on (objects are
 * immutable: their names change whenever their bytes could), ETags for revalidation, single byte ranges.
 */

export const CORS_HEADERS: http.OutgoingHttpHeaders = {
  'access-control-allow-origin': '*',
  // hls.js reads Age (LL-HLS Appendix C: how stale a cached playlist is) and Content-Range.
  'access-control-expose-headers': 'Age, Content-Length, Content-Range, Date, ETag',
};

export const IMMUTABLE = 'public, max-age=31536000, immutable';

export function answerPreflight(res: http.ServerResponse): void {
  res.writeHead(204, {
    ...CORS_HEADERS,
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    'access-control-allow-headers': 'Range, If-None-Match',
    'access-control-max-age': '86400',
  });
  res.end();
}

export function answerError(res: http.ServerResponse, status: number, text: string, headers: http.OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return;
  // Errors may be transient (a part not there yet, a budget): a cache must not hold them.
  res.writeHead(status, { ...CORS_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

export interface ObjectAnswer {
  contentType: string;
  cacheControl: string;
  etag: string;
  /** Parts of the body, written in order (a segment is its parts, never concatenated in memory). */
  body: Buffer[];
}

/** 200, 206 (one byte range), 304 (If-None-Match) or 416; HEAD gets the headers only. */
export function answerObject(req: http.IncomingMessage, res: http.ServerResponse, answer: ObjectAnswer): void {
  if (res.headersSent || res.destroyed) return;
  const size = answer.body.reduce((n, b) => n + b.length, 0);
  const headers: http.OutgoingHttpHeaders = {
    ...CORS_HEADERS,
    'content-type': answer.contentType,
    'cache-control': answer.cacheControl,
    etag: answer.etag,
    'accept-ranges': 'bytes',
  };
  if (req.headers['if-none-match'] === answer.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.range;
  if (range !== undefined) {
    const parsed = parseRange(range, size);
    if (parsed === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (parsed) {
      [start, end] = parsed;
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
  }
  headers['content-length'] = end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  let offset = 0;
  for (const chunk of answer.body) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end + 1 - offset, chunk.length);
    if (from < to) res.write(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
    offset += chunk.length;
  }
  res.end();
}

/**
 * One `bytes=` range (RFC 9110 14.1.2): [start, end] inclusive; null to ignore the header (several
 * ranges, another unit, malformed: the whole object is sent, which RFC 9110 allows); 'unsatisfiable'.
 */
export function parseRange(header: string, size: number): [number, number] | null | 'unsatisfiable' {
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}

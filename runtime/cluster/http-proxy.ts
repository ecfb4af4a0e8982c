import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Passes an egress request (HTTP-FLV, HLS, WS-FLV) to the worker that owns its stream, over that
 * worker's HTTP server on a Unix socket, with Node's own HTTP client: the response streams back with
 * back-pressure (a player that stops reading fills the local socket, and the worker's bounded queue
 * drops for it as it would for a direct player). The client's address goes along as X-Forwarded-For,
 * which the worker takes as the address of that local connection (clientAddressFromPrimary).
 */
export function proxyRequest(req: http.IncomingMessage, res: http.ServerResponse, socketPath: string): void {
  const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' };
  // A connection of its own per request (agent: false): the worker reads the client's address off it.
  const upstream = http.request({ socketPath, method: req.method, path: req.url, headers, agent: false }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', () => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
      res.end('the worker process serving this stream is not available\n');
    } else res.destroy();
  });
  // The player left: stop the worker's side too (a live FLV response never ends by itself).
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}

/**
 * Passes a WebSocket upgrade (WS-FLV) to the worker: the request head and what followed it are
 * written to a connection to the worker's HTTP server, then bytes flow both ways untouched.
 */
export function proxyUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, socketPath: string): void {
  const upstream = net.connect(socketPath);
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  lines.push(`X-Forwarded-For: ${req.socket.remoteAddress ?? ''}`);
  upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length > 0) upstream.write(head);
  upstream.pipe(socket);
  socket.pipe(upstream);
  const end = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.on('error', end);
  upstream.on('close', end);
  socket.on('close', end);
}

/**
 * A worker: its HTTP server is reached only over its private Unix socket, by its primary, one
 * connection per request: the X-Forwarded-For the primary set is the client's address, and becomes
 * the connection's remoteAddress, so logs, per-client budgets (HLS blocked requests) and player
 * records see the client, not the local socket.
 */
export function clientAddressFromPrimary(req: http.IncomingMessage): void {
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded !== 'string' || forwarded === '') return;
  Object.defineProperty(req.socket, 'remoteAddress', { value: forwarded, configurable: true });
}

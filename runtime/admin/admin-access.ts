/**
 * Who may use the admin routes, the live log and /metrics. With no token configured, only loopback
 * clients are answered (the HTTP port binds 127.0.0.1 by default), and only with a loopback Host
 * header and no foreign Origin, so a web page in a local browser can neither read these routes via
 * DNS rebinding nor POST to them. With a token configured, every request needs
 * `Authorization: Bearer <token>`, loopback included (a reverse proxy on the same machine makes
 * every client look like loopback).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { isIPv6 } from 'node:net';
import type { Logger } from '../log/logger.ts';

export interface AccessRequest {
  remoteAddress?: string;
  host?: string;
  origin?: string;
  authorization?: string;
}

export type AccessDecision = { ok: true } | { ok: false; status: 401 | 403; reason: string };

/** The access rule of every admin route and /metrics (pure, so tests can feed it any address). */
export function checkAdminAccess(request: AccessRequest, token: string | null): AccessDecision {
  if (token) {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.authorization ?? '')?.[1];
    if (presented !== undefined && tokensEqual(presented, token)) return { ok: true };
    return { ok: false, status: 401, reason: 'a valid bearer token is required' };
  }
  if (!isLoopbackAddress(request.remoteAddress)) return { ok: false, status: 403, reason: 'admin routes answer loopback clients only unless a token is configured' };
  if (request.host !== undefined && !isLoopbackHostHeader(request.host)) return { ok: false, status: 403, reason: 'Host is not a loopback name' };
  if (request.origin !== undefined && !sameOrigin(request.origin, request.host)) return { ok: false, status: 403, reason: 'cross-origin requests are refused' };
  return { ok: true };
}

/** Equal-time comparison; hashing first makes the lengths equal (and hides the token's length). */
function tokensEqual(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.replace(/^::ffff:/i, '');
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * A Host header read strictly (RFC 9110 7.2: uri-host [":" port]): a bracketed IPv6 literal or a
 * name of letters, digits, dots and hyphens, then at most a port of 1-5 digits up to 65535. Anything
 * else — text after "]" ("[::1]evil.com"), a second colon, "@", spaces, an empty port — is malformed
 * (null), so no lenient reading can turn a foreign Host into a loopback one.
 */
export function parseHostHeader(host: string): { name: string; ipv6: boolean; port: number | null } | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::([0-9]{1,5}))?$/.exec(host);
  if (match === null) return null;
  const port = match[3] === undefined ? null : Number(match[3]);
  if (port !== null && port > 65535) return null;
  if (match[1] !== undefined) return isIPv6(match[1]) ? { name: match[1].toLowerCase(), ipv6: true, port } : null;
  return { name: match[2]!.toLowerCase(), ipv6: false, port };
}

/** 127.0.0.0/8 in dotted-quad form only: four decimal parts 0-255 without leading zeros. */
function isLoopbackIPv4(name: string): boolean {
  const parts = name.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

function isLoopbackHostHeader(host: string): boolean {
  const parsed = parseHostHeader(host);
  if (parsed === null) return false;
  if (parsed.ipv6) return isLoopbackAddress(parsed.name);
  return parsed.name === 'localhost' || isLoopbackIPv4(parsed.name);
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false; // "null" or garbage
  }
}

/** Applies the access rule to a request; on refusal answers it and returns false. */
export function admitAdminRequest(req: http.IncomingMessage, res: http.ServerResponse, token: string | null, log: Logger): boolean {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const decision = checkAdminAccess(
    { remoteAddress: req.socket.remoteAddress, host: header('host'), origin: header('origin'), authorization: header('authorization') },
    token,
  );
  if (decision.ok) return true;
  log.warn({ ip: req.socket.remoteAddress, path: (req.url ?? '').split('?')[0], reason: decision.reason }, 'admin request refused');
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
  if (decision.status === 401) headers['www-authenticate'] = 'Bearer';
  res.writeHead(decision.status, headers);
  res.end(JSON.stringify({ error: decision.reason }));
  return false;
}

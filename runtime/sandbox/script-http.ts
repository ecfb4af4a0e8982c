/**
 * HTTP for scripts — LoadVars / XML load, send and sendAndLoad (fms-api §9) and Flash Remoting
 * (script-remoting.ts) — through Node's fetch.
 *
 * A script is untrusted code on the operator's network, so every request is bounded:
 * - hosts: loopback (localhost, 127.0.0.0/8, ::1) plus `scripts.http.allowHosts` ("api.example.com"
 *   or "*.example.com"); redirects are followed by hand (at most 5) so each hop is checked too;
 * - time: one deadline for the whole exchange, body included (`timeoutMs`);
 * - size: the body is streamed and the request aborted past its limit (`maxBytes` for LoadVars/XML);
 * - count: at most MAX_PENDING requests in flight per instance; dispose aborts them all.
 * For LoadVars/XML every refusal or failure is one log line (`onProblem`); the script only learns
 * "it failed" (onLoad(false)), as FMS scripts did. Remoting uses `send` and logs its own line.
 */

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  /** [name, value] pairs from addRequestHeader; unsafe names are dropped. */
  headers: [string, string][];
  /** POST body, already encoded by the caller (null for GET). */
  body: string | Uint8Array | null;
  contentType: string;
}

export interface HttpResult {
  /** HTTP status of the final response; 0 when none arrived (refused, timeout, network error). */
  status: number;
  /** Body text when the status is 2xx and the body was read in full; otherwise null. */
  body: string | null;
  bytesLoaded: number;
  bytesTotal: number;
}

/**
 * What an exchange ended with, for callers that log their own line (Flash Remoting): a response
 * (its body only when 2xx and read in full within the size limit) or why none could be had.
 */
export type HttpOutcome =
  | { ok: true; status: number; body: Buffer | null; bytesTotal: number }
  | { ok: false; status: number; reason: string };

/** The largest response body an exchange accepts, and the config key that sets it. */
export interface BodyLimit {
  maxBytes: number;
  key: string;
}

export interface ScriptHttpOptions {
  allowHosts: readonly string[];
  timeoutMs: number;
  maxBytes: number;
  /**
   * Loopback ports scripts may not reach: this server's own HTTP port, whose admin API trusts
   * loopback clients when no admin token is set — a script must not unload or reload apps.
   */
  refusedLoopbackPorts?: () => readonly number[];
  /** One log line per refused or failed request; `url` without its query string. */
  onProblem: (url: string, reason: string) => void;
}

const MAX_PENDING = 32;
const MAX_REDIRECTS = 5;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers fetch owns (framing, target) or that would let a script smuggle a second request. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);

class HttpProblem extends Error {
  constructor(message: string, readonly status = 0) {
    super(message);
  }
}

/** What a log line shows of a URL: no query string or credentials (tokens often travel there). */
export function loggableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return url.slice(0, 200);
  }
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export class ScriptHttp {
  readonly #options: ScriptHttpOptions;
  readonly #pending = new Set<AbortController>();

  constructor(options: ScriptHttpOptions) {
    this.#options = options;
  }

  /**
   * LoadVars / XML: starts a request; `deliver` gets its result later, exactly once (unless
   * abortAll() ran first). Returns false — and delivers nothing — when the request is refused
   * before it starts. Every refusal or failure is one onProblem line.
   */
  request(request: HttpRequest, deliver: (result: HttpResult) => void): boolean {
    const refusal = this.send(request, { maxBytes: this.#options.maxBytes, key: 'scripts.http.maxBytes' }, (outcome) => {
      if (!outcome.ok) {
        this.#options.onProblem(loggableUrl(request.url), outcome.reason);
        deliver({ status: outcome.status, body: null, bytesLoaded: 0, bytesTotal: 0 });
        return;
      }
      const body = outcome.body === null ? null : new TextDecoder('utf-8').decode(outcome.body);
      deliver({ status: outcome.status, body, bytesLoaded: outcome.body?.length ?? 0, bytesTotal: outcome.bytesTotal });
    });
    if (refusal === null) return true;
    this.#options.onProblem(loggableUrl(request.url), refusal);
    return false;
  }

  /**
   * The bounded exchange itself, logging nothing: returns why the request is refused before it
   * starts (then `deliver` is never called), or null and `deliver` gets the outcome exactly once
   * (unless abortAll() ran first). `limit` bounds the response body (its config key names it in the reason).
   */
  send(request: HttpRequest, limit: BodyLimit, deliver: (outcome: HttpOutcome) => void): string | null {
    const refusal = this.refusal(request.url);
    if (refusal !== null) return refusal;
    const controller = new AbortController();
    this.#pending.add(controller);
    const timer = setTimeout(() => controller.abort(new HttpProblem(`no complete answer within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
    timer.unref();
    this.#exchange(request, limit, controller.signal).then(
      (outcome) => {
        if (this.#pending.has(controller)) deliver(outcome);
      },
      (error: unknown) => {
        if (!this.#pending.has(controller)) return; // aborted by abortAll(): the instance is gone
        const problem = controller.signal.aborted ? controller.signal.reason : error;
        const status = problem instanceof HttpProblem ? problem.status : 0;
        deliver({ ok: false, status, reason: describe(problem) });
      },
    ).finally(() => {
      clearTimeout(timer);
      this.#pending.delete(controller);
    });
    return null;
  }

  abortAll(): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const controller of pending) controller.abort(new HttpProblem('application instance unloaded'));
  }

  /** Why a request to `url` would be refused now (host, scheme, credentials, own port, in-flight count), or null. */
  refusal(url: string): string | null {
    if (this.#pending.size >= MAX_PENDING) return `more than ${MAX_PENDING} requests in flight`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'not an absolute URL';
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `scheme ${parsed.protocol} is not http or https`;
    if (parsed.username !== '' || parsed.password !== '') return 'credentials in the URL are not allowed';
    if (!this.#allowed(parsed.hostname)) return `host ${parsed.hostname} is not in scripts.http.allowHosts`;
    const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
    if (isLoopbackHost(parsed.hostname) && this.#options.refusedLoopbackPorts?.().includes(port)) {
      return `port ${port} is this server's own HTTP port (admin API)`;
    }
    return null;
  }

  #allowed(hostname: string): boolean {
    if (isLoopbackHost(hostname)) return true;
    const host = hostname.toLowerCase().replace(/\.$/, '');
    return this.#options.allowHosts.some((entry) => {
      const allowed = entry.toLowerCase();
      return allowed.startsWith('*.') ? host.endsWith(allowed.slice(1)) : host === allowed;
    });
  }

  async #exchange(request: HttpRequest, limit: BodyLimit, signal: AbortSignal): Promise<HttpOutcome> {
    const headers = new Headers();
    for (const [name, value] of request.headers) {
      if (HEADER_NAME.test(name) && !RESERVED_HEADERS.has(name.toLowerCase()) && !/[\r\n\0]/.test(value)) headers.set(name, value);
    }
    if (request.body !== null) headers.set('content-type', request.contentType);
    let url = request.url;
    let method = request.method;
    let body = request.body;
    for (let hop = 0; ; hop++) {
      const response = await fetch(url, { method, headers, body, redirect: 'manual', signal });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        if (hop >= MAX_REDIRECTS) throw new HttpProblem(`more than ${MAX_REDIRECTS} redirects`, response.status);
        url = new URL(location, url).href;
        const refusal = this.refusal(url);
        if (refusal !== null) throw new HttpProblem(`redirect refused: ${refusal}`, response.status);
        if (response.status !== 307 && response.status !== 308) {
          method = 'GET';
          body = null;
          headers.delete('content-type');
        }
        continue;
      }
      return this.#read(response, limit);
    }
  }

  async #read(response: Response, { maxBytes, key }: BodyLimit): Promise<HttpOutcome> {
    const declared = Number(response.headers.get('content-length') ?? NaN);
    const bytesTotal = Number.isFinite(declared) ? declared : 0;
    if (!response.ok) {
      await response.body?.cancel();
      return { ok: true, status: response.status, body: null, bytesTotal };
    }
    const tooLarge = new HttpProblem(`response larger than ${key} (${maxBytes})`, response.status);
    if (bytesTotal > maxBytes) {
      await response.body?.cancel();
      throw tooLarge;
    }
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    if (response.body) {
      for await (const chunk of response.body) {
        loaded += chunk.byteLength;
        if (loaded > maxBytes) throw tooLarge; // leaving the loop cancels the stream
        chunks.push(chunk);
      }
    }
    return { ok: true, status: response.status, body: Buffer.concat(chunks), bytesTotal: bytesTotal || loaded };
  }
}

/** fetch's network errors say "fetch failed" and keep the reason (ECONNREFUSED, ENOTFOUND) in `cause`. */
function describe(problem: unknown): string {
  if (!(problem instanceof Error)) return String(problem);
  const cause = (problem as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  return detail && !problem.message.includes(detail) ? `${problem.message} (${detail})` : problem.message;
}

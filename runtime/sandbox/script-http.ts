/**
 * HTTP for scripts' LoadVars / XML load, send and sendAndLoad (fms-api §9), through Node's fetch.
 *
 * A script is untrusted code on the operator's network, so every request is bounded:
 * - hosts: loopback (localhost, 127.0.0.0/8, ::1) plus `scripts.http.allowHosts` ("api.example.com"
 *   or "*.example.com"); redirects are followed by hand (at most 5) so each hop is checked too;
 * - time: one deadline for the whole exchange, body included (`timeoutMs`);
 * - size: the body is streamed and the request aborted past `maxBytes`;
 * - count: at most MAX_PENDING requests in flight per instance; dispose aborts them all.
 * Every refusal or failure is one log line (`onProblem`); the script only learns "it failed"
 * (onLoad(false)), as FMS scripts did.
 */

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  /** [name, value] pairs from addRequestHeader; unsafe names are dropped. */
  headers: [string, string][];
  /** POST body, already encoded by the script side (null for GET). */
  body: string | null;
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
   * Starts a request; `deliver` gets its result later, exactly once (unless abortAll() ran first).
   * Returns false — and delivers nothing — when the request is refused before it starts.
   */
  request(request: HttpRequest, deliver: (result: HttpResult) => void): boolean {
    const refusal = this.#refusal(request.url);
    if (refusal !== null) {
      this.#options.onProblem(loggableUrl(request.url), refusal);
      return false;
    }
    const controller = new AbortController();
    this.#pending.add(controller);
    const timer = setTimeout(() => controller.abort(new HttpProblem(`no complete answer within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
    timer.unref();
    this.#exchange(request, controller.signal).then(
      (result) => {
        if (this.#pending.has(controller)) deliver(result);
      },
      (error: unknown) => {
        if (!this.#pending.has(controller)) return; // aborted by abortAll(): the instance is gone
        const problem = controller.signal.aborted ? controller.signal.reason : error;
        const status = problem instanceof HttpProblem ? problem.status : 0;
        this.#options.onProblem(loggableUrl(request.url), problem instanceof Error ? problem.message : String(problem));
        deliver({ status, body: null, bytesLoaded: 0, bytesTotal: 0 });
      },
    ).finally(() => {
      clearTimeout(timer);
      this.#pending.delete(controller);
    });
    return true;
  }

  abortAll(): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const controller of pending) controller.abort(new HttpProblem('application instance unloaded'));
  }

  #refusal(url: string): string | null {
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

  async #exchange(request: HttpRequest, signal: AbortSignal): Promise<HttpResult> {
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
        const refusal = this.#refusal(url);
        if (refusal !== null) throw new HttpProblem(`redirect refused: ${refusal}`, response.status);
        if (response.status !== 307 && response.status !== 308) {
          method = 'GET';
          body = null;
          headers.delete('content-type');
        }
        continue;
      }
      return this.#read(response);
    }
  }

  async #read(response: Response): Promise<HttpResult> {
    const declared = Number(response.headers.get('content-length') ?? NaN);
    const bytesTotal = Number.isFinite(declared) ? declared : 0;
    if (!response.ok) {
      await response.body?.cancel();
      return { status: response.status, body: null, bytesLoaded: 0, bytesTotal };
    }
    const tooLarge = new HttpProblem(`response larger than scripts.http.maxBytes (${this.#options.maxBytes})`, response.status);
    if (bytesTotal > this.#options.maxBytes) {
      await response.body?.cancel();
      throw tooLarge;
    }
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    if (response.body) {
      for await (const chunk of response.body) {
        loaded += chunk.byteLength;
        if (loaded > this.#options.maxBytes) throw tooLarge; // leaving the loop cancels the stream
        chunks.push(chunk);
      }
    }
    const text = new TextDecoder('utf-8').decode(Buffer.concat(chunks));
    return { status: response.status, body: text, bytesLoaded: loaded, bytesTotal: bytesTotal || loaded };
  }
}

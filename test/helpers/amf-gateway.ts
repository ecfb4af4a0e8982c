/**
 * A Flash Remoting gateway on loopback for tests, in the manner of AMFPHP / PyAMF / BlazeDS: it
 * reads AMF request packets (POST, application/x-amf) with the project's codec, calls the service
 * method each message names, and answers "/n/onResult" (the return value) or "/n/onStatus" (a
 * thrown GatewayFault's info). Paths choose how it misbehaves:
 *   /gateway   answers (version 0 packet)        /amf3     answers as an AMF3 gateway (version 3, 0x11 values)
 *   /status500 HTTP 500                         /stall    never answers
 *   /garbage   200 with an HTML page            /big      200 with `bigBytes` bytes
 * Every request is recorded (path, query, the AMF headers and messages it carried).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeAmfPacket, encodeAmfPacket, type AmfPacketHeader, type AmfPacketMessage } from '../../runtime/rtmp/amf-packet.ts';

export interface GatewayRequest {
  path: string;
  query: string;
  contentType: string;
  version: number;
  headers: AmfPacketHeader[];
  messages: AmfPacketMessage[];
}

/** Thrown by a service: the call is answered with onStatus(info). */
export class GatewayFault {
  constructor(readonly info: Record<string, unknown>) {}
}

export type ServiceMethod = (args: unknown[], request: GatewayRequest) => unknown;

export class AmfGateway {
  readonly requests: GatewayRequest[] = [];
  readonly services = new Map<string, ServiceMethod>();
  /** Headers the next answer carries (then cleared): AppendToGatewayUrl, RequestPersistentHeader… */
  nextAnswerHeaders: AmfPacketHeader[] = [];
  bigBytes = 64 * 1024;
  readonly #server: http.Server;
  readonly #stalled = new Set<http.ServerResponse>();
  #waiters: { count: number; resolve: () => void }[] = [];
  #port = 0;

  constructor() {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  url(path = '/gateway'): string {
    return `http://127.0.0.1:${this.#port}${path}`;
  }

  /** Service methods by their full name ("Auth.login", "svc.echo"). */
  service(name: string, method: ServiceMethod): this {
    this.services.set(name, method);
    return this;
  }

  /** Resolves once `count` requests have arrived in total. */
  waitForRequests(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway saw ${this.requests.length} of ${count} requests`)), timeoutMs);
      this.#waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async close(): Promise<void> {
    for (const res of this.#stalled) res.destroy();
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = new URL(req.url ?? '/', 'http://gateway');
      let packet;
      try {
        packet = decodeAmfPacket(Buffer.concat(chunks));
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`not an AMF request: ${(error as Error).message}`);
        return;
      }
      const request: GatewayRequest = {
        path: target.pathname,
        query: target.search,
        contentType: req.headers['content-type'] ?? '',
        version: packet.version,
        headers: packet.headers,
        messages: packet.messages,
      };
      this.requests.push(request);
      this.#waiters = this.#waiters.filter((w) => (this.requests.length >= w.count ? (w.resolve(), false) : true));
      this.#answer(request, res);
    });
  }

  #answer(request: GatewayRequest, res: http.ServerResponse): void {
    switch (request.path) {
      case '/status500':
        res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>500 Internal Server Error</h1>');
        return;
      case '/stall':
        this.#stalled.add(res);
        return;
      case '/garbage':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<br />\n<b>Warning</b>: session_start(): headers already sent');
        return;
      case '/big':
        res.writeHead(200, { 'content-type': 'application/x-amf' }).end(Buffer.alloc(this.bigBytes, 0x41));
        return;
    }
    const messages: AmfPacketMessage[] = request.messages.map((message) => {
      const method = this.services.get(message.targetUri);
      const args = Array.isArray(message.value) ? message.value : [message.value];
      try {
        if (!method) throw new GatewayFault({ level: 'error', code: 'Server.ResourceNotFound', description: `Service ${message.targetUri} not found` });
        return { targetUri: `${message.responseUri}/onResult`, responseUri: 'null', value: method(args, request) };
      } catch (error) {
        const info = error instanceof GatewayFault ? error.info : { level: 'error', code: 'Server.Processing', description: String(error) };
        return { targetUri: `${message.responseUri}/onStatus`, responseUri: 'null', value: info };
      }
    });
    const headers = this.nextAnswerHeaders;
    this.nextAnswerHeaders = [];
    const body = encodeAmfPacket({ version: request.path === '/amf3' ? 3 : 0, headers, messages });
    res.writeHead(200, { 'content-type': 'application/x-amf', 'content-length': body.length }).end(body);
  }
}

/**
 * Flash Remoting from scripts: a server-side NetConnection connected to an http(s):// gateway
 * (fms-api §4). As on FMS (and Flash Player), connect() opens nothing and reports nothing; each
 * nc.call(method, responder, ...args) becomes one message of an AMF remoting packet
 * (runtime/rtmp/amf-packet.ts) sent by HTTP POST, and the gateway's answer for "/n" goes to that
 * call's responder: "/n/onResult" → onResult(value), "/n/onStatus" → onStatus(value).
 *
 * - Batching: the calls one script turn (one handler, main.asc's top level) makes on a connection
 *   travel in one packet — the sandbox calls flush() when the turn ends.
 * - Headers: nc.addHeader(name, mustUnderstand, value) goes with every later packet; the gateway's
 *   AppendToGatewayUrl / ReplaceGatewayUrl / RequestPersistentHeader answers change the URL or add
 *   a header for the following packets, as Flash Player's NetConnection did.
 * - HTTP rules are LoadVars'/XML's (ScriptHttp: allowed hosts, redirects re-checked, one deadline,
 *   body cap); the budgets of this door are scripts.remoting.* (in flight, queued calls, batch size,
 *   response bytes).
 * - Failures are never silent: a refused host, DNS, a timeout, an HTTP error status or a body that
 *   is no AMF packet reaches each affected call's responder (its onStatus, else nc.onStatus) with
 *   an error info object, and is one SCRIPT_REMOTING_FAILED log line.
 */
import { ErrorCode } from '../errors.ts';
import { decodeAmfPacket, encodeAmfPacket, type AmfPacketHeader, type AmfPacketMessage } from '../rtmp/amf-packet.ts';
import type { CallResultRecord, InfoRecord } from '../../host-api/protocol.ts';
import { status } from '../common/status-codes.ts';
import { loggableUrl, type HttpOutcome, type ScriptHttp } from './script-http.ts';

export interface RemotingBudgets {
  /** HTTP requests (packets) in flight per instance; further packets wait their turn. */
  maxRequestsInFlight: number;
  /** Calls queued (this turn's and waiting packets') per instance; beyond it nc.call fails. */
  maxQueuedCalls: number;
  /** Calls per packet; a turn with more calls on one connection sends several packets. */
  maxCallsPerPacket: number;
  /** Largest gateway answer accepted. */
  maxResponseBytes: number;
}

export interface RemotingEvents {
  /** A status for the NetConnection itself: a call without a responder failed. */
  status(ncId: number, info: InfoRecord): void;
  /** One log line per failure (a whole packet's, or one call's). */
  problem(fields: Record<string, unknown>, message: string): void;
  /** Debug-level line per completed exchange. */
  exchanged(fields: Record<string, unknown>): void;
}

interface Gateway {
  ncId: number;
  /** The URL connect() was given: AppendToGatewayUrl appends to this one. */
  connectUrl: string;
  /** Where the next packet goes. */
  url: string;
  /** Response URIs count up per connection: "/1", "/2", … */
  nextResponse: number;
}

interface QueuedCall {
  method: string;
  args: unknown[];
  /** The script's responder; without one a failure goes to the NetConnection's onStatus. */
  onResult: ((result: CallResultRecord) => void) | undefined;
}

interface Packet {
  gateway: Gateway;
  calls: (QueuedCall & { responseUri: string })[];
}

const MAX_LOGGED_METHODS = 10;
const GATEWAY_SCHEME = /^https?:\/\//i;

/** Flash Player's descriptions, which scripts print and sometimes compare. */
const HTTP_FAILED = 'HTTP: Failed';

export class ScriptRemoting {
  readonly #http: ScriptHttp;
  readonly #budgets: RemotingBudgets;
  readonly #events: RemotingEvents;
  readonly #gateways = new Map<number, Gateway>();
  /** nc.addHeader values, per NetConnection id: they outlive a connect() to another URL. */
  readonly #headers = new Map<number, Map<string, AmfPacketHeader>>();
  /** Calls made in the current turn, per connection, in call order. */
  readonly #turn = new Map<Gateway, QueuedCall[]>();
  readonly #waiting: Packet[] = [];
  #queuedCalls = 0;
  #inFlight = 0;
  #closed = false;

  constructor(http: ScriptHttp, budgets: RemotingBudgets, events: RemotingEvents) {
    this.#http = http;
    this.#budgets = budgets;
    this.#events = events;
  }

  /** connect() to an http:// or https:// URL makes a remoting connection (anything else is RTMP's). */
  static isGatewayUri(uri: string): boolean {
    return GATEWAY_SCHEME.test(uri);
  }

  /** nc.connect("http://…"): records the gateway; nothing is opened, nothing reported (as on FMS). */
  connect(ncId: number, uri: string): boolean {
    this.#gateways.set(ncId, { ncId, connectUrl: uri, url: uri, nextResponse: 1 });
    return true;
  }

  /** Whether nc.call on this NetConnection id goes to a gateway. */
  has(ncId: number): boolean {
    return this.#gateways.has(ncId);
  }

  /** nc.close() or a connect() elsewhere: later calls are not remoting; calls already queued still go. */
  forget(ncId: number): void {
    this.#gateways.delete(ncId);
  }

  /** nc.addHeader(name, mustUnderstand, value): same name replaces; undefined removes. */
  addHeader(ncId: number, name: string, mustUnderstand: boolean, value: unknown): void {
    let headers = this.#headers.get(ncId);
    if (value === undefined) {
      headers?.delete(name);
      return;
    }
    if (!headers) {
      headers = new Map();
      this.#headers.set(ncId, headers);
    }
    headers.set(name, { name, mustUnderstand, value });
  }

  /**
   * nc.call on a remoting connection: queued for this turn's packet. False when it cannot be sent
   * (host refused, queue full); its responder then hears Call.Failed after the current handler.
   */
  call(ncId: number, method: string, args: unknown[], onResult: ((result: CallResultRecord) => void) | undefined): boolean {
    const gateway = this.#gateways.get(ncId);
    if (!gateway || this.#closed) return false;
    const call: QueuedCall = { method, args, onResult };
    const refusal = this.#http.refusal(gateway.url) ??
      (this.#queuedCalls >= this.#budgets.maxQueuedCalls ? `more than scripts.remoting.maxQueuedCalls (${this.#budgets.maxQueuedCalls}) calls waiting` : null);
    if (refusal !== null) {
      this.#fail(gateway, [call], refusal, status.callFailed(HTTP_FAILED, { details: loggableUrl(gateway.url) }));
      return false;
    }
    let calls = this.#turn.get(gateway);
    if (!calls) {
      calls = [];
      this.#turn.set(gateway, calls);
    }
    calls.push(call);
    this.#queuedCalls++;
    return true;
  }

  /** The script's turn ended: this turn's calls leave, one packet per connection (per batch size). */
  flush(): void {
    if (this.#turn.size === 0) return;
    for (const [gateway, calls] of this.#turn) {
      for (let start = 0; start < calls.length; start += this.#budgets.maxCallsPerPacket) {
        const batch = calls.slice(start, start + this.#budgets.maxCallsPerPacket);
        this.#waiting.push({ gateway, calls: batch.map((call) => ({ ...call, responseUri: `/${gateway.nextResponse++}` })) });
      }
    }
    this.#turn.clear();
    this.#pump();
  }

  /** The instance is going: nothing more is sent or delivered (in-flight requests are aborted by ScriptHttp). */
  close(): void {
    this.#closed = true;
    this.#turn.clear();
    this.#waiting.length = 0;
    this.#gateways.clear();
  }

  #pump(): void {
    while (!this.#closed && this.#inFlight < this.#budgets.maxRequestsInFlight && this.#waiting.length > 0) {
      this.#send(this.#waiting.shift()!);
    }
  }

  #send(packet: Packet): void {
    const { gateway } = packet;
    const url = gateway.url;
    let body: Buffer;
    try {
      body = encodeAmfPacket({
        version: 0,
        headers: [...(this.#headers.get(gateway.ncId)?.values() ?? [])],
        messages: packet.calls.map((call) => ({ targetUri: call.method, responseUri: call.responseUri, value: call.args })),
      });
    } catch (error) {
      // A value AMF cannot carry (a string key over 64 KiB…): the script's data, the script's failure.
      this.#settle(packet);
      this.#fail(gateway, packet.calls, `arguments cannot be encoded: ${(error as Error).message}`, status.callFailed(HTTP_FAILED, { details: loggableUrl(url) }));
      return;
    }
    const startedAt = performance.now();
    const request = { method: 'POST' as const, url, headers: [], body, contentType: 'application/x-amf' };
    const refusal = this.#http.send(request, { maxBytes: this.#budgets.maxResponseBytes, key: 'scripts.remoting.maxResponseBytes' }, (outcome) => {
      this.#inFlight--;
      this.#settle(packet);
      this.#answer(packet, url, outcome, startedAt);
      this.#pump();
    });
    if (refusal !== null) {
      this.#settle(packet);
      this.#fail(gateway, packet.calls, refusal, status.callFailed(HTTP_FAILED, { details: loggableUrl(url) }));
      return;
    }
    this.#inFlight++;
  }

  /** The packet left the queue (answered, failed or refused): its calls no longer count as queued. */
  #settle(packet: Packet): void {
    this.#queuedCalls -= packet.calls.length;
  }

  #answer(packet: Packet, url: string, outcome: HttpOutcome, startedAt: number): void {
    const { gateway } = packet;
    const details = loggableUrl(url);
    if (!outcome.ok) return this.#fail(gateway, packet.calls, outcome.reason, status.callFailed(HTTP_FAILED, { details }));
    if (outcome.status < 200 || outcome.status > 299 || outcome.body === null) {
      return this.#fail(gateway, packet.calls, `HTTP status ${outcome.status}`, status.callFailed(`HTTP: Status ${outcome.status}`, { details }));
    }
    let messages: AmfPacketMessage[];
    try {
      const answer = decodeAmfPacket(outcome.body);
      this.#applyHeaders(gateway, answer.headers);
      messages = answer.messages;
    } catch (error) {
      // Flash Player's code for an answer that is no AMF (a PHP warning printed before the packet…).
      return this.#fail(gateway, packet.calls, `the answer is not an AMF packet: ${(error as Error).message}`, status.callBadVersion('HTTP: Bad AMF packet.', { details }));
    }
    this.#events.exchanged({ url: details, calls: packet.calls.length, status: outcome.status, ms: Math.round(performance.now() - startedAt) });
    const byTarget = new Map(messages.map((m) => [m.targetUri, m.value]));
    for (const call of packet.calls) {
      const ok = `${call.responseUri}/onResult`;
      const failed = `${call.responseUri}/onStatus`;
      if (byTarget.has(ok)) this.#deliver(gateway, call, { ok: true, value: byTarget.get(ok) });
      else if (byTarget.has(failed)) {
        const info = statusInfo(byTarget.get(failed));
        this.#events.problem({ code: ErrorCode.ScriptRemotingFailed, url: details, method: call.method, reason: `gateway answered onStatus: ${String(info.description ?? info.code)}` }, 'remoting call failed');
        this.#deliver(gateway, call, { ok: false, info });
      } else {
        this.#fail(gateway, [call], `no answer for ${call.responseUri} in the gateway's packet`, status.callFailed(HTTP_FAILED, { details }));
      }
    }
  }

  /** What the gateway asks of this connection in its answer's headers (Flash Player's NetConnection behaviour). */
  #applyHeaders(gateway: Gateway, headers: AmfPacketHeader[]): void {
    if (this.#gateways.get(gateway.ncId) !== gateway) return; // reconnected meanwhile: the old gateway's wishes are moot
    for (const header of headers) {
      if (header.name === 'AppendToGatewayUrl' && typeof header.value === 'string') gateway.url = gateway.connectUrl + header.value;
      else if (header.name === 'ReplaceGatewayUrl' && typeof header.value === 'string' && ScriptRemoting.isGatewayUri(header.value)) gateway.url = header.value;
      else if (header.name === 'RequestPersistentHeader' && typeof header.value === 'object' && header.value !== null) {
        const wanted = header.value as { name?: unknown; mustUnderstand?: unknown; data?: unknown };
        if (typeof wanted.name === 'string') this.addHeader(gateway.ncId, wanted.name, wanted.mustUnderstand === true, wanted.data);
      }
    }
  }

  /** Every call given fails with `info`; one log line for all of them. */
  #fail(gateway: Gateway, calls: QueuedCall[], reason: string, info: InfoRecord): void {
    const methods = calls.slice(0, MAX_LOGGED_METHODS).map((c) => c.method);
    this.#events.problem({ code: ErrorCode.ScriptRemotingFailed, url: loggableUrl(gateway.url), reason, calls: calls.length, methods }, `remoting call failed: ${reason}`);
    for (const call of calls) this.#deliver(gateway, call, { ok: false, info });
  }

  #deliver(gateway: Gateway, call: QueuedCall, result: CallResultRecord): void {
    if (this.#closed) return;
    if (call.onResult) call.onResult(result);
    else if (!result.ok) this.#events.status(gateway.ncId, result.info as InfoRecord);
  }
}

/** A gateway's onStatus value as the responder gets it: objects as they came, anything else wrapped. */
function statusInfo(value: unknown): InfoRecord {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const info = value as Record<string, unknown>;
    return { ...info, level: typeof info.level === 'string' ? info.level : 'error', code: typeof info.code === 'string' ? info.code : 'NetConnection.Call.Failed' };
  }
  return status.callFailed(String(value));
}

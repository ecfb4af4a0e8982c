import { ErrorCode, ProtocolError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';
import { nameProblem, type ArgumentLimits } from './argument-budget.ts';
import { ecmaArray } from '../rtmp/amf-values.ts';
import { HANDED_OVER, type RtmpCommand, type RtmpConnection } from '../rtmp/connection.ts';
import { MessageType, UserControlEvent, type RtmpMessage } from '../rtmp/message.ts';
import { fmsProtocol, isSecure } from '../rtmp/transport.ts';
import { decodeSharedObjectMessage } from '../rtmp/shared-object-codec.ts';
import type { CallResultRecord, ClientRecord } from '../../host-api/protocol.ts';
import type { SharedObjectSubscriber } from '../shared-objects/shared-object-state.ts';
import type { SharedObjectStore } from '../shared-objects/shared-object-store.ts';
import { CAPABILITIES, FMS_VERSION, MODE, status, type InfoObject } from '../common/status-codes.ts';
import type { NetStreamSession, StreamHost } from './net-stream-session.ts';
import { ClientStreams } from './client-streams.ts';
import type { BandwidthLimiter } from '../media/bandwidth-limiter.ts';
import type { BandwidthSettings } from './bandwidth-settings.ts';
import { ClientBandwidth } from './client-bandwidth.ts';
import type { ConnectTarget } from './connect-target.ts';
import { overBudget, readConnectRequest, refused, type ConnectOutcome, type EndLevel } from './connect-request.ts';

/** What a client session needs from the instance it joined. */
export interface SessionOwner {
  readonly name: string;
  call(session: ClientSession, method: string, args: unknown[]): Promise<{ ok: true; value: unknown } | { ok: false; description: string }>;
  /** For NetStreamSession: publish/play against the instance's streams. */
  readonly streamHost: StreamHost;
  sessionClosed(session: ClientSession, reason: string, wasAccepted: boolean): void;
  readonly sharedObjects: SharedObjectStore;
}

/** Commands a client may never call as methods (fms-api §0): they are RTMP commands or protected. */
export const RESERVED_METHODS = new Set([
  'closeStream', 'connect', 'createStream', 'deleteStream', 'onStatus', 'pause', 'play', 'publish',
  'receiveAudio', 'receiveVideo', 'seek', 'getBandwidthLimit', 'setBandwidthLimit', 'getStats', 'ping',
]);

/** `connecting`: handshake done, no connect command yet; `pending`: routed, waiting for the decision. */
type SessionState = 'connecting' | 'pending' | 'accepted' | 'closed';

/** The budgets a session enforces on what its client sends (config `rtmp.*`). */
export interface SessionLimits {
  arguments: ArgumentLimits;
  /** rtmp.connectTimeoutMs: from the end of the handshake to the application's decision. */
  connectTimeoutMs: number;
  /** rtmp.idleTimeoutSec, in ms: an accepted client silent this long (ping unanswered) is closed. */
  idleTimeoutMs: number;
  budgetLog: RateLimitedLog;
}

/**
 * How a client that is done often hangs up: ffmpeg sends FCUnpublish and deleteStream and closes
 * the socket while our answers are still on their way, so the next write fails with EPIPE or the
 * read with ECONNRESET. With no stream left publishing or playing that is a normal end, not an error.
 */
const PEER_GONE_CODES = new Set(['EPIPE', 'ECONNRESET']);

let nextClientNumber = 1;
/** FMS-style opaque client id: unique for the life of the process. */
function newClientId(): string {
  return (nextClientNumber++).toString(36).padStart(8, 'A');
}

/** FMS defaults of the Client access properties (fms-api §3.1): everything readable and writable. */
export const DEFAULT_ACCESS = { readAccess: '/', writeAccess: '/', audioSampleAccess: '', videoSampleAccess: '' } as const;

/** Why the session is ending, set by whoever closes it, for the one end line. */
interface Ending {
  reason: string;
  level: EndLevel;
  fields?: Record<string, unknown>;
}

/**
 * One inbound RTMP client with FMS connection semantics, from the end of its handshake to its close.
 * It owns the connect path: one timer from the handshake to the decision, the connect command
 * (checked against its budgets), and one `decide(outcome)` whoever decides — the script's onConnect
 * return value or its accept/reject/redirect calls, the router, the instance, the timer. Accepted,
 * it may call methods, create streams, publish and play; server→client calls with result callbacks
 * go through `call`. Its end is logged once, with the reason.
 */
export class ClientSession {
  readonly id = newClientId();
  readonly connection: RtmpConnection;
  /** The script's view of the client; the connect fields are filled when the connect command arrives. */
  readonly info: ClientRecord;
  connectArgs: unknown[] = [];
  readonly connectedAt = Date.now();
  readonly log: Logger;
  readonly limits: SessionLimits;
  readonly #route: (session: ClientSession) => void;
  #target: ConnectTarget | null = null;
  #owner: SessionOwner | null = null;
  #state: SessionState = 'connecting';
  #connectTxn = 0;
  #connectTimer: NodeJS.Timeout | null;
  #ending: Ending | null = null;
  readonly #streams = new ClientStreams(this);
  #nextTxn = 1;
  #pendingCalls = new Map<number, (result: CallResultRecord) => void>();
  readonly #bandwidth = new ClientBandwidth();

  /** A connection whose handshake is done; `route` sends its connect on to an application instance. */
  constructor(connection: RtmpConnection, limits: SessionLimits, log: Logger, route: (session: ClientSession) => void) {
    this.connection = connection;
    this.limits = limits;
    this.#route = route;
    this.info = {
      id: this.id,
      ip: connection.remoteAddress,
      agent: '',
      protocol: fmsProtocol(connection.transport),
      secure: isSecure(connection.transport),
      referrer: '',
      pageUrl: '',
      uri: '',
      objectEncoding: 0,
      virtualKey: '',
      ...DEFAULT_ACCESS,
    };
    this.log = log.child({ client: this.id, transport: connection.transportName });
    // The first command is the connect: larger than its budget, it is refused without being decoded.
    connection.commandByteLimit = limits.arguments.maxConnectBytes;
    this.#connectTimer = setTimeout(() => this.#connectTimedOut(), limits.connectTimeoutMs);
    connection.on('command', (command) => this.#onCommand(command));
    connection.on('commandTooLarge', (head, bytes) => this.#onConnectTooLarge(head, bytes));
    connection.on('data', (values, message) => this.#streams.data(values, message));
    connection.on('media', (message) => this.#streams.media(message));
    connection.on('sharedObject', (message) => this.#onSharedObject(message));
    connection.on('close', (reason, error) => this.#onClose(reason, error));
    connection.on('idle', () => this.#onIdle());
  }

  get state(): SessionState {
    return this.#state;
  }

  get accepted(): boolean {
    return this.#state === 'accepted';
  }

  /** Where the client wants to go (known once its connect command arrived). */
  get target(): ConnectTarget | null {
    return this.#target;
  }

  /** The instance the router handed this connect to: it (or its script) decides. */
  join(owner: SessionOwner): void {
    this.#owner = owner;
  }

  /**
   * Answers the connect: `_result` with Connect.Success, or the `_error` with the outcome's info
   * and the close, as FMS does. The first decision wins; false for every later one.
   */
  decide(outcome: ConnectOutcome): boolean {
    if (this.#state !== 'pending' && this.#state !== 'connecting') return false;
    this.#clearConnectTimer();
    if (!outcome.accept) {
      const redirect = (outcome.info['ex'] as { redirect?: unknown } | undefined)?.redirect;
      this.#ending = { reason: outcome.reason, level: outcome.level, fields: { answer: outcome.info.code, ...(redirect === undefined ? {} : { redirect }) } };
      this.connection.sendCommand(0, '_error', this.#connectTxn, null, [outcome.info]);
      this.#state = 'closed';
      this.connection.close(`rejected: ${outcome.info.code}`);
      return true;
    }
    this.#state = 'accepted';
    // FMS tells the client its client→server allowance with Set Peer Bandwidth (Flash Player paces its upload to it).
    if (this.#bandwidth.clientToServer > 0) this.connection.setPeerBandwidth(this.#bandwidth.clientToServer);
    this.connection.sendUserControl(UserControlEvent.StreamBegin, 0);
    const props = { fmsVer: FMS_VERSION, capabilities: CAPABILITIES, mode: MODE };
    const info = status.connectSuccess(this.info.objectEncoding);
    info['data'] = ecmaArray(info['data'] as Record<string, unknown>);
    this.connection.sendCommand(0, '_result', this.#connectTxn, props, [info]);
    this.connection.watchIdle(this.limits.idleTimeoutMs);
    this.log.info({ app: this.#owner?.name, agent: this.info.agent }, 'client accepted');
    return true;
  }

  /** Server-side disconnect of an accepted client (application.disconnect, shutdown): `info` first, then the close. */
  disconnect(reason: string, info?: InfoObject): void {
    if (this.#state === 'closed') return;
    if (info && this.accepted) this.connection.sendCommand(0, 'onStatus', 0, null, [info]);
    this.#end(reason, 'info');
  }

  #end(reason: string, level: EndLevel, error?: Error, fields?: Record<string, unknown>): void {
    this.#ending ??= { reason, level, ...(fields ? { fields } : {}) };
    this.connection.close(reason, error);
  }

  /** One timer for the whole connect: the connect command and the application's decision. */
  #connectTimedOut(): void {
    this.#connectTimer = null;
    if (this.#state === 'connecting') this.#end('no connect command in time', 'warn');
    else if (this.#state === 'pending') {
      this.decide(refused(status.connectRejected('Connection timed out waiting for the application.'), 'connect not decided in time', 'warn'));
    }
  }

  /** The first command: a connect, checked against its budgets, then routed to its instance. */
  #onConnectCommand(command: RtmpCommand): void {
    this.connection.commandByteLimit = Number.POSITIVE_INFINITY;
    if (command.name !== 'connect') return this.#end('protocol: first command is not connect', 'warn', undefined, { command: command.name });
    this.#connectTxn = command.transactionId;
    const request = readConnectRequest(command, this.limits.arguments);
    if ('outcome' in request) {
      if (request.budget) this.#budgetHit(request.budget);
      this.decide(request.outcome);
      return;
    }
    this.#target = request.target;
    this.connectArgs = request.args;
    Object.assign(this.info, request.fields);
    this.connection.objectEncoding = request.fields.objectEncoding;
    this.#state = 'pending';
    this.#route(this);
  }

  /** A first command larger than rtmp.maxConnectBytes: refused without being decoded. */
  #onConnectTooLarge(head: { name: string; transactionId: number }, bytes: number): void {
    if (this.#state !== 'connecting') return;
    this.connection.commandByteLimit = Number.POSITIVE_INFINITY;
    if (head.name !== 'connect') return this.#end('protocol: first command is not connect', 'warn', undefined, { command: head.name.slice(0, 64) });
    this.#connectTxn = head.transactionId;
    const limit = this.limits.arguments.maxConnectBytes;
    this.#budgetHit('rtmp.maxConnectBytes');
    this.decide(overBudget('rtmp.maxConnectBytes', `Connect command is ${bytes} bytes; the limit is ${limit}.`).outcome);
  }

  #budgetHit(budget: string): void {
    this.limits.budgetLog.exceeded(budget, { code: ErrorCode.ArgumentTooLarge, ip: this.info.ip }, 'connect over budget rejected');
  }

  /** FMS's idle-client reaper (AutoCloseIdleClients): IdleTimeout, then the close. */
  #onIdle(): void {
    if (this.#state !== 'accepted') return;
    const seconds = Math.round(this.limits.idleTimeoutMs / 1000);
    this.limits.budgetLog.exceeded('rtmp.idleTimeoutSec', { code: ErrorCode.IdleTimeout, ip: this.info.ip, client: this.id, app: this.#owner?.name }, 'idle client closed');
    this.connection.sendCommand(0, 'onStatus', 0, null, [status.connectIdleTimeout(seconds)]);
    this.connection.close('idle timeout', new ProtocolError(ErrorCode.IdleTimeout, `no traffic for ${seconds} s`));
  }

  /** A name over its budget (rtmp.maxNameChars): refused before it is stored or logged; one rate-limited line. */
  nameRefused(what: 'Stream' | 'Method', name: string): string | null {
    const problem = nameProblem(what, name, this.limits.arguments);
    if (problem) this.limits.budgetLog.exceeded('rtmp.maxNameChars', { code: ErrorCode.ArgumentTooLarge, ip: this.info.ip, client: this.id, chars: name.length }, `${what.toLowerCase()} name over budget refused`);
    return problem;
  }

  /** The instance's bandwidth defaults (Application.xml Client/Bandwidth, BandwidthCap), before onConnect. */
  setBandwidthDefaults(settings: BandwidthSettings): void {
    this.#bandwidth.setDefaults(settings);
    this.#applyLimiter();
  }

  /** client.setBandwidthLimit(serverToClient, clientToServer), bytes/s (see ClientBandwidth). */
  setBandwidthLimit(serverToClient: number, clientToServer: number): void {
    const announce = this.#bandwidth.setLimit(serverToClient, clientToServer);
    this.#applyLimiter();
    if (announce && this.accepted) this.connection.setPeerBandwidth(this.#bandwidth.clientToServer);
  }

  /** client.getBandwidthLimit(direction): 0 → client-to-server, 1 → server-to-client. */
  getBandwidthLimit(direction: 0 | 1): number {
    return this.#bandwidth.limit(direction);
  }

  /** The limiter a new play's queue starts with. */
  get bandwidthLimiter(): BandwidthLimiter | null {
    return this.#bandwidth.limiter;
  }

  #applyLimiter(): void {
    this.#streams.setLimiter(this.#bandwidth.limiter);
  }

  /** Invokes a method on the client's NetConnection; `onResult` gets its `_result`/`_error`. */
  call(method: string, args: unknown[], onResult?: (result: CallResultRecord) => void): boolean {
    if (this.#state !== 'accepted') return false;
    const txn = onResult ? this.#nextTxn++ : 0;
    if (onResult) this.#pendingCalls.set(txn, onResult);
    this.connection.sendCommand(0, method, txn, null, args);
    return true;
  }

  #onCommand(command: RtmpCommand): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'connecting') return this.#onConnectCommand(command);
    if (command.name === '_result' || command.name === '_error') return this.#onCallResult(command);
    if (this.#state !== 'accepted') {
      this.log.debug({ command: command.name }, 'command before accept ignored');
      return;
    }
    if (command.streamId !== 0 && this.#streams.command(command)) return;
    switch (command.name) {
      case 'createStream':
        this.connection.sendCommand(0, '_result', command.transactionId, null, [this.#streams.create(this.#owner!.streamHost)]);
        return;
      case 'deleteStream':
        return this.#streams.close(Number(command.args[0]), true);
      case 'closeStream':
        return this.#streams.close(command.streamId, false);
      default:
        void this.#onMethodCall(command);
        return;
    }
  }

  async #onMethodCall(command: RtmpCommand): Promise<void> {
    const respond = (ok: boolean, value: unknown) => {
      if (command.transactionId === 0 || this.#state === 'closed') return;
      this.connection.sendCommand(0, ok ? '_result' : '_error', command.transactionId, null, [value]);
    };
    const tooLong = this.nameRefused('Method', command.name);
    if (tooLong) return respond(false, status.callFailed(tooLong));
    if (RESERVED_METHODS.has(command.name)) {
      return respond(false, status.callFailed(`Method not found (${command.name}).`));
    }
    // ffmpeg/OBS send these before publishing; they arrive as ordinary calls (fms-api §10).
    const outcome = await this.#owner!.call(this, command.name, command.args);
    if (outcome.ok) respond(true, outcome.value ?? null);
    else respond(false, status.callFailed(outcome.description));
  }

  #onCallResult(command: RtmpCommand): void {
    const callback = this.#pendingCalls.get(command.transactionId);
    if (!callback) return;
    this.#pendingCalls.delete(command.transactionId);
    const value = command.args[0];
    if (command.name === '_result') callback({ ok: true, value });
    else callback({ ok: false, info: (value ?? status.callFailed('Call failed.')) as Record<string, unknown> });
  }

  /** This client as a shared-object subscriber; replies use the encoding it last spoke. */
  readonly #soSubscriber: SharedObjectSubscriber = this.#makeSoSubscriber();

  #makeSoSubscriber(): SharedObjectSubscriber {
    const info = () => this.info;
    return {
      id: this.id,
      get readAccess() {
        return info().readAccess;
      },
      get writeAccess() {
        return info().writeAccess;
      },
      send: (_message, encoded) => {
        const amf3 = this.#soAmf3 ?? this.info.objectEncoding === 3;
        const message = { type: amf3 ? MessageType.SharedObjectAmf3 : MessageType.SharedObjectAmf0, timestamp: 0, payload: encoded.payload(amf3) };
        this.connection.sendShared(message, 0, encoded.wire(amf3)); // bytes shared with the other subscribers
      },
    };
  }

  #soAmf3: boolean | null = null;

  #onSharedObject(message: RtmpMessage): void {
    if (this.#state !== 'accepted' || !this.#owner) return;
    this.#soAmf3 = message.type === MessageType.SharedObjectAmf3;
    // A malformed message throws a ProtocolError: the connection closes with one log line.
    this.#owner.sharedObjects.handleMessage(this.#soSubscriber, decodeSharedObjectMessage(message.payload, this.#soAmf3));
  }

  /** The one end of the session, whoever closed the connection: cleanup, then the one end line. */
  #onClose(reason: string, error: Error | undefined): void {
    if (reason === HANDED_OVER) {
      // Process distribution: its route gave the connection to a worker process, whose session goes on with it.
      this.#state = 'closed';
      this.#clearConnectTimer();
      this.log.debug({ app: this.#target?.app }, 'client handed to its worker process');
      return;
    }
    const wasAccepted = this.#state === 'accepted';
    const socketCode = (error as { code?: string } | undefined)?.code;
    const hungUp = socketCode !== undefined && PEER_GONE_CODES.has(socketCode) && !this.streams.some((s) => s.active);
    const ending = this.#ending;
    const endReason = ending?.reason ?? (hungUp ? 'peer closed' : reason);
    this.#state = 'closed';
    this.#clearConnectTimer();
    this.#streams.closeAll();
    this.#owner?.sharedObjects.releaseAll(this.#soSubscriber);
    for (const callback of this.#pendingCalls.values()) callback({ ok: false, info: status.connectClosed() });
    this.#pendingCalls.clear();
    const fields = {
      app: this.#owner?.name ?? this.#target?.app, reason: endReason, wasAccepted, bytesIn: this.connection.bytesIn, bytesOut: this.connection.bytesOut, ...ending?.fields,
    };
    if (error && !hungUp) this.log.warn({ ...fields, err: { message: error.message, code: socketCode } }, 'client closed');
    else if (hungUp) this.log.info({ ...fields, socketCode }, 'client closed');
    else this.log[ending?.level ?? 'info'](fields, 'client closed');
    this.#owner?.sessionClosed(this, endReason, wasAccepted);
  }

  #clearConnectTimer(): void {
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
  }

  /** Media messages dropped for this client's players by their bounded queues (client.getStats msg_dropped). */
  get messagesDropped(): number {
    return this.#streams.messagesDropped;
  }

  /** Streams this client currently has (for stats and the admin view). */
  get streams(): NetStreamSession[] {
    return this.#streams.list;
  }
}

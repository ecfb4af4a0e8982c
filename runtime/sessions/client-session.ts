import { ErrorCode, ProtocolError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';
import { nameProblem, type ArgumentLimits } from './argument-budget.ts';
import { ecmaArray } from '../rtmp/amf-values.ts';
import type { RtmpCommand, RtmpConnection } from '../rtmp/connection.ts';
import { MessageType, UserControlEvent, type RtmpMessage } from '../rtmp/message.ts';
import { fmsProtocol, isSecure } from '../rtmp/transport.ts';
import { decodeSharedObjectMessage } from '../rtmp/shared-object-codec.ts';
import type { CallResultRecord, ClientRecord, RejectRecord } from '../../host-api/protocol.ts';
import type { SharedObjectSubscriber } from '../shared-objects/shared-object-state.ts';
import type { SharedObjectStore } from '../shared-objects/shared-object-store.ts';
import { CAPABILITIES, FMS_VERSION, MODE, status, type InfoObject } from '../common/status-codes.ts';
import { NetStreamSession, type StreamHost } from './net-stream-session.ts';
import { BandwidthLimiter } from '../media/bandwidth-limiter.ts';
import { FMS_DEFAULT_BANDWIDTH_BYTES, type BandwidthSettings } from './bandwidth-settings.ts';
import type { ConnectTarget } from './connect-target.ts';

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

type SessionState = 'pending' | 'accepted' | 'closed';

/** The budgets a session enforces on what its client sends (config `rtmp.*`). */
export interface SessionLimits {
  arguments: ArgumentLimits;
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

/**
 * One inbound RTMP client with FMS connection semantics: its connect waits for the application's
 * decision (accept, reject with info, redirect), then it may call methods, create streams,
 * publish and play. Server→client calls with result callbacks go through `call`.
 */
export class ClientSession {
  readonly id = newClientId();
  readonly connection: RtmpConnection;
  readonly info: ClientRecord;
  readonly target: ConnectTarget;
  readonly connectArgs: unknown[];
  readonly connectedAt = Date.now();
  readonly log: Logger;
  readonly limits: SessionLimits;
  #owner: SessionOwner | null = null;
  #state: SessionState = 'pending';
  #connectTxn: number;
  #streams = new Map<number, NetStreamSession>();
  /** msg_dropped of stream ids already deleted: the client's count covers its whole connection. */
  #droppedByDeletedStreams = 0;
  #nextStreamId = 1;
  #nextTxn = 1;
  #pendingCalls = new Map<number, (result: CallResultRecord) => void>();
  #connectTimer: NodeJS.Timeout | null = null;
  /** Bytes/s limits in force (0 = none) and their caps (Application.xml Client/Bandwidth, BandwidthCap). */
  #bandwidth: BandwidthSettings = { serverToClient: 0, clientToServer: 0, serverToClientCap: 0, clientToServerCap: 0 };
  /** The token bucket every play of this client shares; null while no server→client limit is in force. */
  #limiter: BandwidthLimiter | null = null;

  constructor(connection: RtmpConnection, connect: RtmpCommand, target: ConnectTarget, log: Logger, limits: SessionLimits) {
    this.connection = connection;
    this.limits = limits;
    this.target = target;
    this.#connectTxn = connect.transactionId;
    const props = (connect.commandObject ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    connection.objectEncoding = props['objectEncoding'] === 3 ? 3 : 0;
    this.info = {
      id: this.id,
      ip: connection.remoteAddress,
      agent: text(props['flashVer']),
      protocol: fmsProtocol(connection.transport),
      secure: isSecure(connection.transport),
      referrer: text(props['swfUrl']),
      pageUrl: text(props['pageUrl']),
      uri: text(props['tcUrl']).replace(/(:\/\/)[^/@]*@/, '$1'),
      objectEncoding: connection.objectEncoding,
      virtualKey: '',
      ...DEFAULT_ACCESS,
    };
    this.connectArgs = connect.args;
    this.log = log.child({ client: this.id, transport: connection.transportName });
    connection.on('command', (command) => this.#onCommand(command));
    connection.on('data', (values, message) => this.#streams.get(message.streamId)?.onData(values, message));
    connection.on('media', (message) => this.#onMedia(message));
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

  /** Bind to the instance that will decide; start the pending-connect timeout. */
  attach(owner: SessionOwner, connectTimeoutMs: number): void {
    this.#owner = owner;
    this.#connectTimer = setTimeout(() => {
      if (this.#state !== 'pending') return;
      this.log.warn({ app: owner.name }, 'connect not decided in time; rejecting');
      this.reject({ description: 'Connection timed out waiting for the application.' });
    }, connectTimeoutMs);
  }

  accept(): void {
    if (this.#state !== 'pending') return;
    this.#state = 'accepted';
    this.#clearConnectTimer();
    // FMS tells the client its client→server allowance with Set Peer Bandwidth (Flash Player paces its upload to it).
    if (this.#bandwidth.clientToServer > 0) this.connection.setPeerBandwidth(this.#bandwidth.clientToServer);
    this.connection.sendUserControl(UserControlEvent.StreamBegin, 0);
    const props = { fmsVer: FMS_VERSION, capabilities: CAPABILITIES, mode: MODE };
    const info = status.connectSuccess(this.info.objectEncoding);
    info['data'] = ecmaArray(info['data'] as Record<string, unknown>);
    this.connection.sendCommand(0, '_result', this.#connectTxn, props, [info]);
    this.connection.watchIdle(this.limits.idleTimeoutMs);
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

  /** Reject (or redirect) the pending connect, then close as FMS does. */
  reject(rejection: RejectRecord): void {
    if (this.#state !== 'pending') return;
    this.#clearConnectTimer();
    const info = rejection.redirect
      ? status.connectRedirect(rejection.redirect, rejection.description, rejection.application)
      : status.connectRejected(rejection.description, rejection.application);
    this.rejectWith(info);
  }

  /** Sends the `_error` for the connect with a ready-made info object (e.g. InvalidApp) and closes. */
  rejectWith(info: InfoObject): void {
    if (this.#state === 'closed') return;
    this.connection.sendCommand(0, '_error', this.#connectTxn, null, [info]);
    this.#state = 'closed';
    this.connection.close(`rejected: ${info.code}`);
  }

  /** Server-side disconnect (application.disconnect, shutdown). */
  disconnect(reason: string, info?: InfoObject): void {
    if (this.#state === 'closed') return;
    if (info && this.accepted) this.connection.sendCommand(0, 'onStatus', 0, null, [info]);
    this.connection.close(reason);
  }

  /**
   * The instance's defaults (Application.xml Client/Bandwidth and BandwidthCap, bytes/s, 0 = none),
   * before the script's onConnect sees the client.
   */
  setBandwidthDefaults(settings: BandwidthSettings): void {
    this.#bandwidth = { ...settings };
    this.#applyServerToClient();
  }

  /**
   * client.setBandwidthLimit(serverToClient, clientToServer), bytes/s: 0 (or less) leaves that
   * direction as it is; a value above the cap gets the cap. Server→client is enforced here (token
   * bucket in every play's queue); client→server is announced to the client (Set Peer Bandwidth).
   */
  setBandwidthLimit(serverToClient: number, clientToServer: number): void {
    const capped = (value: number, cap: number) => (cap > 0 ? Math.min(value, cap) : value);
    if (serverToClient > 0) {
      this.#bandwidth.serverToClient = capped(serverToClient, this.#bandwidth.serverToClientCap);
      this.#applyServerToClient();
    }
    if (clientToServer > 0) {
      this.#bandwidth.clientToServer = capped(clientToServer, this.#bandwidth.clientToServerCap);
      if (this.accepted) this.connection.setPeerBandwidth(this.#bandwidth.clientToServer);
    }
  }

  /** client.getBandwidthLimit(direction): 0 → client-to-server, 1 → server-to-client; FMS's default when none is in force. */
  getBandwidthLimit(direction: 0 | 1): number {
    const limit = direction === 1 ? this.#bandwidth.serverToClient : this.#bandwidth.clientToServer;
    return limit > 0 ? limit : FMS_DEFAULT_BANDWIDTH_BYTES;
  }

  /** The limiter a new play's queue starts with. */
  get bandwidthLimiter(): BandwidthLimiter | null {
    return this.#limiter;
  }

  #applyServerToClient(): void {
    const rate = this.#bandwidth.serverToClient;
    if (rate <= 0) this.#limiter = null;
    else if (this.#limiter) this.#limiter.bytesPerSec = rate;
    else this.#limiter = new BandwidthLimiter(rate);
    for (const stream of this.#streams.values()) if (stream.playing) stream.playing.queue.limiter = this.#limiter;
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
    if (command.name === '_result' || command.name === '_error') return this.#onCallResult(command);
    if (this.#state !== 'accepted') {
      this.log.debug({ command: command.name }, 'command before accept ignored');
      return;
    }
    if (command.streamId !== 0) {
      const stream = this.#streams.get(command.streamId);
      if (stream) return stream.onCommand(command);
    }
    switch (command.name) {
      case 'createStream':
        return this.#createStream(command);
      case 'deleteStream':
      case 'closeStream': {
        const id = command.name === 'deleteStream' ? Number(command.args[0]) : command.streamId;
        const stream = this.#streams.get(id);
        stream?.close();
        if (command.name === 'deleteStream' && stream) {
          this.#droppedByDeletedStreams += stream.messagesDropped;
          this.#streams.delete(id);
        }
        return;
      }
      default:
        void this.#onMethodCall(command);
        return;
    }
  }

  #createStream(command: RtmpCommand): void {
    const id = this.#nextStreamId++;
    this.#streams.set(id, new NetStreamSession(this, id, this.#owner!.streamHost));
    this.connection.sendCommand(0, '_result', command.transactionId, null, [id]);
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

  #onMedia(message: RtmpMessage): void {
    if (message.type !== MessageType.Audio && message.type !== MessageType.Video) return;
    this.#streams.get(message.streamId)?.onMedia(message);
  }

  #onClose(reason: string, error: Error | undefined): void {
    const wasAccepted = this.#state === 'accepted';
    const socketCode = (error as { code?: string } | undefined)?.code;
    const hungUp = socketCode !== undefined && PEER_GONE_CODES.has(socketCode) && !this.streams.some((s) => s.active);
    const endReason = hungUp ? 'peer closed' : reason;
    this.#state = 'closed';
    this.#clearConnectTimer();
    for (const stream of this.#streams.values()) stream.close();
    this.#droppedByDeletedStreams = this.messagesDropped;
    this.#streams.clear();
    this.#owner?.sharedObjects.releaseAll(this.#soSubscriber);
    for (const callback of this.#pendingCalls.values()) callback({ ok: false, info: status.connectClosed() });
    this.#pendingCalls.clear();
    const fields = { app: this.#owner?.name, reason: endReason, wasAccepted, bytesIn: this.connection.bytesIn, bytesOut: this.connection.bytesOut };
    if (error && !hungUp) this.log.warn({ ...fields, err: { message: error.message, code: socketCode } }, 'client closed');
    else this.log.info(hungUp ? { ...fields, socketCode } : fields, 'client closed');
    this.#owner?.sessionClosed(this, endReason, wasAccepted);
  }

  #clearConnectTimer(): void {
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
  }

  /** Media messages dropped for this client's players by their bounded queues (client.getStats msg_dropped). */
  get messagesDropped(): number {
    let dropped = this.#droppedByDeletedStreams;
    for (const stream of this.#streams.values()) dropped += stream.messagesDropped;
    return dropped;
  }

  /** Streams this client currently has (for stats and the admin view). */
  get streams(): NetStreamSession[] {
    return [...this.#streams.values()];
  }
}

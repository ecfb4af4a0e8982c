import type { Socket } from 'node:net';
import { ErrorCode, ProtocolError } from '../errors.ts';
import type { AssemblyAccount, AssemblyBudget } from './assembly-budget.ts';
import { decodeAmf0, encodeAmf0 } from './amf0.ts';
import { splitAggregate } from './aggregate.ts';
import { ChunkDecoder } from './chunk-decoder.ts';
import { ChunkEncoder, PieceList, encodeShared } from './chunk-encoder.ts';
import { scheduleFlush } from './flush-queue.ts';
import type { SharedWire } from './shared-wire.ts';
import { CipherTransport } from './cipher-transport.ts';
import { ClientHandshake, ServerHandshake, type ClientHandshakeOptions, type RtmpeGate } from './handshake.ts';
import { MessageType, OUTPUT_CHUNK_SIZE_BYTES, UserControlEvent, type RtmpMessage } from './message.ts';
import { transportName, type RtmpTransport, type TransportName, type TransportSink } from './transport.ts';
import { TypedEmitter } from '../common/typed-emitter.ts';

/** A decoded command message (types 20 and 17). */
export interface RtmpCommand {
  name: string;
  transactionId: number;
  commandObject: unknown;
  args: unknown[];
  streamId: number;
  timestamp: number;
}

/** A message whose stream id is given separately (fan-out shares one packet object across players). */
export type ShareableMessage = Omit<RtmpMessage, 'streamId'>;

/** The key string of one (csid, stream id, chunk size) in a shared-bytes map, cached per csid. */
interface SharedKey {
  streamId: number;
  chunkSize: number;
  key: string;
}

export type RtmpConnectionEvents = {
  /** Handshake finished; messages may flow. */
  ready: [];
  command: [command: RtmpCommand];
  /** A command over `commandByteLimit`, not decoded: only its name and transaction id were read. */
  commandTooLarge: [head: { name: string; transactionId: number }, bytes: number];
  /** No byte from the peer for the watchIdle time, even after a ping (see watchIdle). */
  idle: [];
  /** Data message (types 18/15) decoded to AMF values; `message` keeps the raw payload for relaying. */
  data: [values: unknown[], message: RtmpMessage];
  /** Audio (8) or video (9); aggregates are already split into their sub-messages. */
  media: [message: RtmpMessage];
  /** Shared-object message (19/16), raw. */
  sharedObject: [message: RtmpMessage];
  userControl: [event: number, payload: Buffer];
  /** The peer's Set Peer Bandwidth (bytes, limit type 0 hard / 1 soft / 2 dynamic): what it allows us to send. */
  peerBandwidth: [bytes: number, limitType: number];
  /** The socket's write buffer emptied (for subscriber queues waiting on a slow peer). */
  drain: [];
  close: [reason: string, error: Error | undefined];
};

export interface RtmpConnectionOptions {
  role: 'server' | 'client';
  maxMessageBytes: number;
  maxChunkStreams: number;
  windowAckSizeBytes: number;
  handshakeTimeoutMs: number;
  /** A peer that lets more than this pile up unread is closed (a client that never reads). */
  maxOutputBufferBytes: number;
  /** Inbound connections: the listener's budget for messages in reassembly. */
  assemblyBudget?: AssemblyBudget;
  /** Server role: admits RTMPE handshakes (C0 = 6, 8 or 9); absent = RTMPE refused. */
  rtmpe?: RtmpeGate;
  /** Client role: handshake flavour (complex digest, RTMPE). */
  clientHandshake?: ClientHandshakeOptions;
  /**
   * Server role, process distribution (runtime/cluster/): the primary that reads a client's
   * handshake and connect keeps every byte that follows the handshake, up to this many (more closes
   * the connection), so handOff() can pass them to the worker that serves the client.
   */
  keepInputForHandOffBytes?: number;
  /**
   * Server role, process distribution: a connection another process took through its handshake and
   * protocol setup (its byte counts so far). No handshake is expected and no setup is sent; the bytes
   * that process read after the handshake arrive through receive().
   */
  resumed?: { bytesIn: number; bytesOut: number };
}

/** The close reason of a connection given to another process (handOff): nothing ended. */
export const HANDED_OVER = 'handed over';

/** What a connection hands over (handOff): its transport, counts, and every byte read after its handshake. */
export interface HandOff {
  transport: RtmpTransport;
  bytesIn: number;
  bytesOut: number;
  /** Plain RTMP chunk stream (after the RTMPE cipher), from the end of the handshake on. */
  replay: Buffer;
}

export const DEFAULT_CONNECTION_OPTIONS: Omit<RtmpConnectionOptions, 'role'> = {
  maxMessageBytes: 8 * 1024 * 1024,
  maxChunkStreams: 64,
  windowAckSizeBytes: 2_500_000,
  handshakeTimeoutMs: 5000,
  maxOutputBufferBytes: 16 * 1024 * 1024,
};

/** Chunk stream ids we write on. Media gets per-stream ids so header compression works per track. */
const CSID_PROTOCOL = 2;
const CSID_COMMAND = 3;
function csidFor(type: number, streamId: number): number {
  if (streamId === 0) return CSID_COMMAND;
  const kind = type === MessageType.Audio ? 1 : type === MessageType.Video ? 2 : 0;
  return 4 + ((streamId - 1) % 20000) * 3 + kind;
}

/**
 * One RTMP connection, either role: handshake, chunking, protocol control, acknowledgements,
 * ping, aggregate splitting and AMF command decoding. It knows nothing about applications, nor
 * how its bytes travel (a transport: TCP, TLS, RTMPT, under the RTMPE cipher or not).
 * Writes are batched per event-loop turn (one writev on sockets): media latency matters.
 */
export class RtmpConnection extends TypedEmitter<RtmpConnectionEvents> {
  readonly options: RtmpConnectionOptions;
  #transport: RtmpTransport;
  /** Encoding for commands we send: follows the peer's connect objectEncoding. */
  objectEncoding: 0 | 3 = 0;
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  lastPingRttMs = 0;
  #handshake: ServerHandshake | ClientHandshake | null;
  #decoder: ChunkDecoder;
  #encoder = new ChunkEncoder();
  /** What this turn writes; two lists take turns (#flush). */
  #pending = new PieceList();
  #spare: PieceList | null = new PieceList();
  #flushScheduled = false;
  /** Bound once: the decoder calls it for every message, and a closure per socket read is garbage. */
  readonly #onMessageNow = (message: RtmpMessage): void => this.#onMessage(message);
  /** Bound once: the flush queue calls it without a new closure per turn. */
  readonly #flushNow = (): void => this.#flush();
  /** Per csid: the key sendShared looks up, so no key string is built per message per player. */
  readonly #sharedKeys = new Map<number, SharedKey>();
  #closed = false;
  #peerWindowAckSize = 0;
  #lastAckSent = 0;
  #handshakeTimer: NodeJS.Timeout | null;
  #idleTimer: NodeJS.Timeout | null = null;
  #pingSentAt = 0;
  readonly #assembly: AssemblyAccount | undefined;
  /**
   * Commands with a larger payload are not decoded; `commandTooLarge` is emitted instead. The owner
   * sets it (the connect budget until the connect is handled); no limit by default.
   */
  commandByteLimit = Number.POSITIVE_INFINITY;
  /** Bytes read after the handshake, kept for handOff() (keepInputForHandOffBytes); null when not kept. */
  #kept: Buffer[] | null = null;
  #keptBytes = 0;

  constructor(transport: RtmpTransport, options: RtmpConnectionOptions) {
    super();
    this.#transport = transport;
    this.options = options;
    if (options.keepInputForHandOffBytes !== undefined) this.#kept = [];
    this.#assembly = options.assemblyBudget?.open((error) => this.close(error.message, error));
    this.#decoder = new ChunkDecoder({
      maxMessageBytes: options.maxMessageBytes,
      maxChunkStreams: options.maxChunkStreams,
      ...(this.#assembly ? { assembly: this.#assembly } : {}),
    });
    // A listener that throws (e.g. a malformed shared-object message decoded by the session) must
    // cost this connection only, never the process: close it with the error, which gets logged.
    this.listenerError = (error) => this.close(error instanceof ProtocolError ? error.message : 'internal error', error as Error);
    if (options.resumed) {
      // Handed over after the handshake: the other process sent the setup, chunk size included.
      this.#handshake = null;
      this.#handshakeTimer = null;
      this.bytesIn = options.resumed.bytesIn;
      this.bytesOut = options.resumed.bytesOut;
      this.#encoder.setChunkSize(OUTPUT_CHUNK_SIZE_BYTES);
      transport.bind(this.#sink);
      return;
    }
    if (options.role === 'server') {
      this.#handshake = new ServerHandshake(options.rtmpe ?? null);
    } else {
      const client = new ClientHandshake(options.clientHandshake);
      this.#handshake = client;
      this.#write(client.start());
    }
    this.#handshakeTimer = setTimeout(
      () => this.close('handshake timeout', new ProtocolError(ErrorCode.HandshakeFailed, 'handshake not completed in time')),
      options.handshakeTimeoutMs,
    );
    transport.bind(this.#sink);
  }

  /** Bytes the process that handed this connection over read after the handshake (options.resumed). */
  receive(data: Buffer): void {
    this.#onData(data);
  }

  /**
   * Gives this connection to another process (runtime/cluster/): what is queued is written, timers
   * stop, and the connection closes with reason HANDED_OVER WITHOUT ending its transport, which the
   * caller now owns (still bound to this connection, which ignores it from now on: rebind or release it).
   */
  handOff(): HandOff {
    if (this.#closed || this.#kept === null) throw new Error('handOff() needs an open connection made with keepInputForHandOffBytes');
    this.#flush();
    const handOff: HandOff = { transport: this.#transport, bytesIn: this.bytesIn, bytesOut: this.bytesOut, replay: Buffer.concat(this.#kept) };
    this.#kept = null;
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    this.#assembly?.close();
    this.#closed = true;
    this.emit('close', HANDED_OVER, undefined);
    return handOff;
  }

  /** Keeps post-handshake input for handOff(), within its budget. */
  #keep(data: Buffer): void {
    this.#keptBytes += data.length;
    if (this.#keptBytes > this.options.keepInputForHandOffBytes!) {
      throw new ProtocolError(ErrorCode.MessageTooLarge, `more than ${this.options.keepInputForHandOffBytes} bytes before the connect command`);
    }
    this.#kept!.push(data);
  }

  /** The one receiver of the transport's events (kept when the RTMPE cipher goes on top). */
  readonly #sink: TransportSink = {
    data: (data) => this.#onData(data),
    drain: () => this.emit('drain'),
    closed: (reason, error) => this.close(reason, error),
  };

  get transport(): RtmpTransport {
    return this.#transport;
  }

  /** 'rtmp', 'rtmps', 'rtmpt', 'rtmpts', 'rtmpe' or 'rtmpte' (RTMPE shows once its handshake is done). */
  get transportName(): TransportName {
    return transportName(this.#transport);
  }

  /** The TCP/TLS socket beneath (tests and benches pause it); throws for RTMPT, which has none. */
  get socket(): Socket {
    const socket = this.#transport.socket;
    if (!socket) throw new Error(`a ${this.transportName} connection has no socket of its own`);
    return socket;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get ready(): boolean {
    return this.#handshake === null && !this.#closed;
  }

  /** Bytes written but not yet taken by the kernel: the back-pressure signal for media. */
  get bufferedBytes(): number {
    return this.#transport.bufferedBytes + this.#pending.bytes;
  }

  get remoteAddress(): string {
    return this.#transport.remoteAddress;
  }

  #onData(data: Buffer): void {
    if (this.#closed) return;
    this.bytesIn += data.length;
    try {
      if (this.#handshake) {
        const step = this.#handshake.push(data);
        if (step.send) this.#write(step.send);
        if (!step.done) return;
        this.#handshake = null;
        if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
        this.#handshakeTimer = null;
        let rest = step.rest;
        if (step.cipher) {
          // The handshake answer (queued above) still goes out in clear; everything after is RC4.
          this.#flush();
          const cipher = new CipherTransport(this.#transport, step.cipher);
          this.#transport = cipher;
          cipher.bind(this.#sink);
          if (rest) rest = cipher.decrypt(rest);
        }
        this.#sendProtocolSetup();
        this.emit('ready');
        if (!rest || rest.length === 0 || this.#closed) return;
        data = rest;
      }
      if (this.#kept !== null) this.#keep(data);
      this.#decoder.push(data, this.#onMessageNow);
      this.#maybeAcknowledge();
    } catch (error) {
      this.close(error instanceof ProtocolError ? error.message : 'protocol error', error as Error);
    }
  }

  #sendProtocolSetup(): void {
    const ack = Buffer.alloc(4);
    ack.writeUInt32BE(this.options.windowAckSizeBytes);
    this.sendMessage({ type: MessageType.WindowAckSize, streamId: 0, timestamp: 0, payload: ack });
    if (this.options.role === 'server') this.setPeerBandwidth(this.options.windowAckSizeBytes);
    this.setChunkSize(OUTPUT_CHUNK_SIZE_BYTES);
  }

  /** Set Peer Bandwidth: how much the peer may send (FMS announces a client's client→server limit with it). */
  setPeerBandwidth(bytes: number, limitType: 0 | 1 | 2 = 2): void {
    const payload = Buffer.alloc(5);
    payload.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.floor(bytes))));
    payload[4] = limitType;
    this.sendMessage({ type: MessageType.SetPeerBandwidth, streamId: 0, timestamp: 0, payload });
  }

  setChunkSize(size: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(size);
    this.sendMessage({ type: MessageType.SetChunkSize, streamId: 0, timestamp: 0, payload });
    this.#encoder.setChunkSize(size);
  }

  #maybeAcknowledge(): void {
    if (this.#peerWindowAckSize <= 0) return;
    if (this.bytesIn - this.#lastAckSent < this.#peerWindowAckSize) return;
    this.#lastAckSent = this.bytesIn;
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(this.bytesIn % 0x100000000);
    this.sendMessage({ type: MessageType.Acknowledgement, streamId: 0, timestamp: 0, payload });
  }

  #onMessage(message: RtmpMessage): void {
    if (this.#closed) return;
    this.messagesIn++;
    const { type, payload } = message;
    switch (type) {
      case MessageType.SetChunkSize:
      case MessageType.Abort:
      case MessageType.Acknowledgement:
        return; // the decoder applied chunk size/abort; acks need no answer
      case MessageType.WindowAckSize:
        this.#requireLength(message, 4);
        this.#peerWindowAckSize = payload.readUInt32BE(0);
        return;
      case MessageType.SetPeerBandwidth:
        this.#requireLength(message, 4);
        this.emit('peerBandwidth', payload.readUInt32BE(0), payload[4] ?? 2);
        return;
      case MessageType.UserControl:
        return this.#onUserControl(message);
      case MessageType.Audio:
      case MessageType.Video:
        return this.emit('media', message);
      case MessageType.Aggregate:
        for (const sub of splitAggregate(message)) this.#onMessage(sub);
        return;
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        return this.emit('data', decodeAmf0(amfBody(message)), message);
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        if (payload.length > this.commandByteLimit) return this.emit('commandTooLarge', peekCommand(message), payload.length);
        return this.emit('command', decodeCommand(message));
      case MessageType.SharedObjectAmf0:
      case MessageType.SharedObjectAmf3:
        return this.emit('sharedObject', message);
      default:
        return; // unknown types are ignored, as Flash Player and FMS do
    }
  }

  #requireLength(message: RtmpMessage, length: number): void {
    if (message.payload.length < length) {
      throw new ProtocolError(ErrorCode.ChunkInvalid, `message type ${message.type} shorter than ${length} bytes`);
    }
  }

  #onUserControl(message: RtmpMessage): void {
    this.#requireLength(message, 2);
    const event = message.payload.readUInt16BE(0);
    const body = message.payload.subarray(2);
    if (event === UserControlEvent.PingRequest && body.length >= 4) {
      this.sendUserControl(UserControlEvent.PingResponse, body.readUInt32BE(0));
    } else if (event === UserControlEvent.PingResponse && this.#pingSentAt) {
      this.lastPingRttMs = Date.now() - this.#pingSentAt;
      this.#pingSentAt = 0;
    }
    this.emit('userControl', event, body);
  }

  /**
   * Emits `idle` when the peer sent nothing for `timeoutMs` (checked every half of it): after the
   * first quiet half a PingRequest goes out — Flash Player, ffmpeg and OBS answer it, so a client
   * that is alive but silent shows it — and if nothing at all arrives by the next check, `idle`.
   * A client is thus idle between `timeoutMs` and 1.5 × `timeoutMs` after its last byte.
   */
  watchIdle(timeoutMs: number): void {
    if (this.#idleTimer || this.#closed) return;
    let seen = this.bytesIn;
    let pinged = false;
    this.#idleTimer = setInterval(() => {
      if (this.bytesIn !== seen) {
        seen = this.bytesIn;
        pinged = false;
      } else if (!pinged) {
        pinged = true;
        this.ping();
      } else this.emit('idle');
    }, timeoutMs / 2);
    this.#idleTimer.unref();
  }

  /** Sends a PingRequest; the RTT shows in lastPingRttMs when the response arrives. */
  ping(): boolean {
    if (!this.ready) return false;
    this.#pingSentAt = Date.now();
    this.sendUserControl(UserControlEvent.PingRequest, this.#pingSentAt % 0x100000000);
    return true;
  }

  sendUserControl(event: number, ...values: number[]): void {
    const payload = Buffer.alloc(2 + values.length * 4);
    payload.writeUInt16BE(event, 0);
    values.forEach((value, index) => payload.writeUInt32BE(value >>> 0, 2 + index * 4));
    this.sendMessage({ type: MessageType.UserControl, streamId: 0, timestamp: 0, payload });
  }

  sendCommand(streamId: number, name: string, transactionId: number, commandObject: unknown, args: unknown[] = []): void {
    const body = encodeAmf0([name, transactionId, commandObject, ...args], { objectEncoding: this.objectEncoding });
    const amf3 = this.objectEncoding === 3;
    const payload = amf3 ? Buffer.concat([Buffer.from([0]), body]) : body;
    this.sendMessage({ type: amf3 ? MessageType.CommandAmf3 : MessageType.CommandAmf0, streamId, timestamp: 0, payload });
  }

  sendData(streamId: number, values: unknown[], timestamp = 0): void {
    const payload = encodeAmf0(values);
    this.sendMessage({ type: MessageType.DataAmf0, streamId, timestamp, payload });
  }

  sendMessage(message: RtmpMessage): void {
    this.sendMedia(message.type, message.streamId, message.timestamp, message.payload);
  }

  /**
   * Sends one message given by its fields (a relay forwards every packet of its stream through
   * here: no message object per packet). The payload is not copied; the caller must not change it.
   */
  sendMedia(type: number, streamId: number, timestamp: number, payload: Buffer): void {
    if (this.#closed) return;
    const csid = type <= MessageType.SetPeerBandwidth ? CSID_PROTOCOL : csidFor(type, streamId);
    this.messagesOut++;
    this.#encoder.encodeInto(type, streamId, timestamp, payload, csid, this.#pending);
    this.#scheduleFlush();
  }

  /**
   * Sends a media/data message whose chunked pieces are shared with other connections: encoded
   * once per (csid, stream id, chunk size) into `wire`, then the same pieces go to every socket.
   * The stream id comes separately so every player can pass the same packet object.
   */
  sendShared(message: ShareableMessage, streamId: number, wire: SharedWire): void {
    if (this.#closed) return;
    const csid = csidFor(message.type, streamId);
    const chunkSize = this.#encoder.chunkSize;
    const key = this.#sharedKey(csid, streamId, chunkSize);
    let pieces = wire.get(key);
    if (!pieces) {
      pieces = encodeShared({ type: message.type, streamId, timestamp: message.timestamp, payload: message.payload }, csid, chunkSize);
      wire.set(key, pieces);
    }
    this.#encoder.noteShared(message, streamId, csid);
    this.messagesOut++;
    for (let i = 0; i < pieces.length; i++) this.#pending.push(pieces[i]!);
    this.#scheduleFlush();
  }

  #sharedKey(csid: number, streamId: number, chunkSize: number): string {
    let cached = this.#sharedKeys.get(csid);
    if (cached === undefined) {
      cached = { streamId, chunkSize, key: `${csid}/${streamId}/${chunkSize}` };
      this.#sharedKeys.set(csid, cached);
    } else if (cached.streamId !== streamId || cached.chunkSize !== chunkSize) {
      cached.streamId = streamId;
      cached.chunkSize = chunkSize;
      cached.key = `${csid}/${streamId}/${chunkSize}`;
    }
    return cached.key;
  }

  #write(piece: Buffer): void {
    this.#pending.push(piece);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      scheduleFlush(this.#flushNow);
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const pending = this.#pending;
    if (this.#closed || pending.count === 0) return;
    // Two lists take turns and keep their capacity (transports copy what they keep:
    // RtmpTransport.write), so nothing is allocated per turn; a flush re-entered from inside
    // write() finds the other, empty one.
    this.#pending = this.#spare ?? new PieceList();
    this.#spare = null;
    this.bytesOut += pending.bytes;
    this.#transport.write(pending.items, pending.count);
    pending.clear();
    this.#spare = pending;
    if (this.#transport.bufferedBytes > this.options.maxOutputBufferBytes) {
      this.close('peer too slow', new ProtocolError(ErrorCode.PeerTooSlow, 'peer does not read; output buffer over limit'));
    }
  }

  /** Idempotent. Flushes what is queued, then ends the socket. */
  close(reason: string, error?: Error): void {
    if (this.#closed) return;
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    this.#assembly?.close();
    this.#flush();
    this.#closed = true;
    this.#transport.end();
    this.emit('close', reason, error);
  }
}

/** Body of an AMF message: type 17/15 carry a leading format byte (0) before AMF0 values. */
function amfBody(message: RtmpMessage): Buffer {
  const amf3 = message.type === MessageType.CommandAmf3 || message.type === MessageType.DataAmf3;
  return amf3 && message.payload.length > 0 && message.payload[0] === 0 ? message.payload.subarray(1) : message.payload;
}

/**
 * The name and transaction id of a command without decoding the rest (the first two AMF0 values:
 * a string, then a number). For commands too large to decode.
 */
function peekCommand(message: RtmpMessage): { name: string; transactionId: number } {
  const body = amfBody(message);
  if (body.length < 3 || body[0] !== 0x02) throw new ProtocolError(ErrorCode.CommandInvalid, 'command without a name');
  const nameEnd = 3 + body.readUInt16BE(1);
  if (body.length < nameEnd) throw new ProtocolError(ErrorCode.AmfInvalid, 'command name longer than the message');
  const name = body.toString('utf8', 3, nameEnd);
  const transactionId = body.length >= nameEnd + 9 && body[nameEnd] === 0x00 ? body.readDoubleBE(nameEnd + 1) : 0;
  return { name, transactionId };
}

function decodeCommand(message: RtmpMessage): RtmpCommand {
  const values = decodeAmf0(amfBody(message));
  const [name, transactionId, commandObject, ...args] = values;
  if (typeof name !== 'string') throw new ProtocolError(ErrorCode.CommandInvalid, 'command without a name');
  return {
    name,
    transactionId: typeof transactionId === 'number' ? transactionId : 0,
    commandObject: commandObject ?? null,
    args,
    streamId: message.streamId,
    timestamp: message.timestamp,
  };
}

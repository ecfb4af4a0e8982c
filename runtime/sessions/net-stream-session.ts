import { encodeAmf0 } from '../rtmp/amf0.ts';
import type { RtmpCommand } from '../rtmp/connection.ts';
import { MessageType, UserControlEvent, type RtmpMessage } from '../rtmp/message.ts';
import type { LiveStream, LiveSubscriber } from '../media/live-stream.ts';
import type { MediaPacket } from '../media/media-packet.ts';
import { KeyframeGate } from '../media/keyframe-gate.ts';
import { SubscriberQueue, type PacketSink } from '../media/subscriber-queue.ts';
import { SharedWire } from '../rtmp/shared-wire.ts';
import { parseStreamName, type StreamRegistry } from '../media/stream-registry.ts';
import { existsSync } from 'node:fs';
import { Recorder, type RecordingLimit, type RecordingLimits } from '../media/recorder.ts';
import { VodPlayer } from '../media/vod-player.ts';
import { hasAccess } from '../common/access-list.ts';
import type { ClientSession } from './client-session.ts';
import type { StreamRecord } from '../../host-api/protocol.ts';
import { status, type InfoObject } from '../common/status-codes.ts';

/** What a client's NetStream needs from its application instance. */
export interface StreamHost {
  readonly streams: StreamRegistry;
  /** The FLV file behind a recorded stream name, or null when the name may not have one. */
  recordedFile(name: string): string | null;
  readonly playerMaxBufferedBytes: number;
  /** Limits of a recording a client starts with publish("record"/"append") (Application.xml Recording). */
  publishRecordingLimits(): RecordingLimits;
  publishStarted(session: ClientSession, stream: LiveStream, info: StreamRecord): void;
  publishStopped(session: ClientSession, stream: LiveStream, info: StreamRecord): void;
}

const SAMPLE_ACCESS = encodeAmf0(['|RtmpSampleAccess', false, false]);
const DATA_START = encodeAmf0(['onStatus', status.dataStart()]);

/**
 * One NetStream of a client (one createStream id): either publishing into a live stream or playing
 * one. Media goes out on this stream id, as the protocol requires.
 */
export class NetStreamSession implements LiveSubscriber {
  readonly session: ClientSession;
  readonly id: number;
  readonly #host: StreamHost;
  publishing: { stream: LiveStream; info: StreamRecord } | null = null;
  playing: { stream: LiveStream; queue: SubscriberQueue; name: string } | null = null;
  vod: { player: VodPlayer; name: string } | null = null;
  #recorder: Recorder | null = null;
  #receiveAudio = true;
  #receiveVideo = true;
  #paused = false;
  /** After unpause or receiveVideo(true), video resumes at a keyframe. */
  #videoGate = new KeyframeGate();
  /** Drops of this stream id's earlier plays: each play gets a new queue, msg_dropped counts them all. */
  #droppedBefore = 0;

  constructor(session: ClientSession, id: number, host: StreamHost) {
    this.session = session;
    this.id = id;
    this.#host = host;
  }

  /** Publishing, playing live or playing a file: media would be cut off if the client vanished now. */
  get active(): boolean {
    return this.publishing !== null || this.playing !== null || this.vod !== null;
  }

  /** Media messages the bounded queue dropped for this stream id because its player read too slowly. */
  get messagesDropped(): number {
    return this.#droppedBefore + (this.playing?.queue.packetsDropped ?? 0);
  }

  get #clientId(): string {
    return this.session.id;
  }

  onCommand(command: RtmpCommand): void {
    const arg = command.args;
    switch (command.name) {
      case 'publish':
        return this.#publish(arg[0], arg[1]);
      case 'play':
        return this.#play(arg[0], arg[1], arg[2], arg[3]);
      case 'closeStream':
        return this.close();
      case 'deleteStream':
        return this.close();
      case 'pause':
        return this.#pause(arg[0] === true);
      case 'receiveAudio':
        this.#receiveAudio = arg[0] !== false;
        return;
      case 'receiveVideo':
        this.#receiveVideo = arg[0] !== false;
        if (this.#receiveVideo) this.#videoGate.cut();
        return;
      case 'seek':
        return this.#status(this.playing ? status.seekFailed(this.playing.name, this.#clientId) : status.streamFailed('Not playing.'));
      default:
        this.session.log.debug({ command: command.name, stream: this.id }, 'unsupported stream command ignored');
    }
  }

  #status(info: InfoObject): void {
    this.session.connection.sendCommand(this.id, 'onStatus', 0, null, [info]);
  }

  #publish(rawName: unknown, type: unknown): void {
    if (rawName === false || rawName === null) return this.close();
    if (typeof rawName !== 'string' || rawName === '') {
      return this.#status(status.publishBadName(String(rawName), this.#clientId, 'Invalid stream name.'));
    }
    const tooLong = this.session.nameRefused('Stream', rawName);
    if (tooLong) return this.#status(status.publishBadName(rawName.slice(0, 64), this.#clientId, tooLong));
    const { name, query } = parseStreamName(rawName);
    if (this.publishing || this.playing) this.close();
    if (!hasAccess(this.session.info.writeAccess, name)) {
      return this.#status(status.publishBadName(name, this.#clientId, `No write access to ${name}.`));
    }
    const stream = this.#host.streams.getOrCreate(name);
    if (stream.isPublishing) {
      this.#host.streams.release(stream);
      return this.#status(status.publishBadName(name, this.#clientId));
    }
    const info: StreamRecord = { name, publishQueryString: query };
    const mode = type === 'record' || type === 'append' ? type : 'live';
    const file = mode === 'live' ? null : this.#host.recordedFile(name);
    if (mode !== 'live' && !file) {
      this.#host.streams.release(stream);
      return this.#status(status.recordNoAccess(name, this.#clientId));
    }
    stream.startPublish({ id: this.#clientId, publishQueryString: query, startedAt: Date.now() });
    this.publishing = { stream, info };
    this.session.connection.sendUserControl(UserControlEvent.StreamBegin, this.id);
    this.#status(status.publishStart(name, this.#clientId));
    if (file) {
      try {
        const recorder = new Recorder(file, mode as 'record' | 'append', this.#host.publishRecordingLimits(), (limit) => this.#recordingLimited(name, limit));
        this.#recorder = recorder;
        this.#status(status.recordStart(name, this.#clientId)); // before start(): a tiny limit may end it at once
        recorder.start(stream);
      } catch (error) {
        this.session.log.error({ stream: name, err: (error as Error).message }, 'recording failed to start');
        this.#status(status.recordFailed(name, this.#clientId));
      }
    }
    this.session.log.info({ stream: name, type: mode }, 'publish started');
    this.#host.publishStarted(this.session, stream, info);
  }

  /** The recording reached Application.xml's MaxDuration/MaxSize: it stops, publishing goes on (FMS). */
  #recordingLimited(name: string, limit: RecordingLimit): void {
    this.#recorder = null;
    this.session.log.info({ stream: name, limit }, 'recording limit reached; recording stopped');
    if (limit === 'size') this.#status(status.recordDiskQuotaExceeded(name, this.#clientId));
    this.#status(status.recordStop(name, this.#clientId));
  }

  #play(rawName: unknown, start: unknown, length: unknown, reset: unknown): void {
    if (rawName === false || rawName === null) return this.close();
    if (typeof rawName !== 'string' || rawName === '') {
      return this.#status(status.playFailed(String(rawName), this.#clientId, 'Invalid stream name.'));
    }
    const tooLong = this.session.nameRefused('Stream', rawName);
    if (tooLong) return this.#status(status.playFailed(rawName.slice(0, 64), this.#clientId, tooLong));
    const { name } = parseStreamName(rawName);
    if (this.publishing || this.playing || this.vod) this.close();
    if (!hasAccess(this.session.info.readAccess, name)) {
      return this.#status(status.playFailed(name, this.#clientId, `No read access to ${name}.`));
    }
    // Any negative other than -1 means -2 (ffmpeg sends -2000: it multiplies its -2 by 1000).
    const startSec = typeof start === 'number' && (start >= 0 || start === -1) ? start : -2;
    const live = this.#host.streams.get(name);
    // FMS start semantics: -2 live, else recorded, else wait for live; -1 live only; >= 0 recorded only.
    if (startSec >= 0 || (startSec === -2 && !live?.isPublishing)) {
      const file = this.#host.recordedFile(name);
      if (file && existsSync(file)) return this.#playRecorded(name, file, Math.max(0, startSec) * 1000, length, reset);
      if (startSec >= 0) return this.#status(status.playStreamNotFound(name, this.#clientId));
    }
    const stream = this.#host.streams.getOrCreate(name);
    const queue = new SubscriberQueue(this.#sink, { maxBufferedBytes: this.#host.playerMaxBufferedBytes });
    queue.limiter = this.session.bandwidthLimiter; // the client's bandwidth limit, if one is in force
    this.playing = { stream, queue, name };
    this.#videoGate = new KeyframeGate();
    const connection = this.session.connection;
    connection.sendUserControl(UserControlEvent.StreamBegin, this.id);
    if (reset !== false && reset !== 0) this.#status(status.playReset(name, this.#clientId));
    this.#status(status.playStart(name, this.#clientId));
    connection.sendMessage({ type: MessageType.DataAmf0, streamId: this.id, timestamp: 0, payload: SAMPLE_ACCESS });
    connection.sendMessage({ type: MessageType.DataAmf0, streamId: this.id, timestamp: 0, payload: DATA_START });
    stream.subscribe(this);
    if (stream.isPublishing) for (const packet of stream.startupPackets) queue.push(packet);
    this.session.log.info({ stream: name, live: stream.isPublishing }, 'play started');
  }

  #playRecorded(name: string, file: string, startMs: number, length: unknown, reset: unknown): void {
    const lengthMs = typeof length === 'number' && length >= 0 ? length * 1000 : -1;
    const connection = this.session.connection;
    const streamId = this.id;
    let player: VodPlayer;
    try {
      player = new VodPlayer(file, {
        startMs,
        lengthMs,
        write: (packet) => {
          packet.wire ??= new SharedWire();
          connection.sendShared(packet, streamId, packet.wire);
        },
        onEnd: (_reason, error) => {
          if (this.vod?.player !== player) return;
          this.vod = null;
          if (error) this.session.log.warn({ stream: name, err: error.message }, 'recorded stream failed');
          this.#status(status.playStop(name, this.#clientId));
          connection.sendData(streamId, ['onPlayStatus', { level: 'status', code: 'NetStream.Play.Complete' }]);
          connection.sendUserControl(UserControlEvent.StreamEof, streamId);
        },
      });
    } catch (error) {
      return this.#status(status.playFailed(name, this.#clientId, `Cannot play ${name}: ${(error as Error).message}`));
    }
    this.vod = { player, name };
    connection.sendUserControl(UserControlEvent.StreamIsRecorded, streamId);
    connection.sendUserControl(UserControlEvent.StreamBegin, streamId);
    if (reset !== false && reset !== 0) this.#status(status.playReset(name, this.#clientId));
    this.#status(status.playStart(name, this.#clientId));
    connection.sendMessage({ type: MessageType.DataAmf0, streamId, timestamp: 0, payload: SAMPLE_ACCESS });
    player.start();
    this.session.log.info({ stream: name, recorded: true }, 'play started');
  }

  /** The player's socket is its queue: SubscriberQueue reads its backlog to decide on drops. */
  get #sink(): PacketSink {
    const connection = this.session.connection;
    const streamId = this.id;
    return {
      write: (packet) => {
        // The packet object itself goes to sendShared (stream id separate): nothing allocated per player.
        packet.wire ??= new SharedWire();
        connection.sendShared(packet, streamId, packet.wire);
      },
      get bufferedBytes() {
        return connection.bufferedBytes;
      },
    };
  }

  #pause(pause: boolean): void {
    if (this.vod) {
      this.vod.player.pause(pause);
      const name = this.vod.name;
      return this.#status(pause ? status.pauseNotify(name, this.#clientId) : status.unpauseNotify(name, this.#clientId));
    }
    if (!this.playing) return;
    this.#paused = pause;
    if (!pause) this.#videoGate.cut();
    this.#status(pause ? status.pauseNotify(this.playing.name, this.#clientId) : status.unpauseNotify(this.playing.name, this.#clientId));
  }

  // LiveSubscriber: packets of the stream we play.
  packet(packet: MediaPacket): void {
    if (!this.playing || this.#paused) return;
    if (packet.type === MessageType.Audio && !this.#receiveAudio) return;
    if (packet.type === MessageType.Video && (!this.#receiveVideo || !this.#videoGate.admit(packet))) return;
    this.playing.queue.push(packet);
  }

  published(stream: LiveStream): void {
    this.#status(status.playPublishNotify(stream.name, this.#clientId));
  }

  unpublished(stream: LiveStream): void {
    this.#status(status.playUnpublishNotify(stream.name, this.#clientId));
    this.session.connection.sendUserControl(UserControlEvent.StreamEof, this.id);
  }

  /** Data messages from the publisher: @setDataFrame sets metadata; others pass through to players. */
  onData(values: unknown[], message: RtmpMessage): void {
    if (!this.publishing) return;
    const stream = this.publishing.stream;
    if (values[0] === '@setDataFrame') {
      const payload = encodeAmf0(values.slice(1));
      stream.setMetadata({ type: MessageType.DataAmf0, timestamp: 0, payload });
      return;
    }
    if (values[0] === '@clearDataFrame') return;
    stream.write({ type: message.type, timestamp: message.timestamp, payload: message.payload });
  }

  onMedia(message: RtmpMessage): void {
    // The decoder's message is the packet (a MediaPacket plus its stream id): it is new for every
    // message and nothing else holds it, so no second object is made per packet.
    this.publishing?.stream.write(message);
  }

  /** Stop publishing/playing on this stream id (closeStream, deleteStream, disconnect). */
  close(): void {
    if (this.vod) {
      this.vod.player.stop();
      this.vod = null;
    }
    if (this.publishing) {
      const { stream, info } = this.publishing;
      this.publishing = null;
      if (this.#recorder) {
        this.#recorder.stop(stream);
        this.#recorder = null;
        if (!this.session.connection.closed) this.#status(status.recordStop(info.name, this.#clientId));
      }
      stream.stopPublish();
      if (!this.session.connection.closed) this.#status(status.unpublishSuccess(info.name, this.#clientId));
      this.session.log.info({ stream: info.name }, 'publish stopped');
      this.#host.publishStopped(this.session, stream, info);
      this.#host.streams.release(stream);
    }
    if (this.playing) {
      const { stream, queue } = this.playing;
      this.#droppedBefore += queue.packetsDropped;
      this.playing = null;
      stream.unsubscribe(this);
      this.#host.streams.release(stream);
    }
  }
}


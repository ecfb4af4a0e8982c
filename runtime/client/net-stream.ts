import type { RtmpConnection } from '../rtmp/connection.ts';
import { MessageType, type RtmpMessage } from '../rtmp/message.ts';
import { TypedEmitter } from '../common/typed-emitter.ts';
import type { InfoObject, NetConnection } from './net-connection.ts';

export type NetStreamEvents = {
  status: [info: InfoObject];
  /** Audio or video message received while playing. */
  media: [message: RtmpMessage];
  /** Data message received while playing (onMetaData, |RtmpSampleAccess, custom handlers). */
  data: [values: unknown[], message: RtmpMessage];
};

/** A client NetStream on one createStream id: publish or play, send or receive media and data. */
export class NetStream extends TypedEmitter<NetStreamEvents> {
  readonly id: number;
  readonly netConnection: NetConnection;
  readonly #connection: RtmpConnection;

  constructor(netConnection: NetConnection, connection: RtmpConnection, id: number) {
    super();
    this.netConnection = netConnection;
    this.#connection = connection;
    this.id = id;
    connection.on('command', (command) => {
      if (command.streamId === this.id && command.name === 'onStatus') this.emit('status', (command.args[0] ?? {}) as InfoObject);
    });
    connection.on('media', (message) => {
      if (message.streamId === this.id) this.emit('media', message);
    });
    connection.on('data', (values, message) => {
      if (message.streamId !== this.id) return;
      if (values[0] === 'onStatus') this.emit('status', (values[1] ?? {}) as InfoObject);
      this.emit('data', values, message);
    });
  }

  /** Resolves with the first status whose code is in `codes` (e.g. Publish.Start or Publish.BadName). */
  waitStatus(...codes: string[]): Promise<InfoObject> {
    return new Promise((resolve, reject) => {
      const onStatus = (info: InfoObject) => {
        if (!codes.includes(info.code)) return;
        this.off('status', onStatus);
        this.netConnection.off('close', onClose);
        resolve(info);
      };
      const onClose = () => {
        this.off('status', onStatus);
        reject(new Error(`connection closed while waiting for ${codes.join('/')}`));
      };
      this.on('status', onStatus);
      this.netConnection.once('close', onClose);
    });
  }

  /** Publishes; resolves with Publish.Start, or rejects with the BadName info. */
  async publish(name: string, type: 'live' | 'record' | 'append' = 'live'): Promise<InfoObject> {
    const wait = this.waitStatus('NetStream.Publish.Start', 'NetStream.Publish.BadName');
    this.#connection.sendCommand(this.id, 'publish', 0, null, [name, type]);
    const info = await wait;
    if (info.code !== 'NetStream.Publish.Start') throw Object.assign(new Error(info.code), { info });
    return info;
  }

  play(name: string | false, start = -2, length = -1, reset = true): void {
    this.#connection.sendCommand(this.id, 'play', 0, null, [name, start, length, reset]);
  }

  /** Stream-level command (pause, receiveAudio, receiveVideo, seek, closeStream). */
  command(name: string, ...args: unknown[]): void {
    this.#connection.sendCommand(this.id, name, 0, null, args);
  }

  sendMedia(type: typeof MessageType.Audio | typeof MessageType.Video, timestamp: number, payload: Buffer): void {
    this.#connection.sendMessage({ type, streamId: this.id, timestamp, payload });
  }

  /** Data message (e.g. `send('@setDataFrame', 'onMetaData', {...})`). */
  send(...values: unknown[]): void {
    this.#connection.sendData(this.id, values);
  }

  close(): void {
    if (!this.#connection.closed) this.#connection.sendCommand(0, 'deleteStream', 0, null, [this.id]);
  }
}

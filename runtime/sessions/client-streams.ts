import type { BandwidthLimiter } from '../media/bandwidth-limiter.ts';
import type { RtmpCommand } from '../rtmp/connection.ts';
import { MessageType, type RtmpMessage } from '../rtmp/message.ts';
import type { ClientSession } from './client-session.ts';
import { NetStreamSession, type StreamHost } from './net-stream-session.ts';

/**
 * The NetStreams of one client, by createStream id: created and deleted by its commands, fed its
 * media and data, closed with it. Keeps msg_dropped across deleted stream ids (client.getStats counts
 * the whole connection).
 */
export class ClientStreams {
  readonly #session: ClientSession;
  readonly #streams = new Map<number, NetStreamSession>();
  /** msg_dropped of stream ids already deleted. */
  #droppedByDeleted = 0;
  #nextId = 1;

  constructor(session: ClientSession) {
    this.#session = session;
  }

  /** createStream: a new stream id publishing into / playing from `host`'s streams. */
  create(host: StreamHost): number {
    const id = this.#nextId++;
    this.#streams.set(id, new NetStreamSession(this.#session, id, host));
    return id;
  }

  /** A command addressed to a stream id; false when there is no such stream. */
  command(command: RtmpCommand): boolean {
    const stream = this.#streams.get(command.streamId);
    if (!stream) return false;
    stream.onCommand(command);
    return true;
  }

  /** closeStream (the id stays usable) or deleteStream (the id is gone). */
  close(id: number, remove: boolean): void {
    const stream = this.#streams.get(id);
    stream?.close();
    if (!remove || !stream) return;
    this.#droppedByDeleted += stream.messagesDropped;
    this.#streams.delete(id);
  }

  media(message: RtmpMessage): void {
    if (message.type !== MessageType.Audio && message.type !== MessageType.Video) return;
    this.#streams.get(message.streamId)?.onMedia(message);
  }

  data(values: unknown[], message: RtmpMessage): void {
    this.#streams.get(message.streamId)?.onData(values, message);
  }

  /** The client's server→client limit changed: every play's queue uses the new limiter. */
  setLimiter(limiter: BandwidthLimiter | null): void {
    for (const stream of this.#streams.values()) if (stream.playing) stream.playing.queue.limiter = limiter;
  }

  /** The client is gone: every stream stops publishing or playing. */
  closeAll(): void {
    for (const stream of this.#streams.values()) stream.close();
    this.#droppedByDeleted = this.messagesDropped;
    this.#streams.clear();
  }

  /** Media messages dropped for this client's players by their bounded queues (client.getStats msg_dropped). */
  get messagesDropped(): number {
    let dropped = this.#droppedByDeleted;
    for (const stream of this.#streams.values()) dropped += stream.messagesDropped;
    return dropped;
  }

  get list(): NetStreamSession[] {
    return [...this.#streams.values()];
  }
}

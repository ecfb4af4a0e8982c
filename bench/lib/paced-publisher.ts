/**
 * Publishes an FLV file's audio and video through our client at the file's own pace (each tag sent
 * when its timestamp comes due, looping with continuous timestamps), so the player's inter-arrival
 * gaps show only what happens between the two: no ffmpeg process, no batching of early tags.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { NetStream } from '../../runtime/client/net-stream.ts';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import type { MediaPacket } from '../../runtime/media/media-packet.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';

const FRAME_MS = 40;

/**
 * The chunk size the benches' publishers send with: an encoder's, not our client's own (65536,
 * OUTPUT_CHUNK_SIZE_BYTES), because a bench measures what a server pays to ingest an encoder's
 * stream, whose video frames arrive in several chunks (ffmpeg sends 128-byte chunks; 4096 is what
 * nginx-rtmp and FMS send, and what this publisher sent when the earlier figures were taken).
 */
export const ENCODER_CHUNK_SIZE_BYTES = 4096;

export class PacedPublisher {
  readonly nc = new NetConnection();
  readonly #tags: MediaPacket[];
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();
  /** Largest delay between a tag's due time and its send (the publisher's own share of any jitter). */
  maxLateMs = 0;
  /**
   * Told just before each tag goes to the socket, with the wall-clock time in ms at sub-ms resolution
   * (performance.timeOrigin + performance.now(): comparable with Date.now() in a browser, and with
   * another process's clock on this machine) — latency benches map frames to their send time.
   */
  onSent: ((type: number, timestamp: number, sentAtMs: number) => void) | null = null;

  constructor(file: string) {
    this.#tags = readFlvTags(readFileSync(file)).filter((t) => t.type === MessageType.Audio || t.type === MessageType.Video);
  }

  async start(url: string, name: string): Promise<void> {
    await this.nc.connect(url);
    this.nc.connection!.setChunkSize(ENCODER_CHUNK_SIZE_BYTES);
    const ns = await this.nc.createStream();
    await ns.publish(name);
    this.#loop = this.#run(ns);
  }

  async #run(ns: NetStream): Promise<void> {
    const roundMs = this.#tags.at(-1)!.timestamp + FRAME_MS;
    const startedAt = performance.now();
    for (let round = 0; !this.#stopped; round++) {
      for (const tag of this.#tags) {
        const timestamp = tag.timestamp + round * roundMs;
        const wait = startedAt + timestamp - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#stopped || !this.nc.isConnected) return;
        this.maxLateMs = Math.max(this.maxLateMs, performance.now() - (startedAt + timestamp));
        this.onSent?.(tag.type, timestamp, performance.timeOrigin + performance.now());
        ns.sendMedia(tag.type as typeof MessageType.Audio | typeof MessageType.Video, timestamp, tag.payload);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    this.nc.close();
  }
}

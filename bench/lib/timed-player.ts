/**
 * A player (our NetConnection/NetStream) that records when each video message arrives, for the
 * jitter (bench/sandbox.ts) and added-latency (bench/relay.ts) figures. Arrival times come from
 * performance.now(), so players in one process share one clock.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';

export interface VideoArrival {
  timestamp: number;
  atMs: number;
  /** Payload digest (only with `digest: true`): pairs frames when a server rebases timestamps. */
  digest: string;
}

export interface TimedPlayerOptions {
  digest?: boolean;
  timeoutMs?: number;
  /** A PEM CA trusted for rtmps/rtmpts URLs. */
  ca?: string;
}

export class TimedPlayer {
  readonly nc: NetConnection;
  readonly arrivals: VideoArrival[] = [];
  /** Arrivals are kept only while recording (the window), counted always. */
  recording = false;
  videoCount = 0;
  readonly #digest: boolean;
  readonly #timeoutMs: number;

  constructor(options: TimedPlayerOptions = {}) {
    this.#digest = options.digest ?? false;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.nc = new NetConnection({ connectTimeoutMs: this.#timeoutMs, ...(options.ca ? { ca: [options.ca] } : {}) });
  }

  /** Connects, plays, resolves at the first video message. */
  async start(url: string, stream: string): Promise<void> {
    await this.nc.connect(url);
    const ns = await this.nc.createStream();
    const connection = this.nc.connection!;
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no video from ${url} ${stream} within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      // Listened to on the connection, not the NetStream: each player plays one stream, and this
      // does not depend on which message stream id a server (nginx-rtmp, ours) sends media on.
      connection.on('media', (message) => {
        if (message.type !== MessageType.Video) return;
        const atMs = performance.now(); // before any other work, so the digest does not delay it
        if (this.videoCount++ === 0) {
          clearTimeout(timer);
          resolve();
        }
        if (!this.recording) return;
        const digest = this.#digest ? createHash('sha1').update(message.payload).digest('base64') : '';
        this.arrivals.push({ timestamp: message.timestamp, atMs, digest });
      });
      this.nc.once('close', (reason) => {
        clearTimeout(timer);
        reject(new Error(`closed before video: ${reason}`));
      });
    });
    ns.play(stream);
    await first;
  }

  close(): void {
    this.nc.close();
  }
}

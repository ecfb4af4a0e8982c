/**
 * A player (our NetConnection/NetStream) that checks the video it receives is continuous: within
 * one publish session, consecutive video timestamps step by about one frame interval. A larger step is
 * frames lost between the publisher and this player; a step back (or an unpublish notice) starts a
 * new session (the publisher restarted).
 */
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { within } from './tally.ts';

export interface FrameGap {
  atMs: number;
  frames: number;
  /** Media timestamps either side of the gap, and the wall time between their arrivals. */
  fromTs: number;
  toTs: number;
  wallMs: number;
}

export class FramePlayer {
  readonly nc = new NetConnection({ connectTimeoutMs: 10_000 });
  frames = 0;
  lostFrames = 0;
  readonly gaps: FrameGap[] = [];
  /** performance.now() of the last video message (0 before the first). */
  lastFrameAtMs = 0;
  closed = false;
  readonly #frameMs: number;
  #lastTimestamp: number | undefined;

  /** `frameMs`: the publisher's video frame interval. */
  constructor(frameMs: number) {
    this.#frameMs = frameMs;
  }

  async play(url: string, stream: string): Promise<void> {
    this.nc.once('close', () => (this.closed = true));
    await within(this.nc.connect(url), 10_000, 'player connect');
    const ns = await within(this.nc.createStream(), 10_000, 'createStream');
    ns.on('status', (info: InfoObject) => {
      if (info.code === 'NetStream.Play.UnpublishNotify' || info.code === 'NetStream.Play.Reset') this.#lastTimestamp = undefined;
    });
    this.nc.connection!.on('media', (message) => {
      if (message.type !== MessageType.Video) return;
      // AVC sequence headers are codec configuration, not frames: a joining player gets the
      // stream's (timestamp 0 and all) before the GOP cache.
      if ((message.payload[0]! & 0x0f) === 7 && message.payload[1] === 0) return;
      this.frames++;
      const previousAtMs = this.lastFrameAtMs;
      this.lastFrameAtMs = performance.now();
      this.#onTimestamp(message.timestamp, this.lastFrameAtMs - previousAtMs);
    });
    ns.play(stream);
  }

  #onTimestamp(timestamp: number, wallMs: number): void {
    const last = this.#lastTimestamp;
    this.#lastTimestamp = timestamp;
    if (last === undefined || timestamp <= last) return; // first frame of a session, or a new session
    // Steps of up to 1.6 intervals are no loss: the test file loops with a 63 ms step (its first
    // frame sits 23 ms after its sequence header), and timestamps are whole milliseconds.
    const missing = Math.floor((timestamp - last) / this.#frameMs - 0.6);
    if (missing <= 0) return;
    this.lostFrames += missing;
    this.gaps.push({ atMs: performance.now(), frames: missing, fromTs: last, toTs: timestamp, wallMs: Math.round(wallMs) });
  }

  close(): void {
    this.nc.close();
  }
}

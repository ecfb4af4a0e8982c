import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { NetStream } from '../../runtime/client/net-stream.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';

const FRAME_MS = 40;
const CALL_MS = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the healthy clients saw since the last mark(). */
export interface HealthReport {
  frames: number;
  /** Longest time between two frames reaching the player. */
  maxFrameGapMs: number;
  calls: number;
  /** Longest call round trip (a script-less app answers `Method not found`: still a round trip). */
  maxCallMs: number;
}

/**
 * The healthy bystanders of the budget tests (CONVENTIONS "Budgets"): a publisher sending a small
 * video frame every 40 ms, a player of that stream, and a client making a call every 50 ms. While an
 * attack runs, the longest frame gap and the slowest call say whether anyone else was slowed down;
 * if the server's event loop stalls, both show it (in-process servers stall the test's timers too).
 */
export class HealthyClients {
  readonly #publisher: NetConnection;
  readonly #player: NetConnection;
  readonly #caller: NetConnection;
  readonly #stream: NetStream;
  #timers: NodeJS.Timeout[] = [];
  #lastFrameAt = 0;
  #report: HealthReport = { frames: 0, maxFrameGapMs: 0, calls: 0, maxCallMs: 0 };
  #callInFlight: number | null = null;
  #stopped = false;

  private constructor(publisher: NetConnection, player: NetConnection, caller: NetConnection, stream: NetStream) {
    this.#publisher = publisher;
    this.#player = player;
    this.#caller = caller;
    this.#stream = stream;
  }

  /** Connects to `appUrl` (rtmp://host:port/app[/instance]); resolves once frames flow to the player. */
  static async start(appUrl: string, streamName = 'pulse'): Promise<HealthyClients> {
    const publisher = new NetConnection();
    const player = new NetConnection();
    const caller = new NetConnection();
    await Promise.all([publisher.connect(appUrl), player.connect(appUrl), caller.connect(appUrl)]);
    const out = await publisher.createStream();
    await out.publish(streamName);
    const inStream = await player.createStream();
    const clients = new HealthyClients(publisher, player, caller, inStream);
    const firstFrame = new Promise<void>((resolve) => inStream.once('media', () => resolve()));
    inStream.on('media', () => clients.#onFrame());
    inStream.play(streamName, -1);
    let timestamp = 0;
    out.sendMedia(MessageType.Video, 0, Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f])); // AVC sequence header
    clients.#timers.push(
      setInterval(() => {
        const keyframe = timestamp % 1000 === 0;
        out.sendMedia(MessageType.Video, timestamp, Buffer.concat([Buffer.from([keyframe ? 0x17 : 0x27, 0x01, 0, 0, 0]), Buffer.alloc(500, timestamp & 0xff)]));
        timestamp += FRAME_MS;
      }, FRAME_MS),
      setInterval(() => clients.#call(), CALL_MS),
    );
    await firstFrame;
    clients.mark();
    return clients;
  }

  #onFrame(): void {
    const now = performance.now();
    if (this.#lastFrameAt > 0) this.#report.maxFrameGapMs = Math.max(this.#report.maxFrameGapMs, now - this.#lastFrameAt);
    this.#lastFrameAt = now;
    this.#report.frames++;
  }

  #call(): void {
    if (this.#callInFlight !== null || this.#stopped || !this.#caller.isConnected) return;
    const started = performance.now();
    this.#callInFlight = started;
    const done = () => {
      this.#report.maxCallMs = Math.max(this.#report.maxCallMs, performance.now() - started);
      this.#report.calls++;
      this.#callInFlight = null;
    };
    this.#caller.call('healthCheck').then(done, done);
  }

  /** Starts a new measuring window. */
  mark(): void {
    this.#report = { frames: 0, maxFrameGapMs: 0, calls: 0, maxCallMs: 0 };
    this.#lastFrameAt = performance.now();
  }

  /**
   * The window since mark(), after letting frames and a call come through once more (so a stall at
   * the very end of the attack is measured too). A call still in flight counts with its age.
   */
  async report(): Promise<HealthReport> {
    const frames = this.#report.frames;
    const calls = this.#report.calls;
    for (let waited = 0; waited < 5000 && (this.#report.frames < frames + 3 || this.#report.calls < calls + 2); waited += 20) await sleep(20);
    const report = { ...this.#report };
    report.maxFrameGapMs = Math.max(report.maxFrameGapMs, performance.now() - this.#lastFrameAt);
    if (this.#callInFlight !== null) report.maxCallMs = Math.max(report.maxCallMs, performance.now() - this.#callInFlight);
    return report;
  }

  get connected(): boolean {
    return this.#publisher.isConnected && this.#player.isConnected && this.#caller.isConnected;
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#stream.close();
    for (const nc of [this.#publisher, this.#player, this.#caller]) nc.close();
  }
}

/** Asserts the healthy clients were not held up: frames kept coming and calls kept being answered. */
export function assertHealthy(report: HealthReport, boundMs: number, what: string): void {
  if (report.frames < 3 || report.calls < 2) throw new Error(`${what}: healthy clients starved (${JSON.stringify(report)})`);
  if (report.maxFrameGapMs > boundMs || report.maxCallMs > boundMs) {
    throw new Error(`${what}: a healthy client waited longer than ${boundMs} ms (${JSON.stringify(report)})`);
  }
}

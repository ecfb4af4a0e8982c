/**
 * A token bucket for one client's server→client media (client.setBandwidthLimit, Application.xml
 * Client/Bandwidth): bytes/s refill, and a packet may go while the bucket is not in debt — so a
 * keyframe larger than the bucket still goes, and the debt it leaves holds back what follows.
 * Over any window the client gets at most rate × window + the bucket's depth + one packet.
 *
 * The depth is one GOP of refill (at least 1 s): a player that lost a frame waits for the next
 * keyframe, and the tokens saved meanwhile must still be there for it, or a long-GOP stream would
 * use only part of its allowance.
 */
const MIN_DEPTH_MS = 1000;
const MAX_DEPTH_MS = 5000;
/** Chunk headers a message costs on the wire beyond its payload (basic + message header, roughly). */
export const MESSAGE_OVERHEAD_BYTES = 12;

export class BandwidthLimiter {
  #bytesPerSec: number;
  #depthMs = MIN_DEPTH_MS;
  #tokens: number;
  #lastRefill: number;
  #lastKeyframeTs: number | null = null;
  readonly #now: () => number;

  constructor(bytesPerSec: number, now: () => number = () => performance.now()) {
    this.#bytesPerSec = bytesPerSec;
    this.#now = now;
    this.#tokens = this.#depth();
    this.#lastRefill = now();
  }

  get bytesPerSec(): number {
    return this.#bytesPerSec;
  }

  /** A new limit applies from now on; the tokens saved so far stay (within the new depth). */
  set bytesPerSec(value: number) {
    this.#refill();
    this.#bytesPerSec = value;
    this.#tokens = Math.min(this.#tokens, this.#depth());
  }

  /** A keyframe's media timestamp: the GOP length sets how many tokens may be saved up. */
  keyframeAt(timestampMs: number): void {
    if (this.#lastKeyframeTs !== null) {
      const gop = timestampMs - this.#lastKeyframeTs;
      if (gop > 0) this.#depthMs = Math.min(MAX_DEPTH_MS, Math.max(MIN_DEPTH_MS, gop));
    }
    this.#lastKeyframeTs = timestampMs;
  }

  /** Takes `bytes` when the bucket is not in debt; false = over the limit (the caller drops). */
  take(bytes: number): boolean {
    this.#refill();
    if (this.#tokens < 0) return false;
    this.#tokens -= bytes;
    return true;
  }

  /** For what must go anyway (codec configs, data): the debt holds back what follows. */
  force(bytes: number): void {
    this.#refill();
    this.#tokens -= bytes;
  }

  #depth(): number {
    return (this.#bytesPerSec * this.#depthMs) / 1000;
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#depth(), this.#tokens + ((now - this.#lastRefill) * this.#bytesPerSec) / 1000);
    this.#lastRefill = now;
  }
}

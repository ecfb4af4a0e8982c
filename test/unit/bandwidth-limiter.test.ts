import { strict as assert } from 'node:assert';
import { BandwidthLimiter, MESSAGE_OVERHEAD_BYTES } from '../../runtime/media/bandwidth-limiter.ts';
import type { MediaPacket } from '../../runtime/media/media-packet.ts';
import { SubscriberQueue } from '../../runtime/media/subscriber-queue.ts';

/** A clock the test moves by hand. */
function clock() {
  const state = { now: 0 };
  return { state, now: () => state.now };
}

const video = (timestamp: number, keyframe: boolean, bytes: number): MediaPacket => ({ type: 9, timestamp, payload: Buffer.concat([Buffer.from([keyframe ? 0x17 : 0x27, 1]), Buffer.alloc(bytes - 2)]) });
const audio = (timestamp: number, bytes: number): MediaPacket => ({ type: 8, timestamp, payload: Buffer.concat([Buffer.from([0xaf, 1]), Buffer.alloc(bytes - 2)]) });

describe('BandwidthLimiter (token bucket) and a limited SubscriberQueue', () => {
  it('starts with one second of tokens, allows a packet while not in debt, and refills at the rate', () => {
    const c = clock();
    const limiter = new BandwidthLimiter(1000, c.now);
    assert.equal(limiter.take(1500), true, 'a packet bigger than what is left still goes while not in debt');
    assert.equal(limiter.take(1), false, 'in debt (-500): nothing more');
    c.state.now = 400;
    assert.equal(limiter.take(1), false, 'still 100 bytes in debt');
    c.state.now = 600;
    assert.equal(limiter.take(1), true);
  });

  it('saves up at most one GOP of tokens (between 1 s and 5 s of the rate)', () => {
    const c = clock();
    const limiter = new BandwidthLimiter(1000, c.now);
    limiter.keyframeAt(0);
    limiter.keyframeAt(3000); // 3 s GOPs
    c.state.now = 60_000;
    assert.equal(limiter.take(2500), true);
    assert.equal(limiter.take(400), true, '3 s of tokens were saved (a 1 s bucket would be in debt here)');
    assert.equal(limiter.take(200), true, '100 left');
    assert.equal(limiter.take(1), false, 'but not more than 3 s');
  });

  it('over a long run the queue delivers the rate, video only from keyframes after a drop, configs always', () => {
    const c = clock();
    const sent: MediaPacket[] = [];
    const queue = new SubscriberQueue({ bufferedBytes: 0, write: (p) => sent.push(p) }, { maxBufferedBytes: 1 << 20 });
    queue.limiter = new BandwidthLimiter(10_000, c.now);
    const config: MediaPacket = { type: 9, timestamp: 0, payload: Buffer.from([0x17, 0, 0, 0, 0]) };
    queue.push(config);
    // 60 s of a 40 kB/s stream: 25 fps video (keyframe each second, 4 kB; inter frames 1.5 kB) + audio.
    for (let ms = 0; ms < 60_000; ms += 40) {
      c.state.now = ms;
      queue.push(video(ms, ms % 1000 === 0, ms % 1000 === 0 ? 4000 : 1500));
      queue.push(audio(ms, 200));
    }
    const bytes = sent.reduce((sum, p) => sum + p.payload.length + MESSAGE_OVERHEAD_BYTES, 0);
    assert.ok(bytes <= 10_000 * 61 && bytes >= 10_000 * 55, `${bytes} bytes in 60 s at 10 kB/s`);
    assert.equal(sent[0], config);
    const videoSent = sent.filter((p) => p.type === 9 && p !== config);
    let previous = -40;
    for (const p of videoSent) {
      const keyframe = (p.payload[0]! >> 4) === 1;
      assert.ok(keyframe || p.timestamp === previous + 40, `inter frame at ${p.timestamp} after a gap`);
      previous = p.timestamp;
    }
    assert.ok(queue.packetsDropped > 0);
  });

  it('unlimited (no limiter): everything goes', () => {
    const sent: MediaPacket[] = [];
    const queue = new SubscriberQueue({ bufferedBytes: 0, write: (p) => sent.push(p) }, { maxBufferedBytes: 1 << 20 });
    for (let ms = 0; ms < 2000; ms += 40) queue.push(video(ms, ms % 1000 === 0, 50_000));
    assert.equal(sent.length, 50);
  });
});

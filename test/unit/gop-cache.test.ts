import { strict as assert } from 'node:assert';
import { GopCache } from '../../runtime/media/gop-cache.ts';
import { LiveStream } from '../../runtime/media/live-stream.ts';
import type { MediaPacket } from '../../runtime/media/media-packet.ts';

const keyframe = (timestamp: number, size = 100): MediaPacket => ({ type: 9, timestamp, payload: Buffer.alloc(size, 0x17).fill(timestamp & 0xff, 1) });
const inter = (timestamp: number, size = 50): MediaPacket => ({ type: 9, timestamp, payload: Buffer.alloc(size, 0x27).fill(timestamp & 0xff, 1) });
const audio = (timestamp: number): MediaPacket => ({ type: 8, timestamp, payload: Buffer.from([0xaf, 1, timestamp & 0xff]) });

describe('GopCache (the packets since the last keyframe, without a heap object per packet)', () => {
  it('gives back what was cached since the last keyframe, in order, byte for byte', () => {
    const cache = new GopCache();
    const first = [keyframe(0), audio(10), inter(40)];
    cache.startGop(first[0]!);
    for (const p of first.slice(1)) cache.add(p);
    const second = [keyframe(1000), inter(1040), audio(1050), inter(1080)];
    cache.startGop(second[0]!);
    for (const p of second.slice(1)) cache.add(p);
    const out = cache.packets();
    assert.deepEqual(
      out.map((p) => [p.type, p.timestamp, p.payload.toString('hex')]),
      second.map((p) => [p.type, p.timestamp, p.payload.toString('hex')]),
    );
    assert.equal(cache.bytes, second.reduce((n, p) => n + p.payload.length, 0));
  });

  it('hands out copies: what a joiner got is not changed by the GOPs that follow', () => {
    const cache = new GopCache();
    cache.startGop(keyframe(0));
    cache.add(inter(40));
    const joined = cache.packets();
    const before = joined.map((p) => p.payload.toString('hex'));
    cache.startGop(keyframe(1000)); // overwrites the arena from its start
    cache.add(inter(1040));
    assert.deepEqual(joined.map((p) => p.payload.toString('hex')), before);
  });

  it('does not keep the caller’s buffers: the cached bytes survive the input being overwritten', () => {
    const cache = new GopCache();
    const packet = keyframe(0);
    cache.startGop(packet);
    packet.payload.fill(0);
    assert.equal(cache.packets()[0]!.payload[0], 0x17);
  });

  it('reuses its arena while GOPs stay the same size, and gives back one grown for an unusually large GOP', () => {
    const cache = new GopCache();
    const gop = (start: number, frames: number, size: number) => {
      cache.startGop(keyframe(start, size));
      for (let i = 1; i < frames; i++) cache.add(inter(start + i * 40, size));
    };
    gop(0, 25, 4000);
    gop(1000, 25, 4000);
    const steady = cache.capacity;
    gop(2000, 25, 4000);
    assert.equal(cache.capacity, steady, 'same-size GOPs need no new arena');
    gop(3000, 25, 40_000); // a burst: ten times the bytes
    const grown = cache.capacity;
    assert.ok(grown >= 25 * 40_000);
    gop(4000, 25, 4000); // sized from the big GOP before it: kept
    gop(5000, 25, 4000); // the GOP before this one was small again: the arena shrinks
    assert.ok(cache.capacity < grown / 2, `capacity ${cache.capacity} should have shrunk from ${grown}`);
    assert.equal(cache.packets().length, 25);
  });

  it('holds GOPs of many packets (slot arrays grow) and clears to nothing', () => {
    const cache = new GopCache();
    cache.startGop(keyframe(0));
    for (let i = 1; i < 1000; i++) cache.add(audio(i));
    assert.equal(cache.length, 1000);
    assert.equal(cache.packets()[999]!.timestamp, 999);
    cache.clear();
    assert.equal(cache.length, 0);
    assert.equal(cache.capacity, 0);
    assert.deepEqual(cache.packets(), []);
  });
});

describe('LiveStream startup packets', () => {
  it('a joiner gets metadata, codec configs, then the GOP from its keyframe; over the budget the GOP is dropped', () => {
    const stream = new LiveStream('s', { gopCacheMaxBytes: 1000 });
    stream.startPublish({ id: 'c', publishQueryString: '', startedAt: 0 });
    stream.setMetadata({ type: 18, timestamp: 0, payload: Buffer.from('meta') });
    stream.write({ type: 9, timestamp: 0, payload: Buffer.from([0x17, 0, 0, 0, 0, 1]) }); // AVC sequence header
    stream.write({ type: 8, timestamp: 0, payload: Buffer.from([0xaf, 0, 0x12, 0x10]) }); // AAC config
    stream.write(inter(20)); // before any keyframe: nothing a joiner could decode
    stream.write(keyframe(40));
    stream.write(audio(50));
    assert.deepEqual(stream.startupPackets.map((p) => [p.type, p.timestamp]), [[18, 0], [9, 0], [8, 0], [9, 40], [8, 50]]);
    stream.write(inter(80, 2000)); // over the 1000-byte budget
    assert.deepEqual(stream.startupPackets.map((p) => [p.type, p.timestamp]), [[18, 0], [9, 0], [8, 0]]);
    stream.write(keyframe(1000));
    assert.deepEqual(stream.startupPackets.map((p) => p.timestamp), [0, 0, 0, 1000]);
  });
});

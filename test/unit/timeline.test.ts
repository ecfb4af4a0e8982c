import { strict as assert } from 'node:assert';
import { Timeline } from '../../runtime/media/timeline.ts';

const video = (timestamp: number) => ({ type: 9, timestamp, payload: Buffer.from([0x27, 1, 0, 0, 0]) });
const avcConfig = (timestamp: number) => ({ type: 9, timestamp, payload: Buffer.from([0x17, 0, 0, 0, 0]) });

describe('Timeline (relay, recording and pull timestamps)', () => {
  it('a stream joined mid-way starts at 0 and keeps its spacing', () => {
    const t = new Timeline();
    assert.deepEqual([2023, 2063, 2103].map((ts) => t.map(video(ts))), [0, 40, 80]);
  });

  it('continues after a rebase (detach/attach, republish) instead of jumping back', () => {
    const t = new Timeline();
    t.map(video(0));
    t.map(video(5000));
    t.rebase();
    assert.equal(t.map(video(0)), 5001);
    assert.equal(t.map(video(40)), 5041);
  });

  it('carries across the 32-bit wrap', () => {
    const t = new Timeline(0xfffffff0);
    assert.equal(t.map(video(0xffffff00)), 0xfffffff0);
    assert.equal(t.map(video(0xffffff28)), (0xfffffff0 + 40) >>> 0);
    assert.equal(t.map(video(0x00000010)), (0xfffffff0 + 0x110) >>> 0);
  });

  it('codec configs and data take the current position', () => {
    const t = new Timeline(100);
    assert.equal(t.map(avcConfig(9999)), 100);
    t.map(video(50));
    t.map(video(90));
    assert.equal(t.map({ type: 18, timestamp: 0, payload: Buffer.alloc(1) }), 140);
  });
});

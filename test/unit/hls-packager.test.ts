import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import { LivePackager } from '../../runtime/media/hls/live-packager.ts';
import { renderPlaylist } from '../../runtime/media/hls/playlist.ts';
import { LiveStream } from '../../runtime/media/live-stream.ts';
import type { MediaPacket } from '../../runtime/media/media-packet.ts';
import { assertLivePlaylist, parseMediaPlaylist } from '../helpers/hls.ts';
import { testFlv } from '../helpers/media-tools.ts';

const SETTINGS = { enabled: true, packaging: 'on-request' as const, lowLatency: true, partTargetMs: 334, segmentTargetMs: 2000, windowSegments: 6 };

function packaged(tags: MediaPacket[], opts: { offset?: number; settings?: typeof SETTINGS; maxBytes?: number } = {}) {
  const stream = new LiveStream('cam', { gopCacheMaxBytes: 1 << 24 });
  const changes: string[] = [];
  const packager = new LivePackager(stream, opts.settings ?? SETTINGS, opts.maxBytes ?? 1 << 28, 'ep', { changed: () => changes.push('c'), skippedCodecs: (w) => changes.push(`skip ${w}`), failed: (e) => assert.fail(e) });
  packager.start();
  stream.startPublish({ id: 'c1', publishQueryString: '', startedAt: Date.now() });
  for (const tag of tags) if (tag.type !== 18) stream.write({ ...tag, timestamp: (tag.timestamp + (opts.offset ?? 0)) >>> 0 });
  return { stream, packager, window: packager.window, changes };
}

describe('LivePackager: parts and segments from a real H.264/AAC FLV', () => {
  const tags = readFlvTags(readFileSync(testFlv(20)));

  it('cuts segments at keyframes every 2 s and parts no longer than PART-TARGET', () => {
    const { window } = packaged(tags);
    const complete = window.segments.filter((s) => s.complete);
    assert.ok(complete.length >= 8, `${complete.length} segments`);
    for (const s of complete) {
      assert.ok(Math.abs(s.durationMs - 2000) <= 40, `segment ${s.msn} lasts ${s.durationMs} ms`);
      assert.equal(s.parts[0]!.independent, true);
      for (const p of s.parts) assert.ok(p.durationMs <= 334, `part ${p.id} lasts ${p.durationMs} ms`);
      for (const p of s.parts.slice(0, -1)) assert.ok(p.durationMs >= 0.85 * 334, `part ${p.id} (not the last) lasts ${p.durationMs} ms`);
    }
    assertLivePlaylist(parseMediaPlaylist(renderPlaylist(window)), { lowLatency: true });
  });

  it('the window slides: the playlist lists 6 segments, 6 more stay downloadable, memory stays bounded', () => {
    const { window } = packaged(tags);
    const p = parseMediaPlaylist(renderPlaylist(window));
    assert.equal(p.segments.length, 6);
    assert.ok(window.segments.filter((s) => s.complete).length <= 12);
    const small = packaged(tags, { maxBytes: 400_000 });
    assert.ok(small.window.bytes <= 400_000 + 200_000, `bytes ${small.window.bytes}`);
    assert.ok(small.window.trimmedEarly > 0, 'a byte budget below the window trims early (and says so)');
  });

  it('timestamps across the 32-bit wrap keep increasing', () => {
    const { window } = packaged(tags, { offset: 2 ** 32 - 5000 });
    const starts = window.segments.map((s) => s.startMs);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! > starts[i - 1]!, `segment starts ${starts.join(', ')}`);
  });

  it('a republish continues the timeline with a discontinuity; ending adds ENDLIST', () => {
    const { stream, packager, window } = packaged(tags.filter((t) => t.timestamp < 5000));
    const before = window.segments.at(-1)!;
    stream.stopPublish();
    stream.startPublish({ id: 'c2', publishQueryString: '', startedAt: Date.now() });
    for (const tag of tags.filter((t) => t.timestamp < 5000)) if (tag.type !== 18) stream.write(tag);
    const after = window.segments.find((s) => s.msn > before.msn)!;
    assert.equal(after.discontinuity, true);
    assert.ok(after.startMs >= before.startMs + before.durationMs - 1, 'the new publish continues where the old one ended');
    packager.end();
    const p = parseMediaPlaylist(renderPlaylist(window));
    assert.equal(p.ended, true);
    assert.ok(p.segments.some((s) => s.discontinuity));
  });

  it('audio only: parts are cut on audio frames', () => {
    const { window } = packaged(tags.filter((t) => t.type === 8));
    const complete = window.segments.filter((s) => s.complete);
    assert.ok(complete.length >= 8);
    for (const s of complete) for (const p of s.parts) assert.ok(p.durationMs <= 334);
  });

  it('without LL-HLS: one part per segment, no parts or preload hint in the playlist', () => {
    const { window } = packaged(tags, { settings: { ...SETTINGS, lowLatency: false } });
    for (const s of window.segments.filter((x) => x.complete)) assert.equal(s.parts.length, 1);
    const p = parseMediaPlaylist(renderPlaylist(window));
    assert.equal(p.partTarget, null);
    assert.equal(p.preloadHints.length, 0);
    assertLivePlaylist(p, { lowLatency: false });
  });

  it('blocking-reload bookkeeping: satisfied parts, part past the end is part 0 of the next segment, too far ahead', () => {
    const { window } = packaged(tags.filter((t) => t.timestamp < 7000));
    const last = window.lastComplete!;
    assert.equal(window.satisfies(last.msn, 0), true);
    assert.equal(window.satisfies(last.msn, last.parts.length), window.open !== null && window.open.parts.length > 0);
    assert.equal(window.satisfies(last.msn + 5, 0), false);
    assert.equal(window.tooFarAhead(last.msn + 3, null), true);
    assert.equal(window.tooFarAhead(last.msn + 1, 1), false);
    assert.equal(window.tooFarAhead(last.msn + 1, 200), true);
  });
});

import { strict as assert } from 'node:assert';
import { parseDeliveryDirectives, parseHlsPath } from '../../runtime/media/hls/hls-request.ts';
import { parseRange } from '../../runtime/media/hls/http-answers.ts';

describe('HLS request targets', () => {
  it('reads app, instance, stream and object; _definst_ when the instance is left out', () => {
    assert.deepEqual(parseHlsPath('/live/cam/index.m3u8'), { routes: [{ app: 'live', instance: '_definst_', stream: 'cam' }], object: { kind: 'playlist' } });
    assert.deepEqual(parseHlsPath('/live/room1/cam/abc-init-2.mp4')?.object, { kind: 'init', epoch: 'abc', id: 2 });
    assert.deepEqual(parseHlsPath('/live/room1/cam/abc-17.m4s')?.object, { kind: 'segment', epoch: 'abc', msn: 17 });
    assert.deepEqual(parseHlsPath('/live/room1/cam/abc-p170.m4s')?.object, { kind: 'part', epoch: 'abc', id: 170 });
    assert.deepEqual(parseHlsPath('/live/cam/vod-v1-init-0.mp4')?.object, { kind: 'vod-init', version: 'v1', index: 0 });
    assert.deepEqual(parseHlsPath('/live/cam/vod-v1-9.m4s')?.object, { kind: 'vod-segment', version: 'v1', index: 9 });
    assert.deepEqual(parseHlsPath('/livepkgr/_definst_/f4f%3Alivestream/index.m3u8')?.routes, [{ app: 'livepkgr', instance: '_definst_', stream: 'f4f:livestream' }]);
  });

  it('with more segments, every split of instance and stream is a reading (shortest instance first)', () => {
    assert.deepEqual(parseHlsPath('/a/b/c/d/index.m3u8')?.routes.map((r) => `${r.instance}|${r.stream}`), ['b|c/d', 'b/c|d']);
  });

  it('refuses traversal, empty segments, bad encoding and unknown objects (no route)', () => {
    for (const p of ['/live/../cam/index.m3u8', '/live/%2e%2e/index.m3u8', '/live//index.m3u8', '/index.m3u8', '/live/cam/%ZZ/index.m3u8',
      '/live/cam/x.m3u8', '/live/cam/abc-1.ts', '/live/cam/ABC-1.m4s', '/live/cam/abc-p.m4s', '/live/cam/abc-1234567890123456.m4s',
      '/live/cam/../../etc/passwd', '/live/c%00am/index.m3u8', '/live/cam/vod-x-init.mp4']) {
      assert.equal(parseHlsPath(p), null, p);
    }
  });

  it('delivery directives: decimal integers, _HLS_part only with _HLS_msn, no repeats', () => {
    const d = (q: string) => parseDeliveryDirectives(new URLSearchParams(q));
    assert.deepEqual(d(''), { msn: null, part: null });
    assert.deepEqual(d('_HLS_msn=5'), { msn: 5, part: null });
    assert.deepEqual(d('_HLS_msn=5&_HLS_part=0&_HLS_skip=YES'), { msn: 5, part: 0 });
    for (const bad of ['_HLS_msn=', '_HLS_msn=-1', '_HLS_msn=1.5', '_HLS_msn=0x10', '_HLS_msn=1e3', `_HLS_msn=${'1'.repeat(16)}`, '_HLS_part=1', '_HLS_msn=1&_HLS_msn=1', '_HLS_msn=1&_HLS_part=a']) {
      assert.ok('error' in d(bad), bad);
    }
  });

  it('byte ranges: one range, suffix and open-ended; several or malformed are ignored; out of range is 416', () => {
    assert.deepEqual(parseRange('bytes=0-99', 1000), [0, 99]);
    assert.deepEqual(parseRange('bytes=990-2000', 1000), [990, 999]);
    assert.deepEqual(parseRange('bytes=500-', 1000), [500, 999]);
    assert.deepEqual(parseRange('bytes=-100', 1000), [900, 999]);
    assert.deepEqual(parseRange('bytes=-5000', 1000), [0, 999]);
    assert.equal(parseRange('bytes=0-1,5-9', 1000), null);
    assert.equal(parseRange('items=0-1', 1000), null);
    assert.equal(parseRange('bytes=-', 1000), null);
    assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
    assert.equal(parseRange('bytes=5-4', 1000), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 1000), 'unsatisfiable');
  });
});

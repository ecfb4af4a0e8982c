import { strict as assert } from 'node:assert';
import { headerFlags, parseFlvPath } from '../../runtime/media/flv-egress.ts';
import type { MediaPacket } from '../../runtime/media/media-packet.ts';
import { encodeAmf0 } from '../../runtime/rtmp/amf0.ts';

describe('HTTP-FLV egress: routes and header flags', () => {
  it('maps /<app>/<instance>/<stream>.flv; /<app>/<stream>.flv is _definst_', () => {
    assert.deepEqual(parseFlvPath('/live/_definst_/cam.flv'), [{ app: 'live', instance: '_definst_', stream: 'cam' }]);
    assert.deepEqual(parseFlvPath('/live/cam.flv'), [{ app: 'live', instance: '_definst_', stream: 'cam' }]);
    assert.deepEqual(parseFlvPath('/live/room%201/mp4%3Aclip.f4v.flv'), [{ app: 'live', instance: 'room 1', stream: 'mp4:clip.f4v' }]);
    assert.deepEqual(parseFlvPath('/live/a%2Fb/cam.flv'), [{ app: 'live', instance: 'a/b', stream: 'cam' }]);
  });

  it('with more segments, every instance/stream split is a candidate, shortest instance first', () => {
    assert.deepEqual(parseFlvPath('/live/a/b/c.flv'), [
      { app: 'live', instance: 'a', stream: 'b/c' },
      { app: 'live', instance: 'a/b', stream: 'c' },
    ]);
  });

  it('refuses paths that are not FLV routes', () => {
    for (const bad of ['/api/server', '/live.flv', '/live/.flv', '/live//cam.flv', '/live/../x.flv', '/live/%E0%A4%A.flv', '/live/./cam.flv']) {
      assert.equal(parseFlvPath(bad), null, bad);
    }
  });

  const video = (first: number, second: number): MediaPacket => ({ type: 9, timestamp: 0, payload: Buffer.from([first, second, 0, 0, 0]) });
  const audio: MediaPacket = { type: 8, timestamp: 0, payload: Buffer.from([0xaf, 0, 0x12, 0x10]) };
  const meta = (o: object): MediaPacket => ({ type: 18, timestamp: 0, payload: encodeAmf0(['onMetaData', o]) });

  it('header flags come from onMetaData codec ids, else codec configs, else both', () => {
    assert.deepEqual(headerFlags({ metadata: meta({ videocodecid: 7, audiocodecid: 10 }), videoConfig: null, audioConfig: null }), { audio: true, video: true });
    assert.deepEqual(headerFlags({ metadata: meta({ videocodecid: 7, width: 640 }), videoConfig: null, audioConfig: audio }), { audio: false, video: true });
    assert.deepEqual(headerFlags({ metadata: meta({ audiocodecid: 2 }), videoConfig: null, audioConfig: null }), { audio: true, video: false });
    assert.deepEqual(headerFlags({ metadata: meta({ duration: 0 }), videoConfig: video(0x17, 0), audioConfig: null }), { audio: false, video: true });
    assert.deepEqual(headerFlags({ metadata: { type: 18, timestamp: 0, payload: Buffer.from([0x02, 0xff]) }, videoConfig: null, audioConfig: audio }), { audio: true, video: false });
    assert.deepEqual(headerFlags({ metadata: null, videoConfig: null, audioConfig: null }), { audio: true, video: true });
  });
});

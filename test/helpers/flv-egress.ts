import { strict as assert } from 'node:assert';
import path from 'node:path';
import { isAudioConfig, isVideoConfig, isVideoKeyframe, type MediaPacket } from '../../runtime/media/media-packet.ts';
import { publishWithFfmpeg, testFlv, type Publisher } from './media-tools.ts';
import { startTestServer, type TestServer } from './test-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * The bundled applications with ffmpeg publishing live/cam, and a small player backlog limit so
 * slow-player tests reach it quickly: the fixture of the HTTP-FLV and WS-FLV egress tests.
 */
export async function serverWithLiveCam(): Promise<{ ts: TestServer; port: number; close(): Promise<void> }> {
  const ts = await startTestServer(path.join(ROOT, 'applications'), { media: { playerMaxBufferedBytes: 256 * 1024 } });
  const pub: Publisher = publishWithFfmpeg(testFlv(20), ts.url('live/cam'));
  await ts.logs.waitFor((r) => r.msg === 'publish started' && r.stream === 'cam', 15_000);
  return {
    ts,
    port: ts.server.httpPort,
    async close() {
      await pub.stop();
      await ts.close();
    },
  };
}

/** What every FLV player must get first: header (audio+video), onMetaData, AVC and AAC configs, a keyframe at time 0. */
export function assertFlvStart(head: Buffer, tags: MediaPacket[]): MediaPacket[] {
  assert.equal(head.toString('latin1', 0, 3), 'FLV');
  assert.equal(head[4], 5, 'header announces audio and video');
  assert.equal(tags[0]!.type, 18, 'onMetaData first');
  assert.ok(tags[0]!.payload.includes(Buffer.from('onMetaData')));
  assert.ok(isVideoConfig(tags[1]!) && isAudioConfig(tags[2]!), 'then the AVC and AAC configs');
  const video = tags.slice(3).filter((t) => t.type === 9);
  assert.ok(isVideoKeyframe(video[0]!), 'the first video frame is a keyframe');
  assert.equal(tags.find((t) => t.type === 8 || t.type === 9)!.timestamp, 0, 'timestamps start at 0');
  return video;
}

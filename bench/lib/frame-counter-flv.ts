/**
 * A test video whose frames carry their own number: 11 white/black boxes (bit i of the frame number
 * n, 40×40 px each) along the top edge, so a page reading pixels of the displayed frame knows which
 * frame it shows — glass-to-glass measured on the picture itself, not on a player's estimate.
 * H.264 (x264 zerolatency: no B-frames, so frame n is the n-th video tag) + AAC, 25 fps, 1 s GOP.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const COUNTER_BITS = 11;
export const BOX_PX = 40;

export function frameCounterFlv(seconds = 80): string {
  const dir = path.join(os.tmpdir(), 'fms-runtime-test-media');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `frame-counter-${seconds}s.flv`);
  if (existsSync(file)) return file;
  const boxes = Array.from({ length: COUNTER_BITS }, (_, i) =>
    `drawbox=x=${i * BOX_PX}:y=0:w=${BOX_PX}:h=${BOX_PX}:color=white:t=fill:enable='eq(mod(floor(n/${2 ** i}),2),1)'`);
  const filter = [`drawbox=x=0:y=0:w=${COUNTER_BITS * BOX_PX}:h=${BOX_PX}:color=black:t=fill`, ...boxes].join(',');
  const tmp = `${file}.${process.pid}.flv`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=640x360:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-vf', filter,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '25', '-keyint_min', '25', '-b:v', '800k', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', tmp,
  ]);
  if (result.status !== 0) throw new Error(`ffmpeg could not make the frame-counter FLV: ${result.stderr}`);
  renameSync(tmp, file);
  return file;
}

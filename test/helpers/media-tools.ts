import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NetConnection, type NetConnectionOptions } from '../../runtime/client/net-connection.ts';
import type { NetStream } from '../../runtime/client/net-stream.ts';
import { readFlvTags } from '../../runtime/media/flv-file.ts';

const CACHE = path.join(os.tmpdir(), 'fms-runtime-test-media');

/**
 * A pre-encoded FLV (H.264 + AAC, 25 fps, keyframe every second) made once per machine with ffmpeg,
 * so publishing it with `-c copy` costs almost no CPU.
 */
export function testFlv(seconds = 20, kbps = 500): string {
  mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, `test-${seconds}s-${kbps}k.flv`);
  if (existsSync(file)) return file;
  const tmp = `${file}.${process.pid}.tmp.flv`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    // Noise makes x264 actually spend the bitrate asked for (a plain test pattern compresses to little).
    '-f', 'lavfi', '-i', `testsrc=size=640x360:rate=25:duration=${seconds}${kbps >= 1000 ? ',noise=alls=25:allf=t+u' : ''}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '25', '-keyint_min', '25',
    '-b:v', `${kbps}k`, '-minrate', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`, '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', tmp,
  ]);
  if (result.status !== 0) throw new Error(`ffmpeg could not make the test FLV: ${result.stderr}`);
  spawnSync('mv', [tmp, file]);
  return file;
}

export interface Publisher {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** ffmpeg -re -c copy publishing a file to an RTMP URL (what OBS/FMLE do, FCPublish included). */
export function publishWithFfmpeg(file: string, url: string, extra: string[] = [], inputArgs: string[] = []): Publisher {
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-re', ...inputArgs, '-i', file, '-c', 'copy', ...extra, '-f', 'flv', url], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface PlayResult {
  videoFrames: number;
  audioFrames: number;
  code: number | null;
  stderr: string;
}

/**
 * Plays an RTMP URL with ffprobe for `seconds` and counts the video and audio packets it received.
 */
export function playWithFfprobe(url: string, seconds: number, timeoutMs = (seconds + 15) * 1000): Promise<PlayResult> {
  return new Promise((resolve) => {
    const child = spawn('ffprobe', [
      '-hide_banner', '-v', 'error', '-rw_timeout', '8000000', '-read_intervals', `%+${seconds}`,
      '-show_entries', 'packet=codec_type', '-of', 'csv=p=0', url,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const lines = out.split('\n');
      resolve({
        videoFrames: lines.filter((l) => l.startsWith('video')).length,
        audioFrames: lines.filter((l) => l.startsWith('audio')).length,
        code,
        stderr: err,
      });
    });
  });
}

/** Publishes an FLV file's tags through our client at real time (× speed), or as fast as possible. */
export async function publishTags(
  stream: NetStream,
  file: string,
  opts: { realtime: boolean; limitMs?: number; repeat?: number; speed?: number } = { realtime: true },
): Promise<void> {
  const tags = readFlvTags(readFileSync(file));
  const started = Date.now();
  const duration = tags.at(-1)!.timestamp + 40;
  for (let round = 0; round < (opts.repeat ?? 1); round++) {
    for (const tag of tags) {
      if (opts.limitMs !== undefined && tag.timestamp > opts.limitMs) break;
      const timestamp = tag.timestamp + round * duration;
      if (opts.realtime) {
        const wait = timestamp / (opts.speed ?? 1) - (Date.now() - started);
        if (wait > 5) await new Promise((r) => setTimeout(r, wait));
      } else if (tag.type === 9 && (tag.payload[0]! >> 4) === 1) {
        await new Promise((r) => setImmediate(r)); // let the server and players run between GOPs
      }
      if (tag.type === 18) continue;
      stream.sendMedia(tag.type as 8 | 9, timestamp, tag.payload);
    }
  }
}

/** Plays `streamName` at `url` with our client for `ms` and counts the video messages received. */
export async function countFrames(url: string, streamName: string, ms: number, options: NetConnectionOptions = {}): Promise<number> {
  const nc = new NetConnection(options);
  try {
    await nc.connect(url);
    const ns = await nc.createStream();
    let frames = 0;
    ns.on('media', (m) => {
      if (m.type === 9) frames++;
    });
    ns.play(streamName);
    await new Promise((r) => setTimeout(r, ms));
    return frames;
  } finally {
    nc.close();
  }
}

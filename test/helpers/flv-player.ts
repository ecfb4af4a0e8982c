import { spawn } from 'node:child_process';

export interface FramesResult {
  /** Video frames received within the measurement window (after the warm-up). */
  windowVideoFrames: number;
  /** All video and audio tags received. */
  videoFrames: number;
  audioFrames: number;
  exitCode: number | null;
  stderr: string;
}

/**
 * Runs a player that writes FLV to stdout (rtmpdump `-o -`, ffmpeg `-f flv -`) and counts the tags
 * as they arrive. The window starts `warmupMs` after the first video frame (past the GOP-cache
 * burst a late joiner gets) and lasts `windowMs`: what arrives in it is real-time delivery.
 */
export function countFlvFrames(command: string, args: string[], opts: { warmupMs?: number; windowMs?: number; timeoutMs?: number } = {}): Promise<FramesResult> {
  const warmupMs = opts.warmupMs ?? 1000;
  const windowMs = opts.windowMs ?? 5000;
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let pending = Buffer.alloc(0);
    let headerSeen = false;
    let firstVideoAt = 0;
    const result = { windowVideoFrames: 0, videoFrames: 0, audioFrames: 0 };
    let windowEnd = 0;
    const stop = () => child.kill('SIGKILL');
    const timeout = setTimeout(stop, opts.timeoutMs ?? warmupMs + windowMs + 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!headerSeen) {
        if (pending.length < 13) return;
        headerSeen = true;
        pending = pending.subarray(13); // FLV header + PreviousTagSize0
      }
      while (pending.length >= 11) {
        const size = pending.readUIntBE(1, 3);
        if (pending.length < 11 + size + 4) break;
        const type = pending[0]! & 0x1f;
        pending = pending.subarray(11 + size + 4);
        const now = Date.now();
        if (type === 8) result.audioFrames++;
        if (type !== 9) continue;
        result.videoFrames++;
        if (!firstVideoAt) {
          firstVideoAt = now;
          windowEnd = now + warmupMs + windowMs;
          setTimeout(stop, warmupMs + windowMs + 50);
        }
        if (now >= firstVideoAt + warmupMs && now < windowEnd) result.windowVideoFrames++;
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timeout);
      resolve({ ...result, exitCode: code, stderr });
    });
  });
}

/** rtmpdump (librtmp) playing a live stream: rtmp, rtmpe, rtmpt, rtmpte, rtmps, rtmpts. */
export function playWithRtmpdump(url: string, opts?: { warmupMs?: number; windowMs?: number }): Promise<FramesResult> {
  return countFlvFrames('rtmpdump', ['-q', '-v', '-r', url, '-o', '-'], opts);
}

/** ffmpeg playing (rtmp, rtmps, rtmpt, rtmpts), remuxed to FLV without decoding. */
export function playWithFfmpeg(url: string, opts?: { warmupMs?: number; windowMs?: number }): Promise<FramesResult> {
  return countFlvFrames('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rw_timeout', '8000000', '-i', url, '-c', 'copy', '-f', 'flv', '-'], opts);
}

/** Parent side of the publisher pool child (publisher-pool.ts): spawn it and talk to it over IPC. */
import { IpcChild } from './ipc-child.ts';
import type { Publisher } from './servers.ts';

export type PoolRequest =
  /** Publishes more streams (the first call starts the clock); `spread`: streams whose clocks share a frame interval (default: these). */
  | { cmd: 'start'; file: string; targets: { url: string; name: string }[]; spread?: number }
  /** Keep the first `count` streams, unpublish the rest. */
  | { cmd: 'trim'; count: number }
  /** Largest lateness of a send since the last stats, and the streams still connected. */
  | { cmd: 'stats' };

export type PoolReply =
  | { type: 'started'; started: number; failed: number; firstError?: string }
  | { type: 'trimmed' }
  | { type: 'stats'; maxLateMs: number; connected: number }
  | { type: 'error'; message: string };

export class PublisherPool extends IpcChild<PoolRequest, PoolReply> {
  constructor() {
    super('bench/lib/publisher-pool.ts', 'publisher pool');
  }
}

/**
 * One stream published by a pool child at the file's own pace, each tag when it is due (as a live
 * encoder sends): a Publisher like ffmpeg's (servers.ts startPublisher), whose -re output groups
 * audio and video into bursts (~25 a second for the test file instead of ~68 messages).
 */
export async function startPacedPublisher(file: string, url: string, name: string): Promise<Publisher> {
  const pool = new PublisherPool();
  let alive = true;
  try {
    const started = await pool.request({ cmd: 'start', file, targets: [{ url, name }] }, 'started');
    if (started.started !== 1) throw new Error(`paced publisher could not publish ${name} at ${url}`);
  } catch (error) {
    await pool.stop();
    throw error;
  }
  return {
    pid: pool.pid,
    alive: () => alive,
    stderr: () => '',
    stop: async () => {
      alive = false;
      await pool.stop();
    },
  };
}

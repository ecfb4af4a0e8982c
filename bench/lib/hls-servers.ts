/**
 * The servers the HLS bench compares, each its own process: ours (runtime/main.ts, app `live`,
 * HLS packaging "always" or HLS off) and nginx-rtmp (application `live` with `hls on`, writing
 * MPEG-TS segments to a temp folder, or `hls off`).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerProcess } from '../../test/helpers/server-process.ts';
import { startNginx } from './servers.ts';

export interface HlsServer {
  pid: number;
  rtmpUrl: string;
  httpPort: number;
  stop(): Promise<void>;
}

const tempDir = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), `fms-bench-${prefix}-`));

/** Ours: `packaging` "always" packages every stream from its publish on; "off" disables HLS. */
export async function startOursHls(packaging: 'always' | 'on-request' | 'off'): Promise<HlsServer> {
  const dir = tempDir('hls-ours');
  mkdirSync(path.join(dir, 'live'));
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ hls: packaging === 'off' ? { enabled: false } : { packaging } }));
  const server = await startServerProcess(dir, ['--log-level', 'info', '--config', config]);
  const listening = await server.logs.waitFor((r) => r.msg === 'server listening');
  return {
    pid: server.child.pid!,
    rtmpUrl: server.url('live'),
    httpPort: listening['httpPort'] as number,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** nginx-rtmp with `hls on` (2 s fragments, 12 s playlist, like our window) or `hls off`. */
export async function startNginxHls(hls: boolean): Promise<HlsServer> {
  const dir = tempDir('hls-nginx');
  mkdirSync(path.join(dir, 'hls'));
  const nginx = await startNginx(dir, hls ? ['hls on;', `hls_path ${dir}/hls;`, 'hls_fragment 2s;', 'hls_playlist_length 12s;'] : []);
  return {
    pid: nginx.pid,
    rtmpUrl: `rtmp://127.0.0.1:${nginx.port}/live`,
    httpPort: 0,
    stop: async () => {
      await nginx.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

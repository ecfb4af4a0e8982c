/**
 * The servers the HLS bench compares, each its own process: ours (runtime/main.ts, app `live`,
 * HLS packaging "always" or HLS off) and nginx-rtmp (application `live` with `hls on`, writing
 * MPEG-TS segments to a temp folder, or `hls off`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NGINX_BINARY, NGINX_RTMP_MODULE } from '../../test/helpers/nginx-rtmp.ts';
import { startServerProcess } from '../../test/helpers/server-process.ts';
import { freePort, waitForPort } from './proc-stats.ts';
import { exited, stopChild } from './servers.ts';

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
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  mkdirSync(path.join(dir, 'hls'));
  writeFileSync(conf, `load_module ${NGINX_RTMP_MODULE};
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live {
      live on;
${hls ? `      hls on;\n      hls_path ${dir}/hls;\n      hls_fragment 2s;\n      hls_playlist_length 12s;\n` : ''}    }
  }
}
`);
  const child = spawn(NGINX_BINARY, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const died = exited(child).then(() => {
    throw new Error(`nginx exited during startup: ${stderr}`);
  });
  await Promise.race([waitForPort(port, 10_000), died]);
  return {
    pid: child.pid!,
    rtmpUrl: `rtmp://127.0.0.1:${port}/live`,
    httpPort: 0,
    stop: async () => {
      await stopChild(child, 2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './test-server.ts';

export const NGINX_BINARY = '/usr/sbin/nginx';
export const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

/** Debian's nginx with libnginx-mod-rtmp, as .ci/run installs it. */
export function nginxRtmpAvailable(): boolean {
  return existsSync(NGINX_BINARY) && existsSync(NGINX_RTMP_MODULE);
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface NginxRtmp {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Debian's nginx in the foreground with the given config (listening on `port`), ready when the port accepts. */
export async function runNginx(dir: string, config: string, port: number): Promise<NginxRtmp> {
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, config);
  const child = spawn(NGINX_BINARY, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let attempt = 0; ; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || attempt > 100) {
      if (child.exitCode === null) child.kill('SIGKILL');
      throw new Error(`nginx did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A plain nginx-rtmp server (application `live`) in the foreground, on a free loopback port. */
export async function startNginxRtmp(): Promise<NginxRtmp> {
  const dir = tempDir('nginx');
  const port = await freePort();
  return runNginx(dir, `load_module ${NGINX_RTMP_MODULE};
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live { live on; }
  }
}
`, port);
}

import { existsSync } from 'node:fs';
import { freePort, NGINX_BINARY, runNginx, type NginxRtmp } from './nginx-rtmp.ts';
import { tempDir } from './test-server.ts';

export type NginxCache = NginxRtmp;

export function nginxAvailable(): boolean {
  return existsSync(NGINX_BINARY);
}

/**
 * Debian's nginx as a CDN-like cache tier in front of an origin: proxy_cache honouring the origin's
 * Cache-Control, with proxy_cache_lock so concurrent misses of one object make one origin request
 * (blocking LL-HLS reloads included: the lock waits as long as the origin may hold a request).
 */
export async function startNginxCache(originPort: number): Promise<NginxCache> {
  const dir = tempDir('nginx-cache');
  const port = await freePort();
  return runNginx(dir, `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=hls:10m max_size=256m inactive=120s use_temp_path=off;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${originPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache hls;
      proxy_cache_key $request_uri;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 12s;
      proxy_cache_lock_age 12s;
      proxy_read_timeout 15s;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`, port);
}

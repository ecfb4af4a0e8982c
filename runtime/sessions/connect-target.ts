/** What the connect command's tcUrl (or app field) says about where the client wants to go. */
export interface ConnectTarget {
  app: string;
  /** `_definst_` when the URI names no instance. */
  instance: string;
  query: string;
  host: string;
}

export const DEFAULT_INSTANCE = '_definst_';

/**
 * rtmp://host[:port]/app[/instance][?query] → app, instance, query. The instance may itself
 * contain slashes (FMS allows app/room/sub). Falls back to the connect object's `app` field, which
 * ffmpeg and Flash set to "app/instance".
 */
export function parseConnectTarget(tcUrl: unknown, appField: unknown): ConnectTarget | null {
  let pathPart: string | null = null;
  let host = '';
  let query = '';
  if (typeof tcUrl === 'string' && tcUrl.length > 0) {
    const match = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/i.exec(tcUrl);
    if (match) {
      host = (match[1] ?? '').replace(/^[^@]*@/, '');
      pathPart = match[2] ?? '';
      query = match[3] ?? '';
    }
  }
  if ((pathPart === null || pathPart.replace(/\//g, '') === '') && typeof appField === 'string') {
    const q = appField.indexOf('?');
    pathPart = q >= 0 ? appField.slice(0, q) : appField;
    if (q >= 0 && !query) query = appField.slice(q + 1);
  }
  if (pathPart === null) return null;
  const segments = pathPart.split('/').filter((s) => s.length > 0);
  const app = segments[0];
  if (!app) return null;
  const instance = segments.slice(1).join('/') || DEFAULT_INSTANCE;
  return { app, instance, query, host };
}

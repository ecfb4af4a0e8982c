/**
 * The admin API of a distributed server: the primary answers each route from its own AdminApi
 * (ports, connections still in their handshake, RTMPT sessions, the app catalog) and every
 * worker's (their instances, clients, streams, relays), merged here into the one answer a single
 * process would give. Routes about one instance go to the worker that owns it; reloads go to all.
 */
export interface AdminReply {
  status: number;
  body: unknown;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const numberOf = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Sums the numbers of objects key by key (nested objects too); other values come from the first. */
function sumObjects(objects: readonly unknown[]): Json {
  const out: Json = {};
  for (const object of objects) {
    if (!isObject(object)) continue;
    for (const [key, value] of Object.entries(object)) {
      if (typeof value === 'number') out[key] = numberOf(out[key]) + value;
      else if (isObject(value)) out[key] = sumObjects([out[key], value]);
      else if (!(key in out)) out[key] = value;
    }
  }
  return out;
}

const bodies = (replies: readonly AdminReply[]): Json[] => replies.filter((r) => r.status === 200 && isObject(r.body)).map((r) => r.body as Json);
const concat = (replies: readonly AdminReply[], key: string): unknown[] => bodies(replies).flatMap((b) => (Array.isArray(b[key]) ? (b[key] as unknown[]) : []));

/** GET /api/server: the primary's ports and doors, every process's connections and instances added up. */
function mergeServer(local: AdminReply, workers: readonly AdminReply[], processes: unknown[]): AdminReply {
  const base = isObject(local.body) ? local.body : {};
  const all = [local, ...workers];
  const sums = sumObjects(bodies(all).map((b) => ({ connections: b['connections'], connectionsByTransport: b['connectionsByTransport'], httpFlv: b['httpFlv'], hls: b['hls'], isolates: b['isolates'] })));
  return { status: 200, body: { ...base, ...sums, rtmptSessions: base['rtmptSessions'], instances: concat(all, 'instances'), processes } };
}

/** GET /api/apps: one entry per app, its instances from every worker. */
function mergeApps(local: AdminReply, workers: readonly AdminReply[]): AdminReply {
  const apps = new Map<string, { name: string; instances: unknown[]; clients: number }>();
  for (const body of bodies([local, ...workers])) {
    for (const app of Array.isArray(body['apps']) ? (body['apps'] as Json[]) : []) {
      const name = String(app['name']);
      const entry = apps.get(name) ?? { name, instances: [], clients: 0 };
      entry.instances.push(...(Array.isArray(app['instances']) ? (app['instances'] as unknown[]) : []));
      entry.clients += numberOf(app['clients']);
      apps.set(name, entry);
    }
  }
  return { status: 200, body: { apps: [...apps.values()] } };
}

/** FMS getAppStats: counters summed, the earliest launch, the longest uptime. */
function mergeAppStats(local: AdminReply, workers: readonly AdminReply[]): AdminReply {
  const base = local.body as Json;
  if (!isObject(base) || base['level'] !== 'status') return local; // no such application: the primary's catalog says so
  const datas = bodies([local, ...workers]).map((b) => b['data']).filter(isObject);
  const data = sumObjects(datas.map((d) => ({ ...d, launch_time: undefined, up_time: undefined })));
  const launches = datas.map((d) => d['launch_time']).filter((t): t is string => typeof t === 'string').sort();
  data['launch_time'] = launches[0] ?? null;
  data['up_time'] = Math.max(0, ...datas.map((d) => numberOf(d['up_time'])));
  return { status: 200, body: { ...base, data } };
}

/** FMS getServerStats: this whole server, every process's CPU, memory and I/O added up. */
function mergeServerStats(local: AdminReply, workers: readonly AdminReply[]): AdminReply {
  const base = local.body as Json;
  if (!isObject(base)) return local;
  const all = bodies([local, ...workers]);
  const summed = sumObjects(all.map((b) => ({ cpu_Usage: b['cpu_Usage'], physical_Mem: b['physical_Mem'], io: b['io'] })));
  return { status: 200, body: { ...base, ...summed } };
}

/** Reload results of every worker: one list of reloaded and one of failed instances. */
export function mergeReloads(results: readonly unknown[]): { reloaded: string[]; failed: string[] } {
  const merged = { reloaded: [] as string[], failed: [] as string[] };
  for (const result of results) {
    if (!isObject(result)) continue;
    if (Array.isArray(result['reloaded'])) merged.reloaded.push(...(result['reloaded'] as string[]));
    if (Array.isArray(result['failed'])) merged.failed.push(...(result['failed'] as string[]));
  }
  return merged;
}

/**
 * Merges the answers to a GET route the whole server answers; null for a route that is not merged
 * (it belongs to one instance, or to the primary alone).
 */
export function mergeAdmin(path: string, local: AdminReply, workers: readonly AdminReply[], processes: unknown[]): AdminReply | null {
  switch (path) {
    case '/api/server':
      return mergeServer(local, workers, processes);
    case '/api/apps':
      return mergeApps(local, workers);
    case '/api/instances':
      return { status: 200, body: { instances: concat([local, ...workers], 'instances') } };
    case '/api/streams':
      return { status: 200, body: { streams: concat([local, ...workers], 'streams') } };
    case '/api/relays':
      return { status: 200, body: { relays: concat([local, ...workers], 'relays') } };
    case '/admin/getAppStats':
      return mergeAppStats(local, workers);
    case '/admin/getServerStats':
      return mergeServerStats(local, workers);
    default:
      return null;
  }
}

/** The app and instance an admin route is about (instance routes, getLiveStreams), or null. */
export function instanceOfRoute(path: string, query: URLSearchParams): { app: string; instance: string } | null {
  const route = /^\/api\/instances\/([^/]+)\/(.+)\/(clients|unload|reload)$/.exec(path);
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  if (route) return { app: decode(route[1]!), instance: decode(route[2]!) };
  if (path === '/admin/getLiveStreams') {
    const appInst = query.get('appInst') ?? '';
    const slash = appInst.indexOf('/');
    return slash < 0 ? { app: appInst, instance: '_definst_' } : { app: appInst.slice(0, slash), instance: appInst.slice(slash + 1) };
  }
  return null;
}

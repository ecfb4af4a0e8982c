/**
 * What the soak and the bomb bench watch in a server process: from /proc (RSS, threads, open fds)
 * and from its own /metrics (V8 heap, libuv handles, isolates, instances, RTMP connections), so a
 * leak shows whether it is in JS, in native memory, in descriptors or in script isolates.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ServerSample {
  /** ms since the sampler started */
  atMs: number;
  rssMb: number;
  threads: number;
  fds: number;
  heapUsedMb: number;
  handles: number;
  isolates: number;
  isolatesLost: number;
  instances: number;
  rtmpConnections: number;
}

/** The numeric fields of a sample, in print order. */
export const SAMPLE_FIELDS = ['rssMb', 'heapUsedMb', 'fds', 'handles', 'threads', 'isolates', 'isolatesLost', 'instances', 'rtmpConnections'] as const;
export type SampleField = (typeof SAMPLE_FIELDS)[number];

function procStatus(pid: number): { rssMb: number; threads: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: field('VmRSS') / 1024, threads: field('Threads') };
}

/** Sums every series of each metric name in a Prometheus exposition text. */
export function metricTotals(text: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) totals.set(match[1]!, (totals.get(match[1]!) ?? 0) + value);
  }
  return totals;
}

export class ServerSampler {
  readonly samples: ServerSample[] = [];
  readonly #pid: number;
  readonly #metricsUrl: string;
  readonly #startedAt = performance.now();

  constructor(pid: number, httpPort: number) {
    this.#pid = pid;
    this.#metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
  }

  async sample(): Promise<ServerSample> {
    const proc = procStatus(this.#pid);
    const fds = readdirSync(`/proc/${this.#pid}/fd`).length;
    const response = await fetch(this.#metricsUrl, { signal: AbortSignal.timeout(10_000) });
    const metrics = metricTotals(await response.text());
    const metric = (name: string) => metrics.get(name) ?? NaN;
    const sample: ServerSample = {
      atMs: performance.now() - this.#startedAt,
      rssMb: proc.rssMb,
      threads: proc.threads,
      fds,
      heapUsedMb: metric('nodejs_heap_size_used_bytes') / 1048576,
      handles: metric('nodejs_active_handles_total'),
      isolates: metric('fms_isolates'),
      isolatesLost: metric('fms_isolates_lost_total'),
      instances: metric('fms_instances'),
      rtmpConnections: metric('fms_rtmp_connections'),
    };
    this.samples.push(sample);
    return sample;
  }
}

/** Least-squares slope of `field` per minute over the samples taken at or after `fromMs`. */
export function slopePerMinute(samples: readonly ServerSample[], field: SampleField, fromMs = 0): number {
  const points = samples.filter((s) => s.atMs >= fromMs && Number.isFinite(s[field]));
  if (points.length < 2) return NaN;
  const xs = points.map((s) => s.atMs / 60_000);
  const ys = points.map((s) => s[field]);
  const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanY = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - meanX) * (ys[i]! - meanY);
    den += (xs[i]! - meanX) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

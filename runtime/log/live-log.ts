import { Writable } from 'node:stream';

export type LiveLogRecord = Record<string, unknown> & { level: number; time: number; msg?: string; app?: string };

export interface LiveLogFilter {
  /** Application name ("livestreams") or instance ("livestreams/_definst_"). */
  app?: string;
  /** Minimum pino level number (30 = info). */
  minLevel?: number;
  /** Case-insensitive text that the message must contain. */
  text?: string;
}

const GLOBAL_RING = '';

/**
 * The live log: every JSON record the root logger writes also lands here, in a bounded ring per
 * application instance (trace output, script errors, connects, publishes, relay states, reloads),
 * and is pushed to live subscribers (SSE clients) that match their filter.
 */
export class LiveLog extends Writable {
  readonly #capacity: number;
  readonly #rings = new Map<string, LiveLogRecord[]>();
  readonly #subscribers = new Set<{ filter: LiveLogFilter; push: (record: LiveLogRecord) => void }>();
  #partial = '';

  constructor(capacityPerInstance = 1000) {
    super();
    this.#capacity = capacityPerInstance;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const lines = (this.#partial + chunk.toString('utf8')).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) if (line) this.#add(line);
    done();
  }

  #add(line: string): void {
    let record: LiveLogRecord;
    try {
      record = JSON.parse(line) as LiveLogRecord;
    } catch {
      return; // not one of our JSON records (pino only writes JSON lines here)
    }
    const key = typeof record.app === 'string' ? record.app : GLOBAL_RING;
    let ring = this.#rings.get(key);
    if (!ring) this.#rings.set(key, (ring = []));
    ring.push(record);
    if (ring.length > this.#capacity) ring.splice(0, ring.length - this.#capacity);
    for (const subscriber of this.#subscribers) if (matches(record, subscriber.filter)) subscriber.push(record);
  }

  /** Recent records matching the filter, oldest first. */
  recent(filter: LiveLogFilter = {}, limit = 500): LiveLogRecord[] {
    const all: LiveLogRecord[] = [];
    for (const [key, ring] of this.#rings) {
      if (filter.app && !appMatches(key, filter.app)) continue;
      for (const record of ring) if (matches(record, filter)) all.push(record);
    }
    return all.sort((a, b) => a.time - b.time).slice(-limit);
  }

  /** Live records matching the filter; returns the unsubscribe function. */
  subscribe(filter: LiveLogFilter, push: (record: LiveLogRecord) => void): () => void {
    const subscriber = { filter, push };
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  /** An instance unloaded for good: its ring can go (keeps memory bounded with many instances). */
  forget(app: string): void {
    this.#rings.delete(app);
  }
}

function appMatches(instanceName: string, app: string): boolean {
  return instanceName === app || instanceName.startsWith(`${app}/`);
}

function matches(record: LiveLogRecord, filter: LiveLogFilter): boolean {
  if (filter.minLevel !== undefined && record.level < filter.minLevel) return false;
  if (filter.app && !(typeof record.app === 'string' && appMatches(record.app, filter.app))) return false;
  if (filter.text && !String(record.msg ?? '').toLowerCase().includes(filter.text.toLowerCase())) return false;
  return true;
}

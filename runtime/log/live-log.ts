import { cutText } from './log-limits.ts';

export type LiveLogRecord = Record<string, unknown> & { level: number; time: number; msg?: string; app?: string };

export interface LiveLogFilter {
  /** Application name ("livestreams") or instance ("livestreams/_definst_"). */
  app?: string;
  /** Minimum pino level number (30 = info). */
  minLevel?: number;
  /** Case-insensitive text that the message must contain. */
  text?: string;
}

/** Memory the live log may keep (config `log.live*`). */
export interface LiveLogLimits {
  /** Bytes of JSON kept per loaded application instance. */
  ringBytes: number;
  /** Bytes of JSON kept for every other record: server lines, unknown or unloaded app names. */
  sharedRingBytes: number;
  /** A record longer than this is kept (and pushed) truncated: level, time, app, msg cut, `truncated: true`. */
  recordMaxBytes: number;
}

export const DEFAULT_LIVE_LOG_LIMITS: LiveLogLimits = { ringBytes: 256 * 1024, sharedRingBytes: 1024 * 1024, recordMaxBytes: 16 * 1024 };

/** Records per ring whatever their size: `recent()` sorts them all. */
const MAX_RECORDS_PER_RING = 1000;
/** Longest app name a truncated record keeps. */
const TRUNCATED_APP_CHARS = 256;

/** Oldest-first records with their JSON size; drops the oldest beyond a byte and a count budget. */
class Ring {
  readonly #maxBytes: number;
  #entries: { record: LiveLogRecord; bytes: number }[] = [];
  #head = 0;
  bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  push(record: LiveLogRecord, bytes: number): void {
    this.#entries.push({ record, bytes });
    this.bytes += bytes;
    while (this.bytes > this.#maxBytes || this.#entries.length - this.#head > MAX_RECORDS_PER_RING) {
      this.bytes -= this.#entries[this.#head]!.bytes;
      this.#entries[this.#head++] = undefined as never; // let the record go now, compact later
    }
    if (this.#head > 64 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  *entries(): IterableIterator<{ record: LiveLogRecord; bytes: number }> {
    for (let i = this.#head; i < this.#entries.length; i++) yield this.#entries[i]!;
  }
}

/**
 * The live log: every JSON record the root logger writes also lands here and is pushed to live
 * subscribers (SSE clients) that match their filter. Recent records are kept for the console in a
 * ring per loaded application instance (trace output, script errors, connects, publishes, relay
 * states, reloads) and one shared ring for the rest; each ring is bounded in bytes, so an app name
 * a client made up (an unknown app, an 8 MB name) never gets memory of its own.
 */
export class LiveLog {
  readonly #limits: LiveLogLimits;
  /** Whether a record's `app` names an instance that is loaded now (only those get a ring). */
  readonly #isInstance: (name: string) => boolean;
  readonly #rings = new Map<string, Ring>();
  readonly #shared: Ring;
  readonly #subscribers = new Set<{ filter: LiveLogFilter; push: (record: LiveLogRecord, json: string) => void }>();
  #partial = '';

  constructor(limits: LiveLogLimits = DEFAULT_LIVE_LOG_LIMITS, isInstance: (name: string) => boolean = () => false) {
    this.#limits = limits;
    this.#isInstance = isInstance;
    this.#shared = new Ring(limits.sharedRingBytes);
  }

  /**
   * What the root logger writes (pino multistream calls this with one JSON line at a time). A plain
   * method, not a stream.Writable: its machinery cost a fifth of a trace.
   */
  write(chunk: string | Buffer, done?: () => void): boolean {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.#partial === '' && text.indexOf('\n') === text.length - 1) {
      if (text.length > 1) this.#add(text.slice(0, -1)); // the usual case: exactly one line
    } else {
      const lines = (this.#partial + text).split('\n');
      this.#partial = lines.pop() ?? '';
      // pino writes whole lines; a partial one longer than any record we keep is no record of ours.
      if (this.#partial.length > this.#limits.recordMaxBytes * 64) this.#partial = '';
      for (const line of lines) if (line) this.#add(line);
    }
    done?.();
    return true;
  }

  #add(line: string): void {
    let record: LiveLogRecord;
    try {
      record = JSON.parse(line) as LiveLogRecord;
    } catch {
      return; // not one of our JSON records (pino only writes JSON lines here)
    }
    let json = line;
    let bytes = Buffer.byteLength(line);
    if (bytes > this.#limits.recordMaxBytes) {
      record = truncated(record, this.#limits.recordMaxBytes);
      json = JSON.stringify(record);
      bytes = Buffer.byteLength(json);
    }
    this.#ringFor(record.app).push(record, bytes);
    for (const subscriber of this.#subscribers) if (matches(record, subscriber.filter)) subscriber.push(record, json);
  }

  #ringFor(app: unknown): Ring {
    if (typeof app !== 'string') return this.#shared;
    const ring = this.#rings.get(app);
    if (ring) return ring;
    if (!this.#isInstance(app)) return this.#shared;
    this.#retireUnloaded();
    const created = new Ring(this.#limits.ringBytes);
    this.#rings.set(app, created);
    return created;
  }

  /** Rings of instances unloaded since: their records move to the shared ring (which bounds them). */
  #retireUnloaded(): void {
    for (const [name, ring] of this.#rings) {
      if (this.#isInstance(name)) continue;
      this.#rings.delete(name);
      for (const { record, bytes } of ring.entries()) this.#shared.push(record, bytes);
    }
  }

  /** Bytes of JSON the rings hold now (for tests and metrics). */
  get retainedBytes(): number {
    let bytes = this.#shared.bytes;
    for (const ring of this.#rings.values()) bytes += ring.bytes;
    return bytes;
  }

  /** How many rings exist: one per loaded instance that logged, plus the shared one. */
  get ringCount(): number {
    return this.#rings.size + 1;
  }

  /** Recent records matching the filter, oldest first. */
  recent(filter: LiveLogFilter = {}, limit = 500): LiveLogRecord[] {
    const all: LiveLogRecord[] = [];
    for (const [key, ring] of [...this.#rings, ['', this.#shared] as const]) {
      if (filter.app && key !== '' && !appMatches(key, filter.app)) continue;
      for (const { record } of ring.entries()) if (matches(record, filter)) all.push(record);
    }
    return all.sort((a, b) => a.time - b.time).slice(-limit);
  }

  /** Live records matching the filter (with their JSON text); returns the unsubscribe function. */
  subscribe(filter: LiveLogFilter, push: (record: LiveLogRecord, json: string) => void): () => void {
    const subscriber = { filter, push };
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }
}

/** What is kept of a record over the size budget: enough to see what happened, marked as cut. */
function truncated(record: LiveLogRecord, maxBytes: number): LiveLogRecord {
  const out: LiveLogRecord = { level: record.level, time: record.time, truncated: true };
  if (typeof record.app === 'string') out.app = cutText(record.app, TRUNCATED_APP_CHARS);
  if (record['trace'] === true) out['trace'] = true;
  // A quarter of the budget in characters: at most 3 bytes each in UTF-8, plus room for the rest.
  out.msg = cutText(String(record.msg ?? ''), Math.floor(maxBytes / 4));
  return out;
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

import { LiveStream, type LiveStreamLimits } from './live-stream.ts';

/**
 * The live streams of one application instance (each instance has its own namespace).
 * Streams are created on first publish or play and forgotten when idle.
 */
export class StreamRegistry {
  readonly #streams = new Map<string, LiveStream>();
  readonly #limits: LiveStreamLimits;

  constructor(limits: LiveStreamLimits) {
    this.#limits = limits;
  }

  get(name: string): LiveStream | undefined {
    return this.#streams.get(name);
  }

  getOrCreate(name: string): LiveStream {
    let stream = this.#streams.get(name);
    if (!stream) {
      stream = new LiveStream(name, this.#limits);
      this.#streams.set(name, stream);
    }
    return stream;
  }

  /** Forget the stream if nobody publishes or plays it. */
  release(stream: LiveStream): void {
    if (stream.idle && this.#streams.get(stream.name) === stream) this.#streams.delete(stream.name);
  }

  all(): LiveStream[] {
    return [...this.#streams.values()];
  }
}

/**
 * Stream names as clients send them: `name?query`, `flv:name`, `mp4:name.f4v`, `folder/name`.
 * The key drops the query string and the default `flv:` prefix (FMS treats `flv:a` and `a` alike);
 * other prefixes stay part of the name.
 */
export function parseStreamName(raw: string): { name: string; query: string } {
  const q = raw.indexOf('?');
  let name = q >= 0 ? raw.slice(0, q) : raw;
  const query = q >= 0 ? raw.slice(q + 1) : '';
  if (name.startsWith('flv:')) name = name.slice(4);
  return { name, query };
}

import { ScriptError } from '../errors.ts';
import type { LoadReply } from '../../host-api/protocol.ts';
import { locateStack, type ScriptWhere } from './isolate-errors.ts';
import type { ScriptLoader, ScriptSource } from './script-loader.ts';

/**
 * The load() calls of one script. While main.asc's top level runs they are queued (FMS runs a
 * loaded file after the file that loads it) and then run in order, each failure reported at its
 * load() call's line; afterwards a handler's load() is read at once (off the event loop, size-capped)
 * and checked before it runs.
 */
export class ScriptLoads {
  readonly #loader: ScriptLoader;
  readonly #warnEncoding: (file: ScriptSource) => void;
  /** 'loading' while main.asc's top level and queued load()s run: load() only queues then. */
  #phase: 'loading' | 'running' = 'loading';
  /** load()s queued during the top level, with where each was called (a missing file is reported there). */
  readonly #queued: { name: string; where: ScriptWhere }[] = [];

  constructor(loader: ScriptLoader, warnEncoding: (file: ScriptSource) => void) {
    this.#loader = loader;
    this.#warnEncoding = warnEncoding;
  }

  /** load(name) from the script; `callerStack` is the stack where it was called. */
  async request(name: string, callerStack: string | undefined): Promise<LoadReply> {
    const where = locateStack(callerStack, this.#loader);
    if (this.#phase === 'loading') {
      this.#queued.push({ name, where });
      return { kind: 'deferred' };
    }
    let file: ScriptSource;
    try {
      file = await this.#loader.loadFileAsync(name);
    } catch (error) {
      if (!(error instanceof ScriptError)) throw error;
      return { kind: 'failed', error: { name: 'Error', message: error.message, load: true, ...where } };
    }
    this.#warnEncoding(file);
    const syntax = this.#loader.checkSyntax(file);
    return syntax === undefined ? { kind: 'run', filename: file.filename, source: file.source } : { kind: 'failed', error: syntax };
  }

  /**
   * The files queued by the top level, in order, read as they come (the queue grows while they
   * run: a queued file may load() more). A file that cannot be read throws at its load() call's line.
   */
  *queued(): Generator<ScriptSource> {
    for (let i = 0; i < this.#queued.length; i++) {
      const queued = this.#queued[i]!;
      try {
        yield this.#loader.loadFile(queued.name);
      } catch (error) {
        if (!(error instanceof ScriptError)) throw error;
        throw new ScriptError(error.code, error.message, queued.where, { cause: error });
      }
    }
    this.#queued.length = 0;
  }

  /** The top level is done: from now on load() runs at once. */
  running(): void {
    this.#phase = 'running';
  }
}

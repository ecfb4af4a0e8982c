import { EventEmitter } from 'node:events';

/**
 * EventEmitter with a typed event map. A listener that throws is caught and reported through
 * `listenerError` so a bug in one subscriber never breaks the emitter (CONVENTIONS: events).
 */
export type EventMap = Record<string, unknown[]>;

export class TypedEmitter<E extends EventMap> {
  readonly #emitter = new EventEmitter();
  /** Receives errors thrown by listeners; the default rethrows asynchronously so they are not lost. */
  protected listenerError: (error: unknown, event: string) => void = (error) => {
    queueMicrotask(() => {
      throw error;
    });
  };

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    for (const listener of this.#emitter.listeners(event)) {
      try {
        (listener as (...a: E[K]) => void)(...args);
      } catch (error) {
        this.listenerError(error, event);
      }
    }
  }
}

/**
 * Event emitter with a typed event map. A listener that throws is caught and reported through
 * `listenerError` so a bug in one subscriber never breaks the emitter (CONVENTIONS: events).
 *
 * Listener lists are copy-on-write: on/off replace a event's array, emit iterates the array it
 * found. That keeps node:events' snapshot semantics (a listener added or removed during an emit
 * does not change that emit) without copying the list on every emit — RTMP connections emit once
 * per media message, which made `EventEmitter.listeners()` one array allocation per message.
 */
export type EventMap = Record<string, unknown[]>;

type Listener = (...args: unknown[]) => void;

/** A `once` registration: `off(original)` must find it, as with node:events. */
interface OnceWrapper {
  (...args: unknown[]): void;
  original: Listener;
}

export class TypedEmitter<E extends EventMap> {
  readonly #listeners = new Map<string, readonly Listener[]>();
  /** Receives errors thrown by listeners; the default rethrows asynchronously so they are not lost. */
  protected listenerError: (error: unknown, event: string) => void = (error) => {
    queueMicrotask(() => {
      throw error;
    });
  };

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#add(event, listener as unknown as Listener);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    const wrapper = ((...args: unknown[]) => {
      this.#remove(event, wrapper);
      (listener as (...a: unknown[]) => void)(...args);
    }) as OnceWrapper;
    wrapper.original = listener as unknown as Listener;
    this.#add(event, wrapper as Listener);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#remove(event, listener as unknown as Listener);
    return this;
  }

  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    const listeners = this.#listeners.get(event);
    if (listeners === undefined) return;
    // By index: for-of made an iterator object per emit, and connections emit once per message.
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as unknown as (...a: E[K]) => void)(...args);
      } catch (error) {
        this.listenerError(error, event);
      }
    }
  }

  #add(event: string, listener: Listener): void {
    const current = this.#listeners.get(event);
    this.#listeners.set(event, current === undefined ? [listener] : [...current, listener]);
  }

  /** Removes the most recently added registration of `listener` (or of a once wrapper around it), as node:events does. */
  #remove(event: string, listener: Listener): void {
    const current = this.#listeners.get(event);
    if (current === undefined) return;
    for (let i = current.length - 1; i >= 0; i--) {
      const entry = current[i]!;
      if (entry === listener || (entry as unknown as Partial<OnceWrapper>).original === listener) {
        if (current.length === 1) this.#listeners.delete(event);
        else this.#listeners.set(event, [...current.slice(0, i), ...current.slice(i + 1)]);
        return;
      }
    }
  }
}

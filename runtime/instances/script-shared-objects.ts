import type { ProxiedSharedObjects } from '../shared-objects/proxied-shared-objects.ts';
import type { InstanceHooks, SharedObjectOp } from '../../host-api/protocol.ts';
import type { SharedObjectState } from '../shared-objects/shared-object-state.ts';
import type { SharedObjectStore } from '../shared-objects/shared-object-store.ts';

/**
 * The script's SharedObject handles (SharedObject.get), by name: the host side of host-api's
 * SharedObject class. Operations on a name the script never got are ignored (undefined).
 */
export class ScriptSharedObjects {
  readonly #store: () => SharedObjectStore;
  readonly #proxied: () => ProxiedSharedObjects | null;
  readonly #handles = new Map<string, SharedObjectState>();
  /** lock() calls not yet matched by unlock(), per name: released when the script goes away. */
  readonly #locks = new Map<string, number>();

  constructor(store: () => SharedObjectStore, proxied: () => ProxiedSharedObjects | null = () => null) {
    // Getters: the instance creates its store and connections after its hooks object.
    this.#store = store;
    this.#proxied = proxied;
  }

  getProxied(key: string, ncId: number, name: string, persistent: boolean): boolean {
    return this.#proxied()?.get(key, ncId, name, persistent) ?? false;
  }

  async get(name: string, persistent: boolean): Promise<boolean> {
    const state = await this.#store().open(name, persistent);
    if (state) this.#handles.set(name, state);
    return state !== null;
  }

  op(name: string, op: SharedObjectOp, args: unknown[]): unknown {
    const proxied = this.#proxied();
    if (proxied?.has(name)) return proxied.op(name, op, args);
    const state = this.#handles.get(name);
    if (!state) return undefined;
    const text = (i: number) => String(args[i] ?? '');
    switch (op) {
      case 'getProperty':
        return state.getProperty(text(0));
      case 'setProperty':
        return state.setProperty(text(0), args[1]);
      case 'getPropertyNames':
        return state.getPropertyNames();
      case 'size':
        return state.size();
      case 'send':
        return state.send(text(0), ...args.slice(1));
      case 'lock':
        this.#locks.set(name, (this.#locks.get(name) ?? 0) + 1);
        return state.lock();
      case 'unlock': {
        const held = this.#locks.get(name) ?? 0;
        if (held > 0) this.#locks.set(name, held - 1);
        return state.unlock();
      }
      case 'clear':
        return state.clear();
      case 'close':
        this.#handles.delete(name);
        return state.close();
      case 'purge':
        return state.purge(Number(args[0]));
      case 'version':
        return state.version;
      case 'resyncDepth':
        return state.resyncDepth;
      case 'setResyncDepth':
        state.resyncDepth = Number(args[0]);
        return undefined;
    }
  }

  flush(name: string): Promise<boolean> {
    if (this.#proxied()?.has(name)) return Promise.resolve(false); // the owner's business (FMS)
    return this.#handles.get(name)?.flush() ?? Promise.resolve(false);
  }

  /**
   * The script is gone (hot reload, unload): locks it still holds would freeze the shared object
   * for clients forever, so they are released (the final unlock syncs the batched changes).
   */
  release(): void {
    for (const [name, held] of this.#locks) {
      const state = this.#handles.get(name);
      for (let i = 0; i < held && state; i++) state.unlock();
    }
    this.#locks.clear();
    this.#handles.clear();
  }

  clearSharedObjects(soPath: string): boolean {
    return this.#store().clearSharedObjects(soPath);
  }

  /** The instance's half of the bridge for shared objects. */
  readonly hooks = {
    soGet: (name, persistent) => this.get(name, persistent),
    soFlush: (name) => this.flush(name),
    soOp: (name, op, args) => this.op(name, op, args),
    soClearPath: (soPath) => this.clearSharedObjects(soPath),
    soGetProxied: (key, ncId, name, persistent) => this.getProxied(key, ncId, name, persistent),
    // A proxied SO's writes are its owner's business: never dirty here.
    soIsDirty: (name) => this.#handles.get(name)?.dirty === true && !this.#proxied()?.has(name),
  } satisfies Partial<InstanceHooks>;
}

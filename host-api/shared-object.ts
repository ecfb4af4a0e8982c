/**
 * Server-side SharedObject (fms-api §7): `SharedObject.get(name, persistent)` returns one object per
 * name whose methods act on the instance's remote shared object in the host (clients see every
 * change as a sync). `onSync` is set per object (not on the prototype) and receives the changes
 * clients made; `so[handler]` runs for a client's `so.send(handler, ...)`.
 */
import { defineConstant, defineMethod, defineProperty, emptyMap, hasOwn, host, objectCreate, StringConstructor, unsupported } from './host.ts';
import { invoke, toPlain } from './values.ts';

interface SharedObjectObject {
  readonly name: string;
  [member: string]: unknown;
}

const handles = emptyMap<SharedObjectObject>();

export function SharedObject(): void {}

const SharedObjectStatic = SharedObject as unknown as Record<string, unknown>;

defineMethod(SharedObjectStatic, 'get', function (name: unknown, persistence?: unknown, netConnection?: unknown): SharedObjectObject | null {
  if (netConnection !== undefined && netConnection !== null) {
    unsupported('SharedObject.get(name, persistence, netConnection)');
    return null;
  }
  const key = StringConstructor(name);
  const existing = handles[key];
  if (existing !== undefined) return existing;
  if (!host('soGet', key, persistence === true)) return null;
  const so = objectCreate(SharedObject.prototype) as SharedObjectObject;
  defineConstant(so, 'name', key);
  handles[key] = so;
  return so;
});

defineMethod(SharedObjectStatic, 'commit', function (): void {
  unsupported('SharedObject.commit');
});

function op(so: unknown, operation: string, args: unknown[]): unknown {
  const name = (so as SharedObjectObject | null)?.name;
  if (typeof name !== 'string' || handles[name] !== so) return undefined;
  const plain: unknown[] = [];
  for (let i = 0; i < args.length; i++) plain[i] = toPlain(args[i]);
  return host('soOp', name, operation, plain);
}

const proto = SharedObject.prototype as Record<string, unknown>;
for (const operation of ['getProperty', 'setProperty', 'getPropertyNames', 'size', 'send', 'lock', 'unlock', 'flush', 'clear', 'purge']) {
  defineMethod(proto, operation, function (this: unknown, ...args: unknown[]): unknown {
    return op(this, operation, args);
  });
}
defineMethod(proto, 'close', function (this: SharedObjectObject): void {
  op(this, 'close', []);
  if (handles[this.name] === this) delete handles[this.name];
});
defineMethod(proto, 'mark', function (): void {
  unsupported('SharedObject.mark');
});
defineProperty(proto, 'version', {
  get(this: unknown) {
    return op(this, 'version', []);
  },
  enumerable: false,
  configurable: true,
});
// FMS: Infinity by default; clients further behind than this get a full resync (Clear + slots).
defineProperty(proto, 'resyncDepth', {
  get(this: unknown) {
    return op(this, 'resyncDepth', []);
  },
  set(this: unknown, depth: unknown) {
    op(this, 'setResyncDepth', [depth]);
  },
  enumerable: false,
  configurable: true,
});

/** Host → isolate: clients changed slots of a shared object the script holds. */
export function onSoSyncEvent(name: string, list: Record<string, unknown>[]): void {
  const so = handles[name];
  if (so === undefined) return;
  if (typeof so.onSync === 'function') invoke(so.onSync, so, [list]);
}

/** Host → isolate: a client's so.send(handler, ...args); the handler is looked up on the object. */
export function onSoSendEvent(name: string, handler: string, args: unknown[]): void {
  const so = handles[name];
  if (so === undefined || handler === 'constructor') return;
  const fn = hasOwn(so, handler) ? so[handler] : undefined;
  if (typeof fn === 'function') invoke(fn, so, args);
}

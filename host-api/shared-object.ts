/**
 * Server-side SharedObject (fms-api §7): `SharedObject.get(name, persistent)` returns one object per
 * name whose methods act on the instance's remote shared object in the host (clients see every
 * change as a sync). `onSync` is set per object (not on the prototype) and receives the changes
 * clients made; `so[handler]` runs for a client's `so.send(handler, ...)`. With a NetConnection,
 * `get` returns a proxied SO owned by the server that connection reaches (the host is its client).
 */
import { defineConstant, defineMethod, defineProperty, emptyMap, hasOwn, host, hostWait, objectCreate, StringConstructor, unsupported } from './host.ts';
import { ncIdOf } from './net-connection.ts';
import type { InfoRecord, SharedObjectOp } from './protocol.ts';
import { invoke, toPlain } from './values.ts';
import { restoreClasses } from './amf-classes.ts';

interface SharedObjectObject {
  readonly name: string;
  [member: string]: unknown;
}

/** Handles by key: the SO name for local SOs, see getProxied for proxied ones. */
const handles = emptyMap<SharedObjectObject>();
const keys = new WeakMap<object, string>();

export function SharedObject(): void {}

const SharedObjectStatic = SharedObject as unknown as Record<string, unknown>;

defineMethod(SharedObjectStatic, 'get', function (name: unknown, persistence?: unknown, netConnection?: unknown): SharedObjectObject | null {
  const soName = StringConstructor(name);
  if (netConnection !== undefined && netConnection !== null) return getProxied(soName, persistence === true, netConnection);
  const existing = handles[soName];
  if (existing !== undefined) return existing;
  if (!hostWait('soGet', soName, persistence === true)) return null;
  return newHandle(soName, soName);
});

/**
 * A proxied SO (owned by whatever `nc` is connected to). Its handle key starts with a control
 * character, which local SO names may not contain, so the two kinds never share a key.
 */
function getProxied(soName: string, persistent: boolean, nc: unknown): SharedObjectObject | null {
  const ncId = ncIdOf(nc);
  if (ncId === null) return null;
  const key = '\u0001' + ncId + '/' + soName;
  const existing = handles[key];
  if (existing !== undefined) return existing;
  if (!host('soGetProxied', key, ncId, soName, persistent)) return null;
  return newHandle(key, soName);
}

function newHandle(key: string, soName: string): SharedObjectObject {
  const so = objectCreate(SharedObject.prototype) as SharedObjectObject;
  defineConstant(so, 'name', soName);
  handles[key] = so;
  keys.set(so, key);
  return so;
}

defineMethod(SharedObjectStatic, 'commit', function (): void {
  unsupported('SharedObject.commit');
});

function op(so: unknown, operation: SharedObjectOp, args: unknown[]): unknown {
  const key = typeof so === 'object' && so !== null ? keys.get(so) : undefined;
  if (key === undefined || handles[key] !== so) return undefined;
  const plain: unknown[] = [];
  for (let i = 0; i < args.length; i++) plain[i] = toPlain(args[i]);
  // getProperty hands back slot values: typed ones get their registered prototype.
  return restoreClasses(host('soOp', key, operation, plain));
}

const proto = SharedObject.prototype as Record<string, unknown>;
for (const operation of ['getProperty', 'setProperty', 'getPropertyNames', 'size', 'send', 'lock', 'unlock', 'clear', 'purge'] as const) {
  defineMethod(proto, operation, function (this: unknown, ...args: unknown[]): unknown {
    return op(this, operation, args);
  });
}
// True only once the data is on disk (written, fsynced, renamed, folder fsynced); the script waits
// for it while the host writes off its event loop.
defineMethod(proto, 'flush', function (this: unknown): boolean {
  const key = typeof this === 'object' && this !== null ? keys.get(this) : undefined;
  if (key === undefined || handles[key] !== this) return false;
  return hostWait('soFlush', key);
});
defineMethod(proto, 'close', function (this: SharedObjectObject): void {
  op(this, 'close', []);
  const key = keys.get(this);
  if (key !== undefined && handles[key] === this) delete handles[key];
});
defineMethod(proto, 'mark', function (): void {
  unsupported('SharedObject.mark');
});
// FMS: whether a persistent SO has changed since it was last stored (false for the others).
defineProperty(proto, 'isDirty', {
  get(this: unknown) {
    const key = typeof this === 'object' && this !== null ? keys.get(this) : undefined;
    return key !== undefined && handles[key] === this && host('soIsDirty', key);
  },
  enumerable: false,
  configurable: true,
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

/** Host → isolate: clients changed slots of a shared object the script holds (`name` is the handle key). */
export function onSoSyncEvent(name: string, list: Record<string, unknown>[]): void {
  const so = handles[name];
  if (so === undefined) return;
  if (typeof so.onSync === 'function') invoke(so.onSync, so, [list]);
}

/** Host → isolate: a status for a shared object the script holds (`name` is the handle key): so.onStatus(info). */
export function onSoStatusEvent(name: string, info: InfoRecord): void {
  const so = handles[name];
  if (so === undefined) return;
  if (typeof so.onStatus === 'function') invoke(so.onStatus, so, [info]);
}

/** Host → isolate: a client's so.send(handler, ...args); the handler is looked up on the object. */
export function onSoSendEvent(name: string, handler: string, args: unknown[]): void {
  const so = handles[name];
  if (so === undefined || handler === 'constructor') return;
  const fn = hasOwn(so, handler) ? so[handler] : undefined;
  if (typeof fn === 'function') invoke(fn, so, args);
}

/**
 * application.registerClass: AMF class aliases for script values (fms-api §2, §13).
 *
 * Prototypes do not survive the isolate boundary (structured clone), so a typed object crosses as a
 * plain object carrying its alias in one extra own property whose name is a per-instance random key
 * chosen by the host (BootOptions.amfClassKey). Clients cannot guess it, and scripts never see it:
 * outgoing values get it only in toPlain's output, incoming values lose it in restoreClasses before
 * any handler runs. The host side of the same convention is runtime/sandbox/amf-class-tags.ts.
 *
 * Nothing here runs until a script registers a class: `classesRegistered()` gates both directions,
 * so an application that never calls registerClass pays one boolean test per crossing.
 */
import {
  getPrototypeOf,
  hasOwn,
  host,
  isArray,
  objectKeys,
  ObjectPrototype,
  reflectApply,
  StringConstructor,
} from './host.ts';

const MAX_DEPTH = 64;
const SetConstructor = Set;
const setPrototypeOf = Object.setPrototypeOf;
const mapGet = Map.prototype.get;
const mapSet = Map.prototype.set;
const mapDelete = Map.prototype.delete;
const mapForEach = Map.prototype.forEach;
const setHas = Set.prototype.has;
const setAdd = Set.prototype.add;

let classKey = '';
/** alias → constructor, in registration order. */
const constructors = new Map<string, object>();
/** constructors' size, kept here: Map.prototype.size is a getter a script could redefine. */
let registeredCount = 0;

export function setAmfClassKey(key: string): void {
  classKey = key;
}

/** The reserved property name; '' before install. */
export function amfClassKey(): string {
  return classKey;
}

export function classesRegistered(): boolean {
  return registeredCount > 0;
}

/**
 * application.registerClass(className, constructor): null/undefined unregisters. A non-function
 * constructor registers nothing (FMS ignores it too), so an alias can never map to a plain object.
 */
export function registerClass(className: unknown, constructor: unknown): void {
  const alias = StringConstructor(className);
  if (alias === '') return;
  if (typeof constructor === 'function') {
    if (reflectApply(mapGet, constructors, [alias]) === undefined) registeredCount++;
    reflectApply(mapSet, constructors, [alias, constructor]);
    host('registerClass', alias, true);
  } else if (constructor === null || constructor === undefined) {
    if (reflectApply(mapDelete, constructors, [alias]) !== true) return;
    registeredCount--;
    host('registerClass', alias, false);
  }
}

/**
 * The alias under which `object` goes out: the first registered constructor whose current
 * `prototype` is on its prototype chain (instanceof semantics; `prototype` is read now, because
 * ES3 scripts often replace it after registering).
 */
export function aliasOf(object: object): string | undefined {
  let found: string | undefined;
  let proto: unknown = getPrototypeOf(object);
  // Object.prototype never counts: registering Object must not turn every object into a typed one.
  for (let depth = 0; found === undefined && proto !== null && proto !== ObjectPrototype && depth < MAX_DEPTH; depth++) {
    const target = proto;
    reflectApply(mapForEach, constructors, [
      (constructor: Record<string, unknown>, alias: string) => {
        if (found === undefined && constructor.prototype === target) found = alias;
      },
    ]);
    proto = getPrototypeOf(proto as object);
  }
  return found;
}

/**
 * Incoming values (event payloads, host-call results): objects tagged by the host get the registered
 * constructor's prototype; the constructor is not called (as in FMS). Mutates the fresh copy in place.
 */
export function restoreClasses<T>(value: T): T {
  if (registeredCount > 0 && classKey !== '') restore(value, new SetConstructor<object>(), 0);
  return value;
}

function restore(value: unknown, seen: Set<object>, depth: number): void {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return;
  if (reflectApply(setHas, seen, [value]) === true) return;
  reflectApply(setAdd, seen, [value]);
  // Arrays too go through objectKeys: an AMF3 array's associative part may hold instances.
  const object = value as Record<string, unknown>;
  let alias: unknown;
  if (!isArray(value) && hasOwn(object, classKey)) {
    alias = object[classKey];
    delete object[classKey];
  }
  const keys = objectKeys(object);
  for (let i = 0; i < keys.length; i++) restore(object[keys[i] as string], seen, depth + 1);
  if (typeof alias !== 'string') return;
  const constructor = reflectApply(mapGet, constructors, [alias]) as Record<string, unknown> | undefined;
  const proto = constructor === undefined ? undefined : constructor.prototype;
  if ((typeof proto === 'object' && proto !== null) || typeof proto === 'function') setPrototypeOf(object, proto);
}

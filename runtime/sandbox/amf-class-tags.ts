/**
 * The host half of application.registerClass (the isolate half is host-api/amf-classes.ts).
 *
 * On the host a typed object is a plain object with a hidden AMF_CLASS_NAME symbol (what the AMF
 * readers produce and the writers honour). Symbols and prototypes do not survive the copy into or
 * out of the isolate, so across the bridge the alias travels as one extra own property named by a
 * random per-instance key. This module converts between the two forms at the sandbox's two
 * crossings (host-call arguments/results and event payloads/replies). It is only consulted once
 * the script registered a class (`active`), so other applications pay nothing.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_MAX_ENCODE_DEPTH, getClassName, setProperty, typedObject } from '../rtmp/amf-values.ts';
import { BridgeArgumentError } from './bridge-arguments.ts';

/** Enough for any real application; bounds what a script can make the host keep. */
const MAX_ALIASES = 1024;
/** AMF0 writes the alias as a short string; real aliases are Java/AS3 class names. */
const MAX_ALIAS_LENGTH = 1024;

export class AmfClassTags {
  /** Not guessable by clients, so a peer cannot make a plain object arrive as a registered class. */
  readonly key = `__fms_amf_class_${randomBytes(12).toString('hex')}`;
  private readonly aliases = new Set<string>();

  get active(): boolean {
    return this.aliases.size > 0;
  }

  register(alias: string, registered: boolean): void {
    if (!registered) {
      this.aliases.delete(alias);
      return;
    }
    if (alias === '' || alias.length > MAX_ALIAS_LENGTH) throw new BridgeArgumentError(`class alias must be 1..${MAX_ALIAS_LENGTH} characters`);
    if (!this.aliases.has(alias) && this.aliases.size >= MAX_ALIASES) throw new BridgeArgumentError(`more than ${MAX_ALIASES} registered classes`);
    this.aliases.add(alias);
  }

  /**
   * Host → isolate: a copy of `value` in which typed objects with a registered alias carry it under
   * `key`. A copy, because payloads include host-owned values (shared-object slots) that must keep
   * their own form; non-plain objects (Dates, buffers, AmfXml...) are passed through as they are.
   */
  toIsolate<T>(value: T): T {
    return this.tagged(value, new Map(), 0) as T;
  }

  private tagged(value: unknown, seen: Map<object, unknown>, depth: number): unknown {
    if (typeof value !== 'object' || value === null || depth > DEFAULT_MAX_ENCODE_DEPTH) return value;
    const known = seen.get(value);
    if (known !== undefined) return known;
    let out: Record<string, unknown>;
    if (Array.isArray(value)) {
      // All own keys, not just indices: AMF3 arrays may carry an associative part.
      out = new Array(value.length) as unknown as Record<string, unknown>;
    } else {
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return value;
      out = {};
    }
    seen.set(value, out);
    for (const [key, item] of Object.entries(value)) setProperty(out, key, this.tagged(item, seen, depth + 1));
    const alias = getClassName(value);
    if (alias !== undefined && this.aliases.has(alias)) out[this.key] = alias;
    return out;
  }

  /** Isolate → host, in place (the value is the bridge's fresh copy): tagged objects become typed objects. */
  fromIsolate(value: unknown): void {
    this.untag(value, new Set(), 0);
  }

  private untag(value: unknown, seen: Set<object>, depth: number): void {
    if (typeof value !== 'object' || value === null || depth > DEFAULT_MAX_ENCODE_DEPTH || seen.has(value)) return;
    seen.add(value);
    const object = value as Record<string, unknown>;
    if (!Array.isArray(value) && Object.hasOwn(object, this.key)) {
      const alias = object[this.key];
      delete object[this.key];
      if (typeof alias === 'string' && alias !== '') typedObject(alias, object);
    }
    for (const key of Object.keys(object)) this.untag(object[key], seen, depth + 1);
  }
}

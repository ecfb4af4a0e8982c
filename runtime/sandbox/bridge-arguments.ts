/**
 * Validation of host-call arguments: everything arriving from the isolate is script data.
 * A failed check becomes a TypeError in the calling script (see Sandbox.onHostCall).
 */

/** Thrown by a host call whose arguments are wrong; the script sees a TypeError with this text. */
export class BridgeArgumentError extends Error {}

export function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new BridgeArgumentError(`${what} must be a string`);
  return value;
}

export function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new BridgeArgumentError(`${what} must be a number`);
  return value;
}

export function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new BridgeArgumentError(`${what} must be an array`);
  return value;
}

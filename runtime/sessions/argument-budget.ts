import type { ConnectTarget } from './connect-target.ts';

/**
 * Sizes of what a client sends that the server stores or logs (config `rtmp.max*Chars`,
 * `rtmp.maxConnectBytes`). Each check runs before the value is routed, stored or logged; a value
 * over budget is refused with the FMS status of its command, never cut silently (a cut name
 * would name something else).
 */
export interface ArgumentLimits {
  /** App, instance, stream and method names, with their query strings. */
  maxNameChars: number;
  /** Every string of the connect object (tcUrl, swfUrl, pageUrl, flashVer, …). */
  maxUrlChars: number;
  /** The connect command's payload: object and extra arguments (checked before decoding). */
  maxConnectBytes: number;
}

/** Why a connect object is over budget, or null. Only its own string fields: nested values count in maxConnectBytes. */
export function connectObjectProblem(props: Record<string, unknown> | null, limits: ArgumentLimits): string | null {
  if (props === null || typeof props !== 'object') return null;
  for (const [key, value] of Object.entries(props)) {
    if (typeof value === 'string' && value.length > limits.maxUrlChars) {
      return `Connect object field ${key.slice(0, 64)} is ${value.length} characters; the limit is ${limits.maxUrlChars}.`;
    }
  }
  return null;
}

/** Why an app/instance target is over budget, or null. */
export function targetProblem(target: ConnectTarget, limits: ArgumentLimits): string | null {
  const length = target.app.length + 1 + target.instance.length + (target.query ? target.query.length + 1 : 0);
  return length > limits.maxNameChars ? `Application and instance name are ${length} characters; the limit is ${limits.maxNameChars}.` : null;
}

/** Why a stream or method name is over budget, or null. */
export function nameProblem(what: 'Stream' | 'Method', name: string, limits: ArgumentLimits): string | null {
  return name.length > limits.maxNameChars ? `${what} name is ${name.length} characters; the limit is ${limits.maxNameChars}.` : null;
}

import type { Config } from '../config.ts';

/**
 * The client.protocol values this server accepts connections over, for the check's "compared
 * with a transport that is not served" rows. RTMP always; transports that need configuration
 * (RTMPS, RTMPT, RTMPE…) are added here when their config turns them on.
 */
export function servedProtocols(_config: Config): string[] {
  return ['rtmp'];
}

import type { Config } from '../config.ts';

/**
 * The client.protocol values this server accepts connections over, for the check's "compared
 * with a transport that is not served" rows: RTMP always; RTMPS with a certificate (RTMPTS over
 * the HTTPS port reports "rtmps" too, as FMS did); RTMPT, RTMPE and RTMPTE when enabled.
 */
export function servedProtocols(config: Config): string[] {
  const served = ['rtmp'];
  if (config.rtmps.cert || (config.https.enabled && config.https.cert)) served.push('rtmps');
  if (config.rtmpt.enabled) served.push('rtmpt');
  if (config.rtmpe.enabled) served.push('rtmpe');
  if (config.rtmpt.enabled && config.rtmpe.enabled) served.push('rtmpte');
  return served;
}

import net from 'node:net';
import tls from 'node:tls';
import { RtmptClientTransport } from '../rtmp/rtmpt-client.ts';
import { SocketTransport, type RtmpTransport } from '../rtmp/transport.ts';
import { trustedContext } from './tls-trust.ts';

/** The URI schemes a NetConnection connects with, each a transport (and RTMPE or not). */
export type RtmpScheme = 'rtmp' | 'rtmps' | 'rtmpt' | 'rtmpts' | 'rtmpe' | 'rtmpte';

/** Ports used when a URI names none, as Flash Player and FMS had them. */
export const DEFAULT_PORTS: Readonly<Record<RtmpScheme, number>> = { rtmp: 1935, rtmpe: 1935, rtmps: 443, rtmpts: 443, rtmpt: 80, rtmpte: 80 };

/** The scheme of a parsed URI, or null when it is not one we speak. */
export function schemeOf(url: URL): RtmpScheme | null {
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  return scheme in DEFAULT_PORTS ? (scheme as RtmpScheme) : null;
}

export function isRtmpe(scheme: RtmpScheme): boolean {
  return scheme === 'rtmpe' || scheme === 'rtmpte';
}

export interface ClientTransportOptions {
  /** TLS trust (rtmps, rtmpts); default: Node's and the system's CAs. Certificates are always verified. */
  secureContext?: tls.SecureContext;
}

/** Opens the transport for a scheme. Bytes written before it is connected are queued. */
export function openClientTransport(scheme: RtmpScheme, host: string, port: number, options: ClientTransportOptions = {}): RtmpTransport {
  switch (scheme) {
    case 'rtmp':
    case 'rtmpe':
      return new SocketTransport(net.connect({ host, port }), 'tcp');
    case 'rtmps':
      return new SocketTransport(
        tls.connect({ host, port, secureContext: options.secureContext ?? trustedContext(), ...(net.isIP(host) ? {} : { servername: host }) }),
        'tls',
      );
    case 'rtmpt':
    case 'rtmpte':
      return new RtmptClientTransport({ host, port, secure: false });
    case 'rtmpts':
      return new RtmptClientTransport({ host, port, secure: true, secureContext: options.secureContext ?? trustedContext() });
  }
}

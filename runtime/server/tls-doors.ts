import type tls from 'node:tls';
import { readCaFiles, trustedContext } from '../client/tls-trust.ts';
import { CertificateFiles, type CertificatePair } from '../common/certificate-files.ts';
import type { Config } from '../config.ts';
import { ErrorCode, FmsRuntimeError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';

export type TlsDoor = 'rtmps' | 'https';

/**
 * The server's TLS material: the RTMPS and HTTPS certificates (followed on disk: a renewed pair
 * serves new connections, established ones keep theirs) and the trust of server-side rtmps:// and
 * rtmpts:// NetConnections (outbound.caFiles). One failure line per door per interval for failed
 * handshakes: scanners send plenty.
 */
export class TlsDoors {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #budgetLog: RateLimitedLog;
  readonly #certificates: CertificateFiles[] = [];
  /** Trust for server-side rtmps:// and rtmpts:// NetConnections (outbound.caFiles), set by load(). */
  outboundTrust: tls.SecureContext | undefined;

  constructor(config: Config, log: Logger, budgetLog: RateLimitedLog) {
    this.#config = config;
    this.#log = log;
    this.#budgetLog = budgetLog;
  }

  /** Reads rtmps/https certificates and outbound CA files; throws listing every problem. */
  load(): { rtmpsCert: CertificateFiles | null; httpsCert: CertificateFiles | null } {
    const problems: string[] = [];
    const { rtmps, https: httpsConfig, outbound } = this.#config;
    const rtmpsCert = rtmps.cert && rtmps.key ? new CertificateFiles(rtmps.cert, rtmps.key, 'rtmps') : null;
    const ownHttpsCert = httpsConfig.enabled && httpsConfig.cert && httpsConfig.key ? new CertificateFiles(httpsConfig.cert, httpsConfig.key, 'https') : null;
    const httpsCert = httpsConfig.enabled ? (ownHttpsCert ?? rtmpsCert) : null;
    if (httpsConfig.enabled && !httpsCert) problems.push('https.enabled: needs a certificate (https.cert/https.key or rtmps.cert/rtmps.key)');
    for (const files of [rtmpsCert, ownHttpsCert]) {
      if (!files) continue;
      files.load(problems);
      this.#certificates.push(files);
    }
    const caPems = readCaFiles(outbound.caFiles, problems, 'outbound.caFiles');
    if (problems.length > 0) throw new FmsRuntimeError(ErrorCode.TlsCertificateInvalid, `TLS configuration:\n  - ${problems.join('\n  - ')}`);
    this.outboundTrust = caPems.length > 0 ? trustedContext(caPems) : undefined;
    for (const files of this.#certificates) {
      const { subject, validTo, fingerprint256 } = files.pair;
      if (Date.parse(validTo) < Date.now()) this.#log.warn({ cert: files.certPath, subject, validTo, code: ErrorCode.TlsCertificateInvalid }, 'TLS certificate has expired');
      else this.#log.info({ cert: files.certPath, subject, validTo, fingerprint256 }, 'TLS certificate loaded');
    }
    return { rtmpsCert, httpsCert };
  }

  options(pair: CertificatePair): tls.TlsOptions {
    return { cert: pair.cert, key: pair.key, handshakeTimeout: this.#config.tls.handshakeTimeoutMs, maxVersion: this.#config.tls.maxVersion };
  }

  /** Serves `server` with `files`: renewed certificates for new connections, one line per failed handshake interval. */
  serve(files: CertificateFiles, server: tls.Server, door: TlsDoor): void {
    server.on('tlsClientError', (error, socket) => this.#failed(door, error, socket));
    files.on('changed', (pair: CertificatePair) => {
      server.setSecureContext({ cert: pair.cert, key: pair.key, maxVersion: this.#config.tls.maxVersion });
      this.#log.info({ door, cert: files.certPath, subject: pair.subject, validTo: pair.validTo, fingerprint256: pair.fingerprint256 }, 'TLS certificate reloaded');
    });
    files.on('invalid', (reason) => this.#log.warn({ door, cert: files.certPath, code: ErrorCode.TlsCertificateInvalid, reason }, 'TLS certificate change refused; keeping the previous one'));
    files.watch();
  }

  /** A TLS handshake failed or timed out; Node leaves the socket open once 'tlsClientError' has a listener. */
  #failed(door: TlsDoor, error: Error, socket: tls.TLSSocket): void {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    socket.destroy();
    // At most once per 10 s per port: scanners send plenty.
    this.#budgetLog.warn(`tls.${door}`, { door, ip, code: ErrorCode.TlsHandshakeFailed, err: (error as { code?: string }).code ?? error.message }, 'TLS handshake failed');
  }

  /** Stops following the certificate files. */
  close(): void {
    for (const files of this.#certificates) files.close();
  }
}

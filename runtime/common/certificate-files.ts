import { X509Certificate } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import tls from 'node:tls';
import { TypedEmitter } from './typed-emitter.ts';

/** A certificate and its key, read and checked together. */
export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
  /** Subject, expiry and fingerprint of the leaf certificate, for logs. */
  subject: string;
  validTo: string;
  fingerprint256: string;
}

export type CertificateFilesEvents = {
  /** Both files changed into a valid pair; new TLS connections should get it. */
  changed: [pair: CertificatePair];
  /** The files changed into something unusable; the previous pair stays in use. */
  invalid: [reason: string];
};

/** How often the files' metadata is checked (fs.watchFile: renames and symlink swaps included). */
const POLL_MS = 2000;
/** An ACME client writes the certificate and the key one after the other: read both once it settles. */
const SETTLE_MS = 500;

/**
 * A TLS certificate/key pair on disk (rtmps.cert/rtmps.key, https.cert/https.key), loaded at start
 * — where a bad pair is a start-up error naming the problem — and watched afterwards, so a renewed
 * certificate (ACME) reaches new connections without a restart; established ones keep theirs.
 */
export class CertificateFiles extends TypedEmitter<CertificateFilesEvents> {
  readonly certPath: string;
  readonly keyPath: string;
  readonly #what: string;
  #pair: CertificatePair | null = null;
  #settle: NodeJS.Timeout | null = null;
  #watching = false;
  readonly #onChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    if (this.#settle) clearTimeout(this.#settle);
    this.#settle = setTimeout(() => this.#reload(), SETTLE_MS);
  };

  /** `what` names the config keys in messages, e.g. "rtmps" → "rtmps.cert". */
  constructor(certPath: string, keyPath: string, what: string) {
    super();
    this.certPath = certPath;
    this.keyPath = keyPath;
    this.#what = what;
  }

  get pair(): CertificatePair {
    if (!this.#pair) throw new Error(`${this.#what} certificate not loaded`);
    return this.#pair;
  }

  /** Reads both files; each problem is added to `problems` (nothing added = loaded). */
  load(problems: string[]): void {
    const pair = this.#read(problems);
    if (pair) this.#pair = pair;
  }

  /** Starts watching both files for changes. */
  watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    watchFile(this.certPath, { interval: POLL_MS, persistent: false }, this.#onChange);
    if (this.keyPath !== this.certPath) watchFile(this.keyPath, { interval: POLL_MS, persistent: false }, this.#onChange);
  }

  close(): void {
    if (this.#settle) clearTimeout(this.#settle);
    if (!this.#watching) return;
    this.#watching = false;
    unwatchFile(this.certPath, this.#onChange);
    unwatchFile(this.keyPath, this.#onChange);
  }

  #reload(): void {
    this.#settle = null;
    const problems: string[] = [];
    const pair = this.#read(problems);
    if (!pair) return this.emit('invalid', problems.join('; '));
    if (this.#pair && pair.cert.equals(this.#pair.cert) && pair.key.equals(this.#pair.key)) return;
    this.#pair = pair;
    this.emit('changed', pair);
  }

  #read(problems: string[]): CertificatePair | null {
    const file = (key: 'cert' | 'key', path: string): Buffer | null => {
      try {
        return readFileSync(path);
      } catch (error) {
        problems.push(`${this.#what}.${key}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        return null;
      }
    };
    const cert = file('cert', this.certPath);
    const key = file('key', this.keyPath);
    if (!cert || !key) return null;
    try {
      tls.createSecureContext({ cert, key }); // not PEM, wrong type, or a key that does not match: throws
      const leaf = new X509Certificate(cert);
      return { cert, key, subject: leaf.subject.replace(/\n/g, ', '), validTo: leaf.validTo, fingerprint256: leaf.fingerprint256 };
    } catch (error) {
      problems.push(`${this.#what}.cert/${this.#what}.key (${this.certPath}, ${this.keyPath}): ${(error as Error).message}`);
      return null;
    }
  }
}

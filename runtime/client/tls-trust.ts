import { readFileSync } from 'node:fs';
import tls from 'node:tls';

/**
 * What outbound TLS (rtmps://, rtmpts://) trusts: Node's default CAs and the system's, plus the
 * extra CA certificates given (config `outbound.caFiles`; tests add a CA they made). Certificates
 * are always verified; there is deliberately no way to turn that off.
 */
let systemAndDefault: string[] | null = null;

function baseCertificates(): string[] {
  if (!systemAndDefault) {
    let system: string[] = [];
    try {
      system = tls.getCACertificates('system');
    } catch {
      system = []; // a platform without a readable system store: Node's own bundle still applies
    }
    systemAndDefault = [...new Set([...tls.getCACertificates('default'), ...system])];
  }
  return systemAndDefault;
}

const contexts = new Map<string, tls.SecureContext>();

/** One SecureContext per set of extra CAs (building one parses every CA: not per connection). */
export function trustedContext(extraCa: readonly (string | Buffer)[] = []): tls.SecureContext {
  const key = extraCa.map((ca) => ca.toString()).join('\n');
  let context = contexts.get(key);
  if (!context) {
    context = tls.createSecureContext({ ca: [...baseCertificates(), ...extraCa.map((ca) => ca.toString())] });
    contexts.set(key, context);
  }
  return context;
}

/** Reads CA files for trustedContext; each problem ("<file>: <reason>") is collected, not thrown. */
export function readCaFiles(files: readonly string[], problems: string[], where: string): string[] {
  const pems: string[] = [];
  for (const file of files) {
    try {
      const pem = readFileSync(file, 'utf8');
      tls.createSecureContext({ ca: pem }); // parses: a file that is not a certificate fails here
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
      pems.push(pem);
    } catch (error) {
      problems.push(`${where}: ${file}: ${(error as Error).message}`);
    }
  }
  return pems;
}

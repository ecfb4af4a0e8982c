import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './test-server.ts';

export interface TlsFixtures {
  dir: string;
  /** The test CA (PEM) that signed both server certificates; trusted only where a test says so. */
  caPem: string;
  caFile: string;
  /** A certificate for localhost/127.0.0.1 and its key. */
  cert: string;
  key: string;
  /** A second certificate (other serial, same names) for the reload test. */
  cert2: string;
  key2: string;
}

function openssl(dir: string, args: string[]): void {
  const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

/** A throw-away CA and two server certificates made with openssl for this test run. */
export function makeTlsFixtures(): TlsFixtures {
  const dir = tempDir('tls');
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=fms-runtime test CA']);
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const name of ['server', 'server2']) {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost']);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'ext.cnf']);
  }
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caPem: readFileSync(file('ca.pem'), 'utf8'),
    caFile: file('ca.pem'),
    cert: file('server.pem'),
    key: file('server.key'),
    cert2: file('server2.pem'),
    key2: file('server2.key'),
  };
}

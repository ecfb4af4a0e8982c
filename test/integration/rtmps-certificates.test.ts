import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { ErrorCode, FmsRuntimeError } from '../../runtime/errors.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { makeTlsFixtures, type TlsFixtures } from '../helpers/tls-fixtures.ts';

/** The SHA-256 fingerprint of the certificate a fresh TLS connection to `port` is given. */
function presentedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

describe('RTMPS certificates: checked at start, followed on disk', function () {
  this.timeout(60_000);
  let tlsFiles: TlsFixtures;
  let apps: string;

  before(() => {
    tlsFiles = makeTlsFixtures();
    apps = tempDir('apps');
    mkdirSync(path.join(apps, 'live'));
  });

  it('a missing key, a key of another certificate and an unreadable CA file are one start-up error listing each', async () => {
    const error = await startTestServer(apps, {
      rtmps: { host: '127.0.0.1', port: 0, cert: tlsFiles.cert, key: tlsFiles.key2 },
      https: { enabled: true, port: 0, cert: tlsFiles.cert, key: path.join(tlsFiles.dir, 'nope.key') },
      outbound: { caFiles: [path.join(tlsFiles.dir, 'missing-ca.pem')] },
    }).then(
      () => assert.fail('the server started'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof FmsRuntimeError && error.code === ErrorCode.TlsCertificateInvalid, String(error));
    assert.match(error.message, /rtmps\.cert\/rtmps\.key .*(key values mismatch|KEY_VALUES_MISMATCH)/i);
    assert.match(error.message, /https\.key: cannot read .*nope\.key: ENOENT/);
    assert.match(error.message, /outbound\.caFiles: .*missing-ca\.pem/);
  });

  describe('a renewed certificate reaches new connections without a restart', () => {
    let ts: TestServer;
    let certFile: string;
    let keyFile: string;
    const open: NetConnection[] = [];

    before(async () => {
      const dir = tempDir('live-cert');
      certFile = path.join(dir, 'cert.pem');
      keyFile = path.join(dir, 'key.pem');
      copyFileSync(tlsFiles.cert, certFile);
      copyFileSync(tlsFiles.key, keyFile);
      ts = await startTestServer(apps, { rtmps: { host: '127.0.0.1', port: 0, cert: certFile, key: keyFile } });
    });
    after(async () => {
      for (const nc of open) nc.close();
      await ts?.close();
    });

    it('new connections get the new certificate, an established RTMPS client stays; a broken file is refused', async () => {
      const port = ts.server.rtmpsPort;
      assert.equal(await presentedFingerprint(port, tlsFiles.caPem), fingerprint(tlsFiles.cert));
      const established = new NetConnection({ ca: [tlsFiles.caPem] });
      open.push(established);
      await established.connect(`rtmps://127.0.0.1:${port}/live`);

      copyFileSync(tlsFiles.key2, keyFile);
      copyFileSync(tlsFiles.cert2, certFile);
      await ts.logs.waitFor((r) => r.msg === 'TLS certificate reloaded' && r['fingerprint256'] === fingerprint(tlsFiles.cert2), 15_000);
      assert.equal(await presentedFingerprint(port, tlsFiles.caPem), fingerprint(tlsFiles.cert2));
      assert.ok(established.isConnected, 'the established connection continues');
      assert.equal(typeof (await established.createStream()).id, 'number', 'and is still served');

      writeFileSync(certFile, 'not a certificate');
      await ts.logs.waitFor((r) => r.msg === 'TLS certificate change refused; keeping the previous one' && r['code'] === ErrorCode.TlsCertificateInvalid, 15_000);
      assert.equal(await presentedFingerprint(port, tlsFiles.caPem), fingerprint(tlsFiles.cert2), 'still the last good certificate');
    });
  });
});

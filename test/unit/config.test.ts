import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG, parseCli } from '../../runtime/config.ts';
import { ConfigError } from '../../runtime/errors.ts';
import { tempDir } from '../helpers/test-server.ts';

/** Every problem parseCli lists for a config file with this content, as one text. */
function problemsOf(fileConfig: unknown): string {
  const dir = tempDir('cfg');
  writeFileSync(path.join(dir, 'c.json'), JSON.stringify(fileConfig));
  try {
    parseCli(['--config', 'c.json'], dir);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.join('\n');
  }
  return assert.fail('expected ConfigError');
}

describe('CLI and config', () => {
  it('embedded defaults: RTMP 1935, HTTP 8000 on 127.0.0.1, bundled applications/', () => {
    const { config } = parseCli([], '/repo');
    assert.equal(config.rtmp.port, 1935);
    assert.equal(config.http.port, 8000);
    assert.equal(config.http.host, '127.0.0.1');
    assert.equal(config.appsDir, '/repo/applications');
    assert.equal(config.scripts.idleUnloadSec, 1200);
  });

  it('the stable flags: --apps --rtmp-port --http-port --log-level, both spellings', () => {
    const { config } = parseCli(['--apps', 'x', '--rtmp-port=1936', '--http-port', '0', '--log-level', 'warn'], '/r');
    assert.equal(config.appsDir, '/r/x');
    assert.equal(config.rtmp.port, 1936);
    assert.equal(config.http.port, 0);
    assert.equal(config.logLevel, 'warn');
  });

  it('FMS_ADMIN_TOKEN in the environment sets the admin token (beats the file); reload.mode is checked', () => {
    assert.equal(parseCli([], '/r', {}).config.http.adminToken, '');
    assert.equal(parseCli([], '/r', { FMS_ADMIN_TOKEN: 's3cret' }).config.http.adminToken, 's3cret');
    assert.equal(parseCli([], '/r', {}).config.reload.mode, 'carry');
    const dir = tempDir('cfg');
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ reload: { mode: 'hot' } }));
    assert.throws(() => parseCli(['--config', file], '/r', {}), (e: unknown) => e instanceof ConfigError && /reload\.mode: "hot" is not one of carry, restart/.test(e.message));
  });

  it('lists every problem at once', () => {
    const dir = tempDir('cfg');
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ rtmp: { port: 'x', nope: 1 }, bogus: true, scripts: { memoryLimitMb: -1 } }));
    try {
      parseCli(['--rtmp-port', '99999', '--frobnicate', '--log-level', 'loud', '--config', file], dir);
      assert.fail('expected ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      for (const needle of ['--frobnicate', 'rtmp.port', 'rtmp.nope', 'bogus', 'memoryLimitMb', '--rtmp-port', '--log-level']) {
        assert.ok(text.includes(needle), `missing problem about ${needle}:\n${text}`);
      }
    }
  });

  it('a config file that is not JSON is one clear problem', () => {
    const dir = tempDir('cfg');
    writeFileSync(path.join(dir, 'bad.json'), '{ nope');
    assert.throws(() => parseCli(['--config', 'bad.json'], dir), (e: ConfigError) => e.problems.length === 1 && e.problems[0]!.includes('bad.json'));
  });

  it('scripts.http and scripts.fileVirtualDirectories: loopback-only defaults; bad entries are problems', () => {
    const { config } = parseCli([], '/repo');
    assert.deepEqual(config.scripts.http, { allowHosts: [], timeoutMs: 10_000, maxBytes: 1024 * 1024 });
    assert.deepEqual(config.scripts.fileVirtualDirectories, []);
    const text = problemsOf({ scripts: { fileVirtualDirectories: ['/logs;/var/log/app', 'videos;/srv', '/x;relative', '/'], http: { timeoutMs: 0, allowHosts: 'x' } } });
    for (const needle of ['"videos;/srv"', '"/x;relative"', '"/"', 'scripts.http.timeoutMs', 'scripts.http.allowHosts']) {
      assert.ok(text.includes(needle), `missing problem about ${needle}:\n${text}`);
    }
    assert.ok(!text.includes('/var/log/app'), 'a good entry is not a problem');
  });

  it('budgets: documented defaults; zero, fractions and out-of-order budgets are problems', () => {
    const { config } = parseCli([], '/repo');
    assert.equal(config.rtmp.maxConnectionsPerIp, 200);
    assert.equal(config.rtmp.maxNameChars, 1024);
    assert.equal(config.http.liveLogMaxBufferedBytes, 1024 * 1024);
    assert.deepEqual(config.instances, { maxPerApp: 250, maxTotal: 500 });
    assert.equal(config.log.maxMessageChars, 8192);
    const text = problemsOf({
      rtmp: { maxConnections: 0, maxNameChars: 10.5, maxAssemblyBytesPerConnection: 1024 },
      http: { maxConnectionsPerIp: -1 },
      instances: { maxTotal: 0 },
      log: { maxFieldChars: 1.5, liveRecordMaxBytes: 10 * 1024 * 1024 },
    });
    for (const needle of [
      'rtmp.maxConnections:',
      'rtmp.maxNameChars: must be a whole number',
      'rtmp.maxAssemblyBytesPerConnection: 1024 is below rtmp.maxMessageBytes',
      'http.maxConnectionsPerIp',
      'instances.maxTotal',
      'log.maxFieldChars',
      'log.liveRecordMaxBytes',
    ]) {
      assert.ok(text.includes(needle), `missing problem about ${needle}:\n${text}`);
    }
  });

  it('script and shared-object budgets: documented defaults; non-positive or contradictory values are problems', () => {
    const { config } = parseCli([], '/repo');
    assert.deepEqual(config.sharedObjects, { maxSlotBytes: 4 * 1024 * 1024, maxObjectBytes: 16 * 1024 * 1024, maxInstanceBytes: 64 * 1024 * 1024 });
    const { hostMemoryMb, maxScriptBytes, fileMaxIoBytes, fileMaxListEntries, ioWaitMs, maxOutboundConnections } = config.scripts;
    assert.deepEqual(
      { hostMemoryMb, maxScriptBytes, fileMaxIoBytes, fileMaxListEntries, ioWaitMs, maxOutboundConnections },
      { hostMemoryMb: 128, maxScriptBytes: 8 * 1024 * 1024, fileMaxIoBytes: 16 * 1024 * 1024, fileMaxListEntries: 10_000, ioWaitMs: 3000, maxOutboundConnections: 64 },
    );
    const problems = problemsOf({
      sharedObjects: { maxSlotBytes: 2048, maxObjectBytes: 1024, maxInstanceBytes: 0 },
      scripts: { hostMemoryMb: -1, ioWaitMs: 0, fileMaxListEntries: 'many', maxOutboundConnections: 0 },
    });
    for (const needle of [
      'sharedObjects.maxInstanceBytes: must be a positive number',
      'sharedObjects.maxSlotBytes: must not exceed sharedObjects.maxObjectBytes',
      'scripts.hostMemoryMb: must be a positive number',
      'scripts.ioWaitMs',
      'scripts.fileMaxListEntries: expected a number',
      'scripts.maxOutboundConnections',
    ]) {
      assert.ok(problems.includes(needle), `missing problem about ${needle}:\n${problems}`);
    }
  });

  it('paths: flags resolve against the current folder, a config file\'s against its own folder; no data dir by default', () => {
    assert.equal(parseCli([], '/r').config.dataDir, '', 'default: FMS layout inside each application folder');
    const flags = parseCli(['--apps', 'apps', '--data', 'state'], '/srv/fms').config;
    assert.equal(flags.appsDir, '/srv/fms/apps');
    assert.equal(flags.dataDir, '/srv/fms/state');
    const dir = tempDir('cfg');
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ appsDir: 'apps', dataDir: 'state', scripts: { libPaths: ['lib', '/abs/lib'] } }));
    const fromElsewhere = parseCli(['--config', path.join(dir, 'c.json')], '/somewhere/else').config;
    assert.equal(fromElsewhere.appsDir, path.join(dir, 'apps'));
    assert.equal(fromElsewhere.dataDir, path.join(dir, 'state'));
    assert.deepEqual(fromElsewhere.scripts.libPaths, [path.join(dir, 'lib'), '/abs/lib']);
    const flagsWin = parseCli(['--config', path.join(dir, 'c.json'), '--data', 'd', '--apps', 'a'], '/cwd').config;
    assert.equal(flagsWin.dataDir, '/cwd/d');
    assert.equal(flagsWin.appsDir, '/cwd/a');
  });

  it('transports: RTMPS off without a certificate, RTMPT and RTMPE on, TLS 1.2 at most; --rtmps-port, --https-port', () => {
    const { config } = parseCli([], '/repo');
    assert.deepEqual(config.rtmps, { host: '0.0.0.0', port: 443, cert: '', key: '' });
    assert.equal(config.https.enabled, false);
    assert.equal(config.rtmpt.enabled, true);
    assert.equal(config.rtmpe.enabled, true);
    assert.equal(config.tls.maxVersion, 'TLSv1.2');
    assert.deepEqual(config.outbound.caFiles, []);
    const dir = tempDir('cfg');
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ rtmps: { cert: 'tls/c.pem', key: 'tls/k.pem' }, outbound: { caFiles: ['ca.pem'] } }));
    const flagged = parseCli(['--config', file, '--rtmps-port', '1443', '--https-port=8443'], '/srv').config;
    assert.equal(flagged.rtmps.port, 1443);
    assert.equal(flagged.rtmps.cert, path.join(dir, 'tls/c.pem'), 'relative to the config file, like every path in it');
    assert.deepEqual(flagged.outbound.caFiles, [path.join(dir, 'ca.pem')]);
    assert.deepEqual([flagged.https.enabled, flagged.https.port], [true, 8443]);
  });

  it('transport settings are checked: half a certificate, HTTPS without one, bad TLS version, non-positive budgets', () => {
    const dir = tempDir('cfg');
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ rtmps: { key: 'k.pem' }, https: { enabled: true }, tls: { maxVersion: 'SSLv3' }, rtmpt: { maxSessions: 0, pollHoldMs: -1 }, rtmpe: { maxHandshakesPerSec: 0 } }));
    try {
      parseCli(['--config', file], dir);
      assert.fail('expected ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      for (const needle of ['rtmps.cert and rtmps.key', 'https.enabled: needs a certificate', 'tls.maxVersion', 'rtmpt.maxSessions', 'rtmpt.pollHoldMs', 'rtmpe.maxHandshakesPerSec']) {
        assert.ok(text.includes(needle), `missing problem about ${needle}:\n${text}`);
      }
    }
    assert.throws(() => parseCli(['--https-port', '8443'], dir), (e: unknown) => e instanceof ConfigError && /--https-port: needs a certificate/.test(e.message));
  });

  it('defaults are not mutated by parsing', () => {
    parseCli(['--rtmp-port', '5'], '/r');
    assert.equal(DEFAULT_CONFIG.rtmp.port, 1935);
  });
});

import { strict as assert } from 'node:assert';
import { checkAdminAccess, isLoopbackAddress, type AccessRequest } from '../../runtime/admin/admin-access.ts';

const local = { remoteAddress: '127.0.0.1', host: '127.0.0.1:8000' };

describe('admin access rule (admin API and /metrics)', () => {
  it('loopback addresses: IPv4 127/8, ::1 and IPv4-mapped; nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.2']) assert.equal(isLoopbackAddress(a), true, a);
    for (const a of [undefined, '', '10.0.0.1', '192.168.1.20', '::ffff:10.0.0.1', '::2', 'fe80::1', '0.0.0.0', '127.0.0.1.evil', '1127.0.0.1']) {
      assert.equal(isLoopbackAddress(a), false, String(a));
    }
  });

  const table: [string, AccessRequest, string | null, number | 'ok'][] = [
    ['no token: IPv4 loopback', local, null, 'ok'],
    ['no token: IPv6 loopback', { remoteAddress: '::1', host: '[::1]:8000' }, null, 'ok'],
    ['no token: mapped loopback, localhost Host', { remoteAddress: '::ffff:127.0.0.1', host: 'localhost:8000' }, null, 'ok'],
    ['no token: no Host header (HTTP/1.0 tool)', { remoteAddress: '127.0.0.1' }, null, 'ok'],
    ['no token: same-origin page', { ...local, origin: 'http://127.0.0.1:8000' }, null, 'ok'],
    ['no token: LAN client refused', { remoteAddress: '192.168.1.20', host: '192.168.1.5:8000' }, null, 403],
    ['no token: mapped non-loopback refused', { remoteAddress: '::ffff:10.0.0.1', host: 'x' }, null, 403],
    ['no token: unknown address refused', { host: '127.0.0.1' }, null, 403],
    ['no token: a bearer header does not open non-loopback', { remoteAddress: '203.0.113.9', authorization: 'Bearer x' }, null, 403],
    ['no token: DNS rebinding (foreign Host) refused', { remoteAddress: '127.0.0.1', host: 'evil.example:8000' }, null, 403],
    ['no token: cross-origin page refused', { ...local, origin: 'https://evil.example' }, null, 403],
    ['no token: opaque origin refused', { ...local, origin: 'null' }, null, 403],
    ['token: remote client with the token', { remoteAddress: '203.0.113.9', authorization: 'Bearer s3cret' }, 's3cret', 'ok'],
    ['token: scheme is case-insensitive', { remoteAddress: '203.0.113.9', authorization: 'bearer s3cret' }, 's3cret', 'ok'],
    ['token: wrong token', { remoteAddress: '203.0.113.9', authorization: 'Bearer s3cres' }, 's3cret', 401],
    ['token: longer token', { remoteAddress: '203.0.113.9', authorization: 'Bearer s3cret2' }, 's3cret', 401],
    ['token: prefix of the token', { remoteAddress: '203.0.113.9', authorization: 'Bearer s3cre' }, 's3cret', 401],
    ['token: Basic scheme', { remoteAddress: '203.0.113.9', authorization: 'Basic s3cret' }, 's3cret', 401],
    ['token: no header, even from loopback', local, 's3cret', 401],
    ['token: empty bearer', { ...local, authorization: 'Bearer ' }, 's3cret', 401],
  ];
  // Host headers read strictly: each of these once passed a lenient reading (or could) and must be refused.
  const badHosts = [
    '[::1]evil.com', '[::1]:8000evil', '[::1]@evil.com', '[::1', '::1', '[127.0.0.1]', '[::1]:', '[::1]:99999',
    'localhost:80:81', 'localhost@evil.com', 'evil.com@localhost', 'localhost.evil.com', 'localhost.', '127.0.0.1.evil.com',
    '127.0.0.1:', '127.0.0.1:99999', '127.0.0.1:123456', 'localhost:abc', 'localhost:-1', 'localhost evil', ' localhost', 'localhost/',
    'localhost#x', 'localhost%00', '127.0.0.01', '127.1', '0x7f.0.0.1', '127.0.0.256', '2130706433', '', 'localhost\tevil', 'evil.com',
  ];
  for (const host of badHosts) {
    it(`no token: malformed or foreign Host ${JSON.stringify(host)} refused`, () => {
      assert.deepEqual(checkAdminAccess({ remoteAddress: '127.0.0.1', host }, null), { ok: false, status: 403, reason: 'Host is not a loopback name' });
    });
  }
  for (const host of ['localhost', 'LOCALHOST:8000', '127.0.0.1', '127.10.0.255:1', '[::1]', '[::1]:65535', '[::ffff:127.0.0.1]:80']) {
    it(`no token: loopback Host ${host} admitted`, () => assert.deepEqual(checkAdminAccess({ remoteAddress: '127.0.0.1', host }, null), { ok: true }));
  }

  for (const [name, request, token, expected] of table) {
    it(name, () => {
      const decision = checkAdminAccess(request, token);
      if (expected === 'ok') assert.deepEqual(decision, { ok: true });
      else assert.equal(decision.ok ? 'ok' : decision.status, expected);
    });
  }
});

import { strict as assert } from 'node:assert';
import { checkAdminAccess, isLoopbackAddress, type AccessRequest } from '../../runtime/admin/admin-api.ts';

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
  for (const [name, request, token, expected] of table) {
    it(name, () => {
      const decision = checkAdminAccess(request, token);
      if (expected === 'ok') assert.deepEqual(decision, { ok: true });
      else assert.equal(decision.ok ? 'ok' : decision.status, expected);
    });
  }
});

import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { createRootLogger } from '../../runtime/log/logger.ts';
import { RateLimitedLog } from '../../runtime/log/rate-limited-log.ts';

function capture(): { lines: Record<string, unknown>[]; sink: Writable } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, sink };
}

describe('rate-limited log (budget hits and other lines an outsider can repeat)', () => {
  it('one line per key per interval; the next says how many were suppressed; budgets name their key', () => {
    const { lines, sink } = capture();
    let now = 1000;
    const log = new RateLimitedLog(createRootLogger('info', sink), 10_000, () => now);
    assert.equal(log.exceeded('rtmp.maxConnectionsPerIp', { ip: '10.0.0.1' }, 'refused'), true);
    for (let i = 0; i < 500; i++) assert.equal(log.exceeded('rtmp.maxConnectionsPerIp', { ip: '10.0.0.1' }, 'refused'), false);
    assert.equal(log.exceeded('rtmp.maxNameChars', { chars: 9 }, 'name refused'), true, 'other keys are not held back');
    assert.equal(log.warn('tls.rtmps', { door: 'rtmps' }, 'TLS handshake failed'), true, 'a cause that is no budget');
    assert.equal(log.warn('tls.rtmps', { door: 'rtmps' }, 'TLS handshake failed'), false);
    now += 10_000;
    assert.equal(log.exceeded('rtmp.maxConnectionsPerIp', { ip: '10.0.0.2' }, 'refused'), true);
    assert.equal(log.error('tls.rtmps', { door: 'rtmps' }, 'TLS handshake failed'), true);
    assert.deepEqual(
      lines.map((l) => [l['level'], l['budget'], l['suppressed'], l['ip'] ?? l['chars'] ?? l['door'], l['msg']]),
      [
        [40, 'rtmp.maxConnectionsPerIp', undefined, '10.0.0.1', 'refused'],
        [40, 'rtmp.maxNameChars', undefined, 9, 'name refused'],
        [40, undefined, undefined, 'rtmps', 'TLS handshake failed'],
        [40, 'rtmp.maxConnectionsPerIp', 500, '10.0.0.2', 'refused'],
        [50, undefined, 1, 'rtmps', 'TLS handshake failed'],
      ],
    );
  });
});

import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { boundFields, boundText, cutText } from '../../runtime/log/log-limits.ts';
import { createRootLogger } from '../../runtime/log/logger.ts';
import { stripCredentials } from '../../runtime/log/strip-credentials.ts';

/** The two expressions stripCredentials replaced: same answers expected, in linear time. */
function regexStrip(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1').replace(/([?&](?:pass|password|pwd|token|secret|auth|key)=)[^&\s]*/gi, '$1***');
}

/** Deterministic pseudo-random strings over an alphabet rich in the characters that matter. */
function* randomTexts(count: number): Generator<string> {
  const alphabet = ['a', 'Z', '1', '+', '.', '-', ':', '/', '//', '://', '@', '?', '&', '=', ' ', '\t', 'pass', 'password', 'PWD', 'token', 'key', 'auth', 'secret', 'rtmp://', 'u:p@', 'é'];
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < count; i++) {
    let text = '';
    const parts = next() % 30;
    for (let j = 0; j < parts; j++) text += alphabet[next() % alphabet.length];
    yield text;
  }
}

/** Milliseconds one call takes (best of 3, so a busy machine's hiccup does not decide). */
function timeMs(fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

describe('log limits: linear credential stripping, bounded text and fields', () => {
  it('strips user info and password-like query values', () => {
    assert.equal(stripCredentials('rtmp://user:secret@host/app'), 'rtmp://host/app');
    assert.equal(stripCredentials('rtmp://h/app?password=abc&x=1'), 'rtmp://h/app?password=***&x=1');
    assert.equal(stripCredentials('see RTMPS://a:b@h:1/x and http://c@d/?token=t&key=k y'), 'see RTMPS://h:1/x and http://d/?token=***&key=*** y');
    assert.equal(stripCredentials('no url here'), 'no url here');
  });

  it('answers exactly as the replaced regular expressions on 20,000 random texts', () => {
    for (const text of randomTexts(20_000)) assert.equal(stripCredentials(text), regexStrip(text), JSON.stringify(text));
  });

  it('is linear: 1,000,000 letters cost about ten times 100,000 (the regex took 10 s for 100 KB)', () => {
    const small = 'a'.repeat(100_000);
    const large = 'a'.repeat(1_000_000);
    const runs = ['a'.repeat(1_000_000), `${'a1'.repeat(300_000)}://${'b'.repeat(300_000)}`, 'x://'.repeat(250_000), '?&'.repeat(500_000)];
    const smallMs = timeMs(() => stripCredentials(`${small}://x`));
    const largeMs = timeMs(() => stripCredentials(`${large}://x`));
    // Quadratic, 1 MB would take ~1,000 s: the bounds leave room for a loaded machine and still catch it.
    assert.ok(largeMs < 1000, `1 MB took ${largeMs.toFixed(1)} ms`);
    assert.ok(largeMs < Math.max(50, smallMs * 30), `1 MB ${largeMs.toFixed(1)} ms vs 100 KB ${smallMs.toFixed(1)} ms`);
    for (const text of runs) {
      const ms = timeMs(() => stripCredentials(text));
      assert.ok(ms < 1000, `${text.slice(0, 12)}… (${text.length} chars) took ${ms.toFixed(1)} ms`);
    }
  });

  it('cuts text with a marker, never between the halves of a surrogate pair', () => {
    assert.equal(cutText('abc', 3), 'abc');
    assert.equal(cutText('abcdef', 3), 'abc…[truncated 3 chars]');
    assert.equal(cutText('ab😀cd', 3), 'ab…[truncated 4 chars]');
    const once = cutText('x'.repeat(1000), 100);
    assert.equal(cutText(once, 100), once, 'text cut at the same length (by host-api) is not cut again');
    assert.equal(boundText(once, 100), once);
    assert.equal(cutText(`Error: ${once}`, 100), `Error: ${once}`, 'nor behind a short prefix (a thrown Error)');
  });

  it('boundText strips what it keeps, and drops user info cut before its @', () => {
    assert.equal(boundText('rtmp://user:secret@host/app', 100), 'rtmp://host/app');
    // The cut falls inside the user info: the part before the cut must not leak.
    assert.equal(boundText(`rtmp://user:secret${'x'.repeat(50)}@host/app`, 20), 'rtmp://…[truncated 57 chars]');
    const huge = 'a'.repeat(40 * 1024 * 1024);
    const ms = timeMs(() => boundText(huge, 8192));
    assert.ok(ms < 50, `a 40 MB text costs ${ms.toFixed(1)} ms to bound`);
  });

  it('boundFields bounds nested strings, errors, arrays and buffers; leaves small records alone', () => {
    const small = { trace: true, n: 1 };
    assert.equal(boundFields(small, 10), small, 'no copy when nothing is cut');
    const error = Object.assign(new Error('e'.repeat(50)), { code: 'X' });
    const out = boundFields(
      { s: 's'.repeat(50), nested: { deep: { t: 't'.repeat(50) } }, err: error, list: Array.from({ length: 60 }, (_, i) => i), buf: Buffer.alloc(5) },
      10,
    );
    assert.equal(out['s'], 'ssssssssss…[truncated 40 chars]');
    assert.deepEqual(out['nested'], { deep: { t: 'tttttttttt…[truncated 40 chars]' } });
    const err = out['err'] as Record<string, unknown>;
    assert.equal(err['type'], 'Error');
    assert.equal(err['message'], 'eeeeeeeeee…[truncated 40 chars]');
    assert.equal(err['code'], 'X');
    assert.ok(String(err['stack']).includes('…[truncated'));
    assert.equal((out['list'] as unknown[]).length, 51);
    assert.equal(out['buf'], '[Buffer 5 bytes]');
    assert.deepEqual(boundFields({ url: 'rtmp://u:p@h/a' }, 100), { url: 'rtmp://h/a' }, 'fields are stripped of credentials too');
  });

  it('the root logger caps messages, fields and child bindings and keeps msg = the text, cut', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const log = createRootLogger('info', sink, undefined, { maxMessageChars: 100, maxFieldChars: 20 });
    const child = log.child({ app: `${'a'.repeat(5000)}/x` });
    child.info({ trace: true }, 't'.repeat(1000));
    child.error(new Error('boom '.repeat(1000)));
    log.info({ field: 'f'.repeat(1000) }, 'rtmp://user:pw@host/app?token=abc');
    assert.equal(lines.length, 3);
    assert.equal(lines[0]!['msg'], `${'t'.repeat(100)}…[truncated 900 chars]`);
    assert.equal(lines[0]!['trace'], true);
    assert.equal(lines[0]!['app'], `${'a'.repeat(20)}…[truncated 4982 chars]`);
    assert.equal(String(lines[1]!['msg']).length, 100 + '…[truncated 4900 chars]'.length);
    assert.equal((lines[1]!['err'] as Record<string, unknown>)['message'], `${'boom '.repeat(4)}…[truncated 4980 chars]`);
    assert.equal(lines[2]!['field'], `${'f'.repeat(20)}…[truncated 980 chars]`);
    assert.equal(lines[2]!['msg'], 'rtmp://host/app?token=***');
  });
});

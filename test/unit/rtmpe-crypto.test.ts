import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Rc4 } from '../../runtime/rtmp/rc4.ts';
import { BLOWFISH_PI_WORDS_BASE64, Blowfish, xteaEncryptBigEndianForTest } from '../../runtime/rtmp/rtmpe-signature.ts';

/**
 * Encrypts `data` with OpenSSL's `cipher` in a child Node with the legacy provider (RC4 and
 * Blowfish live there), so our ciphers are checked against OpenSSL's, not against themselves.
 */
function openssl(cipher: 'rc4' | 'bf-ecb', key: Buffer, data: Buffer): string {
  const script =
    "const c=require('crypto');const i=JSON.parse(require('fs').readFileSync(0,'utf8'));" +
    "const e=c.createCipheriv(i.cipher,Buffer.from(i.key,'hex'),null);e.setAutoPadding(false);" +
    "process.stdout.write(Buffer.concat([e.update(Buffer.from(i.data,'hex')),e.final()]).toString('hex'))";
  return execFileSync(process.execPath, ['--openssl-legacy-provider', '-e', script], {
    input: JSON.stringify({ cipher, key: key.toString('hex'), data: data.toString('hex') }),
    encoding: 'utf8',
  }).trim();
}

/** pi's hexadecimal fraction by Machin's formula, in `count` 32-bit words. */
function piWords(count: number): number[] {
  const bits = BigInt(count * 32 + 64);
  const one = 1n << bits;
  const arctanInv = (x: bigint) => {
    let term = one / x;
    let sum = term;
    for (let k = 1n, sign = -1n; term !== 0n; k++, sign = -sign) {
      term /= x * x;
      sum += (sign * term) / (2n * k + 1n);
    }
    return sum;
  };
  const pi = 4n * (4n * arctanInv(5n) - arctanInv(239n));
  const fraction = (pi - (3n << bits)) >> 64n;
  return Array.from({ length: count }, (_, i) => Number((fraction >> BigInt((count - 1 - i) * 32)) & 0xffffffffn));
}

describe('RTMPE ciphers', () => {
  it('RC4 keystream equals OpenSSL RC4 for random keys and data, across split updates', () => {
    const key = randomBytes(16);
    const data = randomBytes(5000);
    const expected = openssl('rc4', key, data);
    const rc4 = new Rc4(key);
    const out = Buffer.alloc(data.length);
    rc4.update(data.subarray(0, 1), out, 0);
    rc4.update(data.subarray(1, 1537), out, 1);
    rc4.update(data.subarray(1537), out, 1537);
    assert.equal(out.toString('hex'), expected);
  });

  it('RC4 skip(n) equals encrypting n bytes and dropping them', () => {
    const key = randomBytes(16);
    const a = new Rc4(key);
    const b = new Rc4(key);
    a.skip(1536);
    b.update(Buffer.alloc(1536), Buffer.alloc(1536));
    const x = Buffer.alloc(64);
    const y = Buffer.alloc(64);
    a.update(Buffer.alloc(64), x);
    b.update(Buffer.alloc(64), y);
    assert.deepEqual(x, y);
  });

  it("Blowfish's initial tables are pi's hexadecimal digits", () => {
    const table = Buffer.from(BLOWFISH_PI_WORDS_BASE64, 'base64');
    assert.equal(table.length, (18 + 1024) * 4);
    const words = piWords(18 + 1024);
    for (let i = 0; i < words.length; i++) assert.equal(table.readUInt32BE(i * 4), words[i], `word ${i}`);
  });

  it('Blowfish with a 24-byte key equals OpenSSL bf-ecb', () => {
    const key = randomBytes(24);
    const block = randomBytes(8);
    const expected = openssl('bf-ecb', key, block);
    const words = new Uint32Array([block.readUInt32BE(0), block.readUInt32BE(4)]);
    new Blowfish(key).encrypt(words);
    const out = Buffer.alloc(8);
    out.writeUInt32BE(words[0]!, 0);
    out.writeUInt32BE(words[1]!, 4);
    assert.equal(out.toString('hex'), expected);
  });

  it('XTEA matches the published 32-round test vectors', () => {
    const key = new Uint32Array([0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f]);
    assert.equal(xteaEncryptBigEndianForTest(Buffer.from('4142434445464748', 'hex'), key).toString('hex'), '497df3d072612cb5');
    const zero = new Uint32Array(4);
    assert.equal(xteaEncryptBigEndianForTest(Buffer.from('4142434445464748', 'hex'), zero).toString('hex'), 'a0390589f8b8efa5');
  });
});

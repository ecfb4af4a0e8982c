/**
 * RC4, the stream cipher of RTMPE. Written here because Node's OpenSSL 3 keeps RC4 in the legacy
 * provider, which a process only gets with --openssl-legacy-provider (a flag that would weaken
 * every other OpenSSL use). RC4 is broken as a cipher; RTMPE is obfuscation, not security, and we
 * speak it only to serve the clients that require it (README "RTMPE").
 * test/unit/rtmpe-crypto.test.ts checks the keystream against OpenSSL's legacy RC4.
 */
export class Rc4 {
  readonly #s = new Uint8Array(256);
  #i = 0;
  #j = 0;

  constructor(key: Uint8Array) {
    if (key.length === 0 || key.length > 256) throw new RangeError('RC4 key must be 1..256 bytes');
    const s = this.#s;
    for (let i = 0; i < 256; i++) s[i] = i;
    let j = 0;
    for (let i = 0; i < 256; i++) {
      const si = s[i]!;
      j = (j + si + key[i % key.length]!) & 0xff;
      s[i] = s[j]!;
      s[j] = si;
    }
  }

  /** XORs the keystream over input[0..length) into output[offset..); input and output may be the same bytes. */
  update(input: Uint8Array, output: Uint8Array, offset = 0): void {
    const s = this.#s;
    let i = this.#i;
    let j = this.#j;
    const n = input.length;
    for (let k = 0; k < n; k++) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      output[offset + k] = input[k]! ^ s[(si + sj) & 0xff]!;
    }
    this.#i = i;
    this.#j = j;
  }

  /** Advances the keystream by n bytes (RTMPE discards the first 1536 of each direction). */
  skip(n: number): void {
    const scratch = new Uint8Array(n);
    this.update(scratch, scratch);
  }
}

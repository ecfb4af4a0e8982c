/**
 * RTMPE handshake types 8 and 9 (Flash Player 10 era): the 32-byte signature that ends S2/C2 is
 * additionally enciphered in four 8-byte blocks — XTEA for type 8, Blowfish for type 9 — each block
 * with one of 16 fixed keys picked by a byte of the answer key. The keys are public constants of
 * the Flash Player and FMS binaries, as published by rtmpdump and ffmpeg; the ciphers are written
 * here (Node's OpenSSL 3 keeps Blowfish in the legacy provider and has no XTEA). Blocks are read as
 * little-endian 32-bit words, as those implementations do.
 */

/** XTEA keys of type 8, four 32-bit words each. */
const XTEA_KEYS: readonly Uint32Array[] = [
  words('bff034b211d9081fccdfb795748de732'),
  words('086a5eb61743090e6ef05ab8fe5a39e2'),
  words('7b10956f76ce05212388a73a440149a1'),
  words('a943f317ebf11bb2a691a5ee17f36339'),
  words('7a30e00ab529e22ca087aea5c0cb79ac'),
  words('bdce0c232febdeff1cfaae161123239d'),
  words('55dd3f7b77e7e62e9bb8c499c9481ee4'),
  words('407bb6b471e89136a7aebf55ca33b839'),
  words('fcf6bdc3b63c36977ce4f82504d959b2'),
  words('28e091fd41954c4c7fb7db00e3a066f8'),
  words('57845b764f251b0346d45bcda2c30d29'),
  words('0acceef8da55b546034734525863713b'),
  words('b82075dca75f1feed84268e8a72a44cc'),
  words('07cf6e9ea16d7b259fa7ae6cd92f5629'),
  words('feb1eae48c8c3ce14e0064a76a387c2a'),
  words('893a9427cc3013a2f106385ba829f927'),
];

/** Blowfish keys of type 9, 24 bytes each. */
const BLOWFISH_KEYS: readonly Buffer[] = [
  Buffer.from('7934774c67d1383adfb356be8b7bd02438e07358415d6967', 'hex'),
  Buffer.from('46f6b4cc0193e3a19e7d3c655586fd098ff7b3c46f41ca5c', 'hex'),
  Buffer.from('1ae7e2f3f9147994c0d39743087bb384432f9d843f21019b', 'hex'),
  Buffer.from('d3e354b0f71df62b5a434d0483643e0d592f61cbb16a590d', 'hex'),
  Buffer.from('c8c1e9b8165699217b5b36b7b59bdf06492c97f59548857e', 'hex'),
  Buffer.from('ebe5e62ea4bad42cf216e08f6623a94341ce381484950053', 'hex'),
  Buffer.from('66db90f03b4ff56fe49c2089355ed2b2c39e9f7f63b22881', 'hex'),
  Buffer.from('bb20aced2a046a1994989bc8ffcd93efc60d56a7eb13d930', 'hex'),
  Buffer.from('bcf2438209408a8725436de6bba4b944583f217c99bb3f24', 'hex'),
  Buffer.from('ec1aaacdcebd5311d2fb83b6c3baab4f6279e865a9922876', 'hex'),
  Buffer.from('c60c300391182d7b79dae1d564779a12c5b1d7914f964ca3', 'hex'),
  Buffer.from('d77c2abfa6e7857c45adff1294d8dea45c3d79a444025d22', 'hex'),
  Buffer.from('16190d816a4cc7f8b8f94ecd2c9e9084b2082560e11eae18', 'hex'),
  Buffer.from('e97c58261b519e49826061fca0a01bcdf505d6a66d0788a3', 'hex'),
  Buffer.from('2b97118bd94ed9df20e39c10e6a1352111f9130d0b2465b2', 'hex'),
  Buffer.from('536a4c54ac8b9bb89729fc602c5b3a8568b5aa6a44cd3fa7', 'hex'),
];

/**
 * Blowfish's initial P-array (18 words) then S-boxes (4 × 256): the hexadecimal digits of pi after
 * the point, as the algorithm defines them. test/unit/rtmpe-crypto.test.ts recomputes pi to check.
 */
export const BLOWFISH_PI_WORDS_BASE64 =
  'JD9qiIWjCNMTGYouA3BzRKQJOCIpnzHQCC76mOxObIlFKCHmONATd75UZs806QxswKwpt8l8UN0/hNW1tUcJF5IW1dmJefsb0TEL' +
  'ppjftawv/XLb0Brft7jhr+1qJn6WunyQRfEsf5kkoZlHs5Fs9wgB8uKFjvwWY2kg2HFXTmmkWP6j9JM9fg2VdI9yjrZYcYvNWIIV' +
  'Su57VKQdwlpZtZww1Tkq8mATxdGwIyhghfDKQXkYuNs474553LBgOhgObJ4Oi7Aeij7XFXfBvTFLJ3ivL9pVYFxg5lUl86pVq5RX' +
  'SJhiY+gUQFXKOWoqqxC2tMxcNBFB6M6hVIavfHLpk7PuFBFjb7wqK6nFXXQYMfbOXD4Wm4eTHq/WujNsJM9cejJTgSiVhnc7j0iY' +
  'a0u5r8S/6BtmKCGTYdgJzPshqZFIfKxgXeyAMu+EXV3phXWx3CYjAutlG4gjiT6B05asxQ9tb/OD9EI5LgtEgqSEIARpyPBKnh+b' +
  'XiHGaEL26WyaZwycYavTiPBqUaDS2FQvaJYPpyirUTOjbu8LbBN6O+S6O/BQfvsqmKHxZR05rwF2ZspZPoJDDoiM7oYZRW+ftH2E' +
  'pcM7i16+4G912IXBIHNAGkSfVsFqpk7TqmI2P3cGG/7fckKbAj030Nck0AoSSNsP6tNJ8cCbB1NyyYCZG3sl1HnY9uje9+P+UBq2' +
  'eUw7l2zgvQTABrrBqU+2QJ9gxF5cnsIZaiRjaPtvrz5sU7UTObLrO1Lsb238UR+bMJUszIFFRK9evQm+49AE3jNK/WYPKAcZLkuz' +
  'wMuoV0XIdA/SC185udP721V5wL0aYDIK1qEAxkAscnlnnyX++x+jzI6l6fjbMiL4PHUW3/1haxUvUB7IrQVSqzI9tfr9I4dgUzF7' +
  'SD4A34KeXFe7ym+MoBqHVi7fF2nb1UKo9ih+/8OsZzLGjE9Vc2lbJ7C7yljI4f+jXbjwEaAQ+j2Y/SGDuEr8tWwt0dNbmlPkebb4' +
  'RWXSjkm8S/uXkOHd8tqky34zYvsTQc7kxujvIMraNndMAdB+nv4r8R+0ldvaTa6QkZjqrY5xa5PVoNCO0dCvxyXgjjxbL451lLeP' +
  '9uL78hIrZIiIuBKQDfAcT61eoGiPwxzRz/GRs6jBrS8vIhi+Dhd36nUt/osCH6HloMwPtW906Bis89bOieKZtKhP4P0T4Ld8xDuB' +
  '0q2o2RZfomaAlXcFk8xzFCEaFHfmrSBld7X6hsdUQvX7nTXP682vDHs+iaDWQRvTrh5+SQAlDi0gcbNeImgAu1e44K8kZDab8Am5' +
  'HlVjkR1Z36aqeMFDidlaU38gfVuiAuW5xYMmA3Zilc+pEcgZaE5zSkGzRy3KexSpShtRAFKaUykV1g9XP7ybxuQrYKR2geZ0AAi6' +
  'b7VXG+kf8pbsayoN2RW2Y2Uh57n5tv80BS7FhVZkU7AtXamfj6EIukeZboUHakt6cOm1sylE23UJLsQZJiOtbqawSafffZzuYLiP' +
  '7bJm7KqMcWmaF/9WZFJswrGe4Rk2AqV1CUwpoFkTQOQYOj4/VJiaW0KdZWuP5NaZ9z/WodKcB+/oMPVNLTjm8CVdwUzdIIaEcOsm' +
  'Y4LpxgIezF4JaGs/PrrvyTyXGBRranChaH81hFKg4oa3nFMFqlAHNz4HhBx/3q5cjn1E7FcW8riwOto38FAMDfAcHwQCALP/rgz1' +
  'Gjy1dLIlg3pY3AkhvdGRE/l8qS/2lDJHcyL1RwE65eWBN8La3Mi1djSa892nqURhRg/QAw7syMc+pHUeQeI4zZk76g4vMoC7oRg+' +
  'szFOVIs4T225CG9CDQP2CgS/LLgSkCSXfHlWebByvK+Jr96adx/ZkwgQs4uuEtzPPy5VEnIfLmtxJFAa3eafhM2HelhHGHQI2he8' +
  'n5q86Ut9jOx67DrbhR36YwlDZsRkw9LvHBhHMhXZCN1DOzckwroWEqFNQyplxFFQlAACEzrk3XHf+J4QMU5Vgax31l8RGZsENVbx' +
  '16PHazwRGDtZJKUJ8o/m7Zfx+/qeur8sHhU8bobjRXDq6W+xhg5eClo+KrN3H+ccTj0G+ill3LmZ5x0PgD6J1lJmyCUuTMl4nBCz' +
  'asYVDrqU4up4pfw8Ux4KLfTy906nNh0rPRk5Jg8ZwnlgUiOnCPcTErbrrf5u6sMfZuO8RZWme8iDsX830QGM/yjDMt3vvmxapWVY' +
  'IYVoq5gC7s6lD9svlTsq732tW24vhBUhtigpB2Fw7N1HdWGfFRATzKgw62G9lgM0/h6qA2PPtXNckExwojnVnp4Ly6reFO7Mhrxg' +
  'YiynnKtcq7LzhG5kix6vGb3wyqAjabllWrtQQGhaMjwqtLMxnunVwCG495tUCxmHX6CZlfeZfmI9faj4N4ial+MtdxHtk18WaBKB' +
  'DjWIKcfmH9aW3t+heFi6mVf1hKUbInJjm4PD/xrCRpbNswrrUy4wVI/ZSORtvDEoWOvy7zTG/+r+KO1h7nw8c11KFNnoZLfjQhBd' +
  'FCA+E+BF7uK2o6qr6ttsTxX6y0/Qx0L0Qu9qu7VlTzsdQc0hBdgeeZ6GhU3H5EtHaj2BYlDPYqHyW40mRvyIg6DBx7ajfxUkw2nL' +
  'dJJHhIoLVpKyhQlbvwCtGUidFGKxdCOCDgBYQo0qDFX16h2t9D4jP3BhM3Lwko2TfkHWX+zxbCI723zeN1nL7nRgQIXyp853Mm6m' +
  'B4CEGfhQnujv2FVh2Zc1qWmnqsUMBsJaBKv8gAvK3J5Eei7DRTSE/dVnBQ4ensnbc9vTEFWIzWdf2nnjZ0NAxcQ0ZXE+ONg9KPie' +
  '8W3/IBU+IeePsD1K5uOfK9uDrffpPVpolIFA9/ZMJhyUaSk0QRUg93YC1Pe89Gsu1KIAaNQIJHEzIPRqQ7fUt1AAYa8eOfYulyRF' +
  'RhQhT3S/i4hATZX8HZa1ka9w9N3TZqAvRb+8CewDvZeFf6xt0DHLhQSW6yezVf05QdolR+arygqaKFB4JVMEKfQKLIba6bZt+2jc' +
  'FGLXSGkAaA7ApCehje5PP/6i6IetjLWM4AZ69Na2qs4efNM3X+zOeKOZQGsqQiD+njXZ84W57jnXqzsSTosdyfr3S20YViajZjHq' +
  '45eyOm76dN1bQzJoQef3yngg+/sK9U7Y/rOXRUBWrLpIlSdVUzo6IIONh/5rqbfQlpVLVahnvKEVmljMqSljmeHbM6YqSlY/MSX5' +
  'XvR+HJApMXz9+OgCBCcvcIC7FVwFKCzjlcEVSOTGbSJIwRM/xw+G3Af5ye5BBB8PQEd5pF2IbhcyX1Hr1ZvA0fK8wY9BETVkJXt4' +
  'NGAqnGDf+OijH2NsGw4StMIC4TKer2ZP0crRgRVrI5XgMz6S4TskC2LuvrkihbKiDua6DZnecgyMLaL3KNASeEWVt5T9ZH0IYufM' +
  '9fBUSaNvh31I+sOd/SfzPo0eCkdjQZku/3Q6b26r9Pj9N6gS3GCh6934mRvhTNtuaw3Ge1UQbWcsNydl1Dvc0OgE8SkNx8wA/6O1' +
  'OQ+SaQ/tC2Z7n/vO232coJHPC9kVXqO7Ey+IUVutJHuUeb92O9brNzkus8wRWXmAJuKX9C4xLWhCrafGais7EnVMzHgu8RxqEkI3' +
  't5JR5wahu+ZL+2NQGmsQGBHK7fo9Jb3Y4uHDyURCFlkKEhOG2QzsbtWr6ipkr2dO2oaoX76/6Yhk5MP+nbyAV/D3wIZgeHv4YANg' +
  'TdH9g0b2OB+wd0WuBNc2/MyDQmsz8B6rcbCAQYc8AF5fd6BXvr3oriRVRkKZv1guYU5Y9I/y3f2i9HTvOIeJvcJTZvnDyLOOdLR1' +
  '8lVG/Nm5eusmYYsd34SEag55kV+V4kZuWY4gtFdwjNVVkckC3ky5C6zhu4IF0BGoYkh1dKmet38ZtuCp3AlmLQmhxDJGM+haHwIJ' +
  '8L6MSpmgJR1u/hAauT0dC6Wk36GG8g8oaPFp3Lfag1c5Bv6h4s6bT81/UlARXgGnBoP6oAK1xA3m0Cea+Iwndz+GQcNgTAZhqAa1' +
  '8Bd6KMD1huAAYFiqMNx9YhHmntcjOOpjU8LdlMLCFjS7y+5WkLy23uv8faHOWR12bwXkCUt8AYg5cgo9fJJ8JIbjcl9yTZ25GsFb' +
  'tNOeuPztVFV4CPyltdg9fNNNrQ/EHlDvXrFh5viihRTZbFETPG/Vx+dW4U7ENiq/zt3GyDfXmjI0kmOCEmcO+o5AYADgOjnON9P6' +
  '9c+rwnc3WsUtG1ywZ55PozdC04InQJm8m77VEY6dvw9zFdYtHH7HAMR7t4wbayGhkEWybrG+ajZutFdIqy+8lG55xqN20mVJwshT' +
  'D/juRo3efdVzCh1M0E3GKTm726m6RlCslSbovl7jBKH61fBqLVGaY++M4pqG7iLAicK4QyQu9qUeA6qc8tCkg8Bhupvpak2P5RVQ' +
  'umRb1igmovmnOjrhS6mVhu9VYunHL+/T91L32j8Eb2l3+gpZgOSpFYewhgGbCeatOz7lk+mQ/VqeNNeXLPC32QIri1GW1aw6AX2m' +
  'fdHPPtZ8fS0oH58lz63yuJta1rRyWoj1TOAprHHgGaXmR7Cs/e2T+pvo08SNKDtXzPjVZil5Ey4oeF8Bke11YFX3lg5E49NejBUF' +
  'bdSI9G26A6FhJQVk8L3D654VPJBXopcnGuypOgcqGz9tmx5jIfX1nGb7JtzzGXUz2SixVf31A1Y0goq6PLsoUXcRwgrZ+KvMUWfM' +
  'rZJfTegXUTgw3I43nVhikyD5kep6kML7PnvOUSHOZHdPvjKotuN+wyk9RkjeU2lkE+aAoq4IEN1tsiRphS39CQchZrOaRgpkRcDd' +
  'WGzezxwgyK5bvvfdG1iNQMzSAX9rtOO73aJqfjpZ/0U+NQpEvLTN1XLqzqj6ZIS7jWYSrr88b0fSm+RjVC9dnq7Cdxv2TmNwdA4N' +
  'jedbE1f4chZxr1N9XUBAywhOtOLMNNJGagEVr4ThsAQolZg6HQa4n7TObqBIbz87gjUgq4IBGh1LJ3In+GEVYLHnkz/cuzp5KzRF' +
  'Jb2giDnhUc55Sy8yybegH7rJ4BzIfrzH0fbPARHDoeiqxxqQh0nUT72a0Nrey9UK2jgDOcMqxpE2Z435MXzgsStP955Zt0P1uzry' +
  '1Rn/J9lFnL+XIiwV5vwqD5H8cZuUFSX65ZNhzrac68KoZFkSuqjRtsEHXuMFagwQ0lBlywOkQuDsbg4WmNs7TJigvjJ46WSfH5Uy' +
  '4NOS39OgNCuJcfIeGwp0QUujNIzFvnEgw3Yy2N81n42bmS8u5gtvRw/j8R3lTNpUHtrYkc5iec/NPn5vFhixZv0sHQWEj9LF9vsi' +
  'mfUj81emMnYjk6g1MVbMzQKs8IFiWnXrtW4WNpeI0nPM3pZikoG5SdBMUJAbccZWFObGx70yehQKReHQBsPye5rJqlP9YqgPALsl' +
  'v+I1vdL2cRJpBbIEAiK2y898zXacK1MRPsAWQOPTOKu9YCVHrfC6OCCc90bOdnevocUgdWBghcv+Torojdh6qvmwTPmqfhlIwlwC' +
  '+4qMAcNq5Nbr4fmQ1PhpplzeoD8JJS3CCOaft05hMs534ltXj9/jOsNy5g==';

function words(hex: string): Uint32Array {
  const bytes = Buffer.from(hex, 'hex');
  const out = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readUInt32BE(i * 4);
  return out;
}

/** XTEA, 32 rounds, on the 8 bytes at `at` (in place). */
function xteaEncrypt(block: Buffer, at: number, key: Uint32Array): void {
  let v0 = block.readUInt32LE(at);
  let v1 = block.readUInt32LE(at + 4);
  let sum = 0;
  for (let round = 0; round < 32; round++) {
    // XOR takes its operands modulo 2^32 and the sums stay exact below 2^34, so `>>> 0` after each
    // addition is all the wrap-around 32-bit arithmetic needs.
    v0 = (v0 + ((((v1 << 4) ^ (v1 >>> 5)) + v1) ^ (sum + key[sum & 3]!))) >>> 0;
    sum = (sum + 0x9e3779b9) >>> 0;
    v1 = (v1 + ((((v0 << 4) ^ (v0 >>> 5)) + v0) ^ (sum + key[(sum >>> 11) & 3]!))) >>> 0;
  }
  block.writeUInt32LE(v0, at);
  block.writeUInt32LE(v1, at + 4);
}

/** Blowfish (16 rounds) with its key schedule done once per key. */
export class Blowfish {
  readonly #p = new Uint32Array(18);
  readonly #s = new Uint32Array(1024);

  constructor(key: Uint8Array) {
    const pi = Buffer.from(BLOWFISH_PI_WORDS_BASE64, 'base64');
    for (let i = 0; i < 18; i++) this.#p[i] = pi.readUInt32BE(i * 4);
    for (let i = 0; i < 1024; i++) this.#s[i] = pi.readUInt32BE((18 + i) * 4);
    let k = 0;
    for (let i = 0; i < 18; i++) {
      let data = 0;
      for (let b = 0; b < 4; b++) {
        data = ((data << 8) | key[k]!) >>> 0;
        k = (k + 1) % key.length;
      }
      this.#p[i] = (this.#p[i]! ^ data) >>> 0;
    }
    const block = new Uint32Array(2);
    for (let i = 0; i < 18; i += 2) {
      this.encrypt(block);
      this.#p[i] = block[0]!;
      this.#p[i + 1] = block[1]!;
    }
    for (let i = 0; i < 1024; i += 2) {
      this.encrypt(block);
      this.#s[i] = block[0]!;
      this.#s[i + 1] = block[1]!;
    }
  }

  #f(x: number): number {
    const s = this.#s;
    return ((((s[x >>> 24]! + s[256 + ((x >>> 16) & 0xff)]!) >>> 0) ^ s[512 + ((x >>> 8) & 0xff)]!) + s[768 + (x & 0xff)]!) >>> 0;
  }

  /** Enciphers [left, right] in place. */
  encrypt(block: Uint32Array): void {
    let left = block[0]!;
    let right = block[1]!;
    for (let i = 0; i < 16; i++) {
      left = (left ^ this.#p[i]!) >>> 0;
      right = (right ^ this.#f(left)) >>> 0;
      const swap = left;
      left = right;
      right = swap;
    }
    block[0] = (right ^ this.#p[17]!) >>> 0;
    block[1] = (left ^ this.#p[16]!) >>> 0;
  }
}

const blowfishByKey = new Map<number, Blowfish>();

function blowfishEncrypt(block: Buffer, at: number, keyId: number): void {
  let cipher = blowfishByKey.get(keyId);
  if (!cipher) {
    cipher = new Blowfish(BLOWFISH_KEYS[keyId]!);
    blowfishByKey.set(keyId, cipher);
  }
  const words = new Uint32Array([block.readUInt32LE(at), block.readUInt32LE(at + 4)]);
  cipher.encrypt(words);
  block.writeUInt32LE(words[0]!, at);
  block.writeUInt32LE(words[1]!, at + 4);
}

/** RTMPE handshake type (C0/S0): 6 is plain RTMPE; 8 and 9 add the signature cipher. */
export type RtmpeType = 6 | 8 | 9;

/**
 * Enciphers a 32-byte answer signature in place for handshake type 8 (XTEA) or 9 (Blowfish); type 6
 * leaves it alone. `answerKey` is the HMAC key the signature was made with; its bytes 0, 8, 16 and
 * 24 pick the key of each block (modulo 15: the 16th key is never used, in every implementation).
 */
export function encipherSignature(signature: Buffer, answerKey: Buffer, type: RtmpeType): void {
  if (type === 6) return;
  for (let at = 0; at < 32; at += 8) {
    const keyId = answerKey[at]! % 15;
    if (type === 8) xteaEncrypt(signature, at, XTEA_KEYS[keyId]!);
    else blowfishEncrypt(signature, at, keyId);
  }
}

/** For tests: one XTEA block with a given key, big-endian words (the published test vectors' layout). */
export function xteaEncryptBigEndianForTest(block: Buffer, key: Uint32Array): Buffer {
  const swapped = Buffer.from(block).swap32();
  xteaEncrypt(swapped, 0, key);
  return swapped.swap32();
}

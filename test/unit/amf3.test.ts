import { strict as assert } from 'node:assert';
import { ErrorCode, ProtocolError } from '../../runtime/errors.ts';
import { decodeAmf3Value, decodeAmf3Values, encodeAmf3Value } from '../../runtime/rtmp/amf3.ts';
import {
  AmfError,
  AmfVector,
  AmfXml,
  ARRAY_COLLECTION_CLASS,
  OBJECT_PROXY_CLASS,
  ecmaArray,
  getClassName,
  typedObject,
} from '../../runtime/rtmp/amf-values.ts';
import { bytes } from '../helpers/bytes.ts';


function hexOf(value: unknown): string {
  return encodeAmf3Value(value).toString('hex');
}

function assertAmfError(fn: () => unknown, label = ''): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AmfError, `${label}: expected AmfError, got ${String(err)}`);
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.AmfInvalid);
    return true;
  });
}

const AC = `${(ARRAY_COLLECTION_CLASS.length * 2 + 1).toString(16)} '${ARRAY_COLLECTION_CLASS}'`;
const OP = `${(OBJECT_PROXY_CLASS.length * 2 + 1).toString(16)} '${OBJECT_PROXY_CLASS}'`;

describe('AMF3 codec', () => {
  describe('U29 integers (edge values)', () => {
    const table: Array<[number, string]> = [
      [0, '04 00'],
      [1, '04 01'],
      [127, '04 7f'],
      [128, '04 81 00'],
      [16383, '04 ff 7f'],
      [16384, '04 81 80 00'],
      [2 ** 21 - 1, '04 ff ff 7f'],
      [2 ** 21, '04 80 c0 80 00'],
      [2 ** 28 - 1, '04 bf ff ff ff'],
      [-1, '04 ff ff ff ff'],
      [-(2 ** 28), '04 c0 80 80 00'],
      [2 ** 28, '05 41b0000000000000'],
      [-(2 ** 28) - 1, '05 c1b0000001000000'],
      [1.5, '05 3ff8000000000000'],
      [-0, '05 8000000000000000'],
    ];
    for (const [value, hex] of table) {
      it(`${Object.is(value, -0) ? '-0' : value} ⇄ ${hex}`, () => {
        assert.equal(hexOf(value), bytes(hex).toString('hex'));
        assert.ok(Object.is(decodeAmf3Value(bytes(hex)), value));
      });
    }

    it('decodes the 4-byte form as 8 bits in the last byte', () => {
      assert.equal(decodeAmf3Value(bytes('04 80 80 80 ff')), 255);
      assert.equal(decodeAmf3Value(bytes('04 bf ff ff fe')), 2 ** 28 - 2);
    });
  });

  describe('hand-written vectors from the specification', () => {
    const vectors: Array<[string, unknown, string]> = [
      ['undefined', undefined, '00'],
      ['null', null, '01'],
      ['false', false, '02'],
      ['true', true, '03'],
      ['string "hello"', 'hello', "06 0b 'hello'"],
      ['empty string', '', '06 01'],
      ['multibyte string', 'é€😀', '06 13 c3a9 e282ac f09f9880'],
      ['object {a:1}', { a: 1 }, "0a 0b 01 03 'a' 04 01 01"],
      ['empty object', {}, '0a 0b 01 01'],
      ['array [1,2]', [1, 2], '09 05 01 04 01 04 02'],
      ['date', new Date(0), '08 01 0000000000000000'],
      ['XMLDocument', new AmfXml('<a></a>', 'xmldoc'), "07 0f '<a></a>'"],
      ['XML', new AmfXml('<a></a>', 'xml'), "0b 0f '<a></a>'"],
      ['ByteArray', Buffer.from([1, 2, 3]), '0c 07 010203'],
      ['empty ByteArray', Buffer.alloc(0), '0c 01'],
      ['Vector.<int>', new AmfVector('int', [1, -1], true), '0d 05 01 00000001 ffffffff'],
      ['Vector.<uint>', new AmfVector('uint', [1, 0xffffffff]), '0e 05 00 00000001 ffffffff'],
      ['Vector.<Number>', new AmfVector('double', [1.5]), '0f 03 00 3ff8000000000000'],
      ['Vector.<String>', new AmfVector('object', ['a'], false, 'String'), "10 03 00 0d 'String' 06 03 'a'"],
      [
        'Dictionary',
        new Map<unknown, unknown>([
          ['k', 1],
          [2, 'v'],
        ]),
        "11 05 00 06 03 'k' 04 01 04 02 06 03 'v'",
      ],
    ];
    for (const [label, value, hex] of vectors) {
      it(`encodes and decodes ${label}`, () => {
        assert.equal(hexOf(value), bytes(hex).toString('hex'));
        assert.deepStrictEqual(decodeAmf3Value(bytes(hex)), value);
      });
    }

    it('encodes Uint8Array as a ByteArray and decodes it to a Buffer', () => {
      assert.equal(hexOf(new Uint8Array([9, 8])), '0c050908');
      const decoded = decodeAmf3Value(bytes('0c 05 0908'));
      assert.ok(Buffer.isBuffer(decoded));
    });

    it('encodes a typed object with all members sealed', () => {
      // traits: 2 sealed members, not dynamic, inline → (2 << 4) | 0b0011 = 0x23
      const wire = bytes("0a 23 07 'Foo' 03 'x' 03 'y' 04 01 06 03 'a'");
      assert.equal(hexOf(typedObject('Foo', { x: 1, y: 'a' })), wire.toString('hex'));
      const decoded = decodeAmf3Value(wire) as object;
      assert.deepStrictEqual(decoded, { x: 1, y: 'a' });
      assert.equal(getClassName(decoded), 'Foo');
    });

    it('decodes a typed object with sealed and dynamic members', () => {
      // (1 << 4) | dynamic 0x08 | 0b0011 = 0x1b
      const decoded = decodeAmf3Value(bytes("0a 1b 07 'Foo' 03 'x' 04 01 03 'z' 04 02 01")) as object;
      assert.deepStrictEqual(decoded, { x: 1, z: 2 });
      assert.equal(getClassName(decoded), 'Foo');
    });

    it('decodes an array with associative members to an array carrying named properties', () => {
      const decoded = decodeAmf3Value(bytes("09 03 03 'a' 04 01 01 04 05")) as unknown[] & { a?: number };
      assert.ok(Array.isArray(decoded));
      assert.equal(decoded.length, 1);
      assert.equal(decoded[0], 5);
      assert.equal(decoded.a, 1);
      const arr = Object.assign([5], { a: 1 });
      assert.equal(hexOf(arr), bytes("09 03 03 'a' 04 01 01 04 05").toString('hex'));
    });

    it('decodes numeric associative keys (how Flash sends sparse arrays) as elements', () => {
      const decoded = decodeAmf3Value(bytes("09 03 03 '3' 04 07 01 04 01")) as unknown[];
      assert.equal(decoded.length, 4);
      assert.equal(decoded[0], 1);
      assert.equal(decoded[3], 7);
    });

    it('writes an ECMA-array-marked object as an associative-only array', () => {
      assert.equal(hexOf(ecmaArray({ version: '3,5' })), bytes("09 01 0f 'version' 06 07 '3,5' 01").toString('hex'));
    });
  });

  describe('reference tables', () => {
    it('sends a repeated string by reference', () => {
      assert.equal(hexOf(['a', 'a']), bytes("09 05 01 06 03 'a' 06 00").toString('hex'));
      assert.deepStrictEqual(decodeAmf3Value(bytes("09 05 01 06 03 'a' 06 00")), ['a', 'a']);
    });

    it('never sends the empty string by reference (and never puts it in the table)', () => {
      assert.equal(hexOf(['', '', 'b', 'b']), bytes("09 09 01 06 01 06 01 06 03 'b' 06 00").toString('hex'));
    });

    it('shares the string table between values, member names and class names', () => {
      assert.equal(hexOf({ a: 'a' }), bytes("0a 0b 01 03 'a' 06 00 01").toString('hex'));
      assert.deepStrictEqual(decodeAmf3Value(bytes("0a 0b 01 03 'a' 06 00 01")), { a: 'a' });
    });

    it('sends a repeated object by reference and decodes it to the same instance', () => {
      const o = { a: 1 };
      // The outer array is object 0, `o` is object 1.
      const wire = bytes("09 05 01 0a 0b 01 03 'a' 04 01 01 0a 02");
      assert.equal(hexOf([o, o]), wire.toString('hex'));
      const [x, y] = decodeAmf3Value(wire) as [object, object];
      assert.equal(x, y);
    });

    it('sends repeated traits by reference', () => {
      const wire = bytes("09 05 01 0a 0b 01 03 'a' 04 01 01 0a 01 03 'b' 04 02 01");
      assert.equal(hexOf([{ a: 1 }, { b: 2 }]), wire.toString('hex'));
      assert.deepStrictEqual(decodeAmf3Value(wire), [{ a: 1 }, { b: 2 }]);
      const typed = [typedObject('P', { x: 1 }), typedObject('P', { x: 2 })];
      const typedWire = bytes("09 05 01 0a 13 03 'P' 03 'x' 04 01 0a 01 04 02");
      assert.equal(hexOf(typed), typedWire.toString('hex'));
      const decoded = decodeAmf3Value(typedWire) as object[];
      assert.deepStrictEqual(decoded, [{ x: 1 }, { x: 2 }]);
      assert.equal(getClassName(decoded[1]!), 'P');
    });

    it('references dates, XML, ByteArrays, vectors and dictionaries', () => {
      const d = new Date(0);
      assert.equal(hexOf([d, d]), bytes('09 05 01 08 01 0000000000000000 08 02').toString('hex'));
      const xml = new AmfXml('<r/>', 'xml');
      const b = Buffer.from([1]);
      const v = new AmfVector('int', [1]);
      const m = new Map();
      const all = [xml, b, v, m, xml, b, v, m];
      const decoded = decodeAmf3Value(encodeAmf3Value(all)) as unknown[];
      for (let i = 0; i < 4; i++) assert.equal(decoded[i], decoded[i + 4]);
      assert.deepStrictEqual(decoded, all);
    });

    it('encodes cycles as back-references and decodes them into cycles', () => {
      const o: Record<string, unknown> = { n: 1 };
      o.self = o;
      assert.equal(hexOf(o), bytes("0a 0b 01 03 'n' 04 01 09 'self' 0a 00 01").toString('hex'));
      const d = decodeAmf3Value(encodeAmf3Value(o)) as Record<string, unknown>;
      assert.equal(d.self, d);
      const arr: unknown[] = [];
      arr.push(arr);
      const a2 = decodeAmf3Value(encodeAmf3Value(arr)) as unknown[];
      assert.equal(a2[0], a2);
      const m = new Map<unknown, unknown>();
      m.set(m, m);
      const m2 = decodeAmf3Value(encodeAmf3Value(m)) as Map<unknown, unknown>;
      assert.equal(m2.get(m2), m2);
    });

    it('decodeAmf3Values shares the tables across consecutive values', () => {
      assert.deepStrictEqual(decodeAmf3Values(bytes("06 03 'x' 06 00 04 01")), ['x', 'x', 1]);
    });

    it('keeps output compact for repeated shapes', () => {
      const rows = Array.from({ length: 100 }, (_, i) => ({ name: 'same', id: i % 100 }));
      const wire = encodeAmf3Value(rows);
      // Per row after the first: 0a, traits ref, "name" ref, 06 + "same" ref, "id" ref, 04 + int, end = 9 bytes.
      assert.ok(wire.length <= 100 * 9 + 20, `got ${wire.length} bytes`);
      assert.deepStrictEqual(decodeAmf3Value(wire), rows);
    });
  });

  describe('externalizable objects', () => {
    it('decodes flex.messaging.io.ArrayCollection to the wrapped array', () => {
      const wire = bytes(`0a 07 ${AC} 09 05 01 04 01 04 02`);
      assert.deepStrictEqual(decodeAmf3Value(wire), [1, 2]);
      assert.equal(hexOf(typedObject(ARRAY_COLLECTION_CLASS, [1, 2])), wire.toString('hex'));
    });

    it('resolves references to the collection and reuses its traits', () => {
      const ac = typedObject(ARRAY_COLLECTION_CLASS, ['x']);
      const wire = encodeAmf3Value([ac, ac, typedObject(ARRAY_COLLECTION_CLASS, [])]);
      // array(0) collection(1) source(2) ref→1, then a second collection with traits ref 0.
      assert.equal(
        wire.toString('hex'),
        bytes(`09 07 01 0a 07 ${AC} 09 03 01 06 03 'x' 0a 02 0a 01 09 01 01`).toString('hex'),
      );
      const [a, b, c] = decodeAmf3Value(wire) as unknown[][];
      assert.equal(a, b);
      assert.deepStrictEqual(a, ['x']);
      assert.deepStrictEqual(c, []);
    });

    it('decodes flex.messaging.io.ObjectProxy to the wrapped object', () => {
      const wire = bytes(`0a 07 ${OP} 0a 0b 01 03 'a' 04 01 01`);
      assert.deepStrictEqual(decodeAmf3Value(wire), { a: 1 });
      assert.equal(hexOf(typedObject(OBJECT_PROXY_CLASS, { a: 1 })), wire.toString('hex'));
    });

    it('rejects any other externalizable class', () => {
      assertAmfError(() => decodeAmf3Value(bytes("0a 07 07 'Foo' 04 01")));
    });
  });

  describe('decoding rules', () => {
    it('makes a peer-sent "__proto__" member an own property', () => {
      const o = decodeAmf3Value(bytes("0a 0b 01 13 '__proto__' 0a 01 03 'x' 03 01 01")) as object;
      assert.equal(Object.getPrototypeOf(o), Object.prototype);
      assert.deepEqual(Object.keys(o), ['__proto__']);
    });

    it('rejects trailing bytes after the single value', () => {
      assertAmfError(() => decodeAmf3Value(bytes('04 01 04')));
    });

    it('caps nesting at 64 by default and honours options.maxDepth', () => {
      const nested = (n: number) => Buffer.concat([Buffer.alloc(n * 3, bytes('09 03 01')), bytes('01')]);
      assert.ok(decodeAmf3Value(nested(64)));
      assertAmfError(() => decodeAmf3Value(nested(65)));
      assertAmfError(() => decodeAmf3Value(nested(3), { maxDepth: 2 }));
    });
  });

  describe('encoding rules', () => {
    it('skips function-valued properties and writes symbols/functions in arrays as undefined', () => {
      assert.equal(hexOf({ a: 1, f() {} }), hexOf({ a: 1 }));
      assert.equal(hexOf([() => 1]), '09030100');
    });

    it('coerces vector items to their element type', () => {
      const v = decodeAmf3Value(encodeAmf3Value(new AmfVector('int', [1.9, -1.2, 2 ** 32 + 5]))) as AmfVector;
      assert.deepStrictEqual(v.items, [1, -1, 5]);
      const u = decodeAmf3Value(encodeAmf3Value(new AmfVector('uint', [-1]))) as AmfVector;
      assert.deepStrictEqual(u.items, [0xffffffff]);
    });

    it('rejects bigint and fails cleanly on over-deep graphs', () => {
      assertAmfError(() => encodeAmf3Value(1n));
      let chain: unknown = null;
      for (let i = 0; i < 100_000; i++) chain = [chain];
      assertAmfError(() => encodeAmf3Value(chain));
      assertAmfError(() => encodeAmf3Value(chain, { maxDepth: Infinity }));
    });
  });

  describe('round trips of every marker', () => {
    const cyclic: Record<string, unknown> = { k: 'v' };
    cyclic.me = cyclic;
    const values: Array<[string, unknown]> = [
      ['undefined', undefined],
      ['null', null],
      ['false', false],
      ['true', true],
      ['integer', 123_456],
      ['negative integer', -42],
      ['double', Math.PI],
      ['NaN', NaN],
      ['Infinity', -Infinity],
      ['string', 'hello world'],
      ['long string', 'ß'.repeat(100_000)],
      ['XMLDocument', new AmfXml('<doc/>', 'xmldoc')],
      ['date', new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999))],
      ['array', [1, 'two', null, undefined, [true]]],
      ['array with named members', Object.assign([1, 2], { label: 'x' })],
      ['object', { a: { b: { c: [1, { d: 'e' }] } } }],
      ['typed object', typedObject('com.example.Point', { x: 1.5, y: -2 })],
      ['nested typed objects', typedObject('A', { b: typedObject('B', { v: 1 }), c: typedObject('B', { v: 2 }) })],
      ['cyclic object', cyclic],
      ['XML', new AmfXml('<x a="1"/>', 'xml')],
      ['ByteArray', Buffer.from('\x00\xffbinary', 'latin1')],
      ['Vector.<int>', new AmfVector('int', [-(2 ** 31), 0, 2 ** 31 - 1], true)],
      ['Vector.<uint>', new AmfVector('uint', [0, 2 ** 32 - 1])],
      ['Vector.<Number>', new AmfVector('double', [0.1, -0, Infinity])],
      ['Vector.<Object>', new AmfVector('object', [{ a: 1 }, null], false, '')],
      ['Dictionary', new Map<unknown, unknown>([[{ key: 1 }, 'object key'], ['s', [1]], [3, true]])],
    ];
    for (const [label, value] of values) {
      it(label, () => {
        const wire = encodeAmf3Value(value);
        const decoded = decodeAmf3Value(wire);
        if (typeof value === 'number' && Number.isNaN(value)) assert.ok(Number.isNaN(decoded));
        else assert.deepStrictEqual(decoded, value);
        if (value !== null && typeof value === 'object') {
          assert.equal(getClassName(decoded as object), getClassName(value));
        }
        assert.ok(encodeAmf3Value(decoded).equals(wire), 're-encoding is byte-identical');
      });
    }
  });

  describe('malformed input always throws AmfError', () => {
    const shared = { s: 'shared' };
    const rich = encodeAmf3Value({
      int: 300,
      neg: -5,
      dbl: 2.5,
      str: 'héllo',
      again: 'héllo',
      nil: null,
      bools: [true, false, undefined],
      when: new Date(1),
      xml: new AmfXml('<a/>', 'xml'),
      doc: new AmfXml('<b/>'),
      bytes: Buffer.from([1, 2, 3]),
      typed: typedObject('T', { p: 1 }),
      typed2: typedObject('T', { p: 2 }),
      vi: new AmfVector('int', [1, 2]),
      vu: new AmfVector('uint', [3]),
      vd: new AmfVector('double', [4.5]),
      vo: new AmfVector('object', [shared], true, 'Object'),
      dict: new Map<unknown, unknown>([['k', shared]]),
      ac: typedObject(ARRAY_COLLECTION_CLASS, [1]),
      assoc: Object.assign([1], { named: 2 }),
      ref: shared,
    });

    it('a rich value truncated at every offset', () => {
      assert.ok(decodeAmf3Value(rich));
      for (let end = 1; end < rich.length; end++) {
        assertAmfError(() => decodeAmf3Value(rich.subarray(0, end)), `truncated at ${end}`);
      }
    });

    const u29Max = 'ff ff ff ff';
    const cases: Array<[string, string | Buffer]> = [
      ['empty input', ''],
      ['unknown marker 0x12', '12'],
      ['unknown marker 0xff', 'ff'],
      ['string claiming 2^28-1 bytes', `06 ${u29Max} 'abc'`],
      ['XML claiming 2^28-1 bytes', `0b ${u29Max} 'abc'`],
      ['ByteArray claiming 2^28-1 bytes', `0c ${u29Max} 00`],
      ['array claiming 2^28-1 dense elements', `09 ${u29Max} 01 01`],
      ['Vector.<int> claiming 2^28-1 items', `0d ${u29Max} 00 00000001`],
      ['Vector.<Number> claiming 2^28-1 items', `0f ${u29Max} 00 00000001`],
      ['Vector.<Object> claiming 2^28-1 items', `10 ${u29Max} 00 01 01`],
      ['Dictionary claiming 2^28-1 entries', `11 ${u29Max} 00 01 01`],
      ['traits claiming 2^25-1 sealed members', "0a ff ff ff fb 01 03 'a'"],
      ['string reference to a missing index', '06 02'],
      ['object reference to a missing index', '0a 02'],
      ['array reference to a missing index', '09 00'],
      ['date reference to a missing index', '08 04'],
      ['XML reference to a missing index', '07 00'],
      ['ByteArray reference to a missing index', '0c 00'],
      ['vector reference to a missing index', '0d 00'],
      ['dictionary reference to a missing index', '11 00'],
      ['traits reference to a missing index', '0a 05'],
      ['member name reference to a missing index', '0a 0b 01 04 01 01'],
      ['ArrayCollection containing itself', `0a 07 ${AC} 09 03 01 0a 00`],
      ['unknown externalizable class', "0a 07 0b 'a.B.C' 01"],
      ['associative member named "length"', "09 01 0d 'length' 04 01 01"],
      ['sparse index beyond the message size', "09 01 15 '4000000000' 04 01 01"],
      ['10,000-deep arrays', Buffer.concat([Buffer.alloc(10_000 * 3, bytes('09 03 01')), bytes('01')])],
      ['10,000-deep objects', Buffer.concat([bytes("0a 0b 01 03 'a'"), Buffer.alloc(10_000 * 3, bytes('0a 01 00')), bytes('01')])],
      ['10,000-deep dictionaries', Buffer.concat([Buffer.alloc(10_000 * 4, bytes('11 03 00 01')), bytes('01')])],
      ['10,000-deep object vectors', Buffer.concat([Buffer.alloc(10_000 * 4, bytes('10 03 00 01')), bytes('01')])],
    ];
    for (const [label, input] of cases) {
      it(label, () => {
        const buf = typeof input === 'string' ? bytes(input) : input;
        const started = Date.now();
        assertAmfError(() => decodeAmf3Value(buf), label);
        assert.ok(Date.now() - started < 1_000, 'fails fast');
      });
    }

    it('a stack overflow from a huge maxDepth still surfaces as AmfError', () => {
      const deep = Buffer.concat([Buffer.alloc(300_000 * 3, bytes('09 03 01')), bytes('01')]);
      assertAmfError(() => decodeAmf3Value(deep, { maxDepth: Infinity }));
    });
  });
});

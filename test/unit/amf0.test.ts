import { strict as assert } from 'node:assert';
import { ErrorCode, ProtocolError } from '../../runtime/errors.ts';
import {
  Amf0Reader,
  decodeAmf0,
  encodeAmf0,
  encodeAmf0Value,
} from '../../runtime/rtmp/amf0.ts';
import {
  AMF_CLASS_NAME,
  AMF_ECMA_ARRAY,
  AmfError,
  AmfVector,
  AmfXml,
  ecmaArray,
  getClassName,
  isEcmaArray,
  typedObject,
} from '../../runtime/rtmp/amf-values.ts';
import { bytes } from '../helpers/bytes.ts';


function assertAmfError(fn: () => unknown, label = ''): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AmfError, `${label}: expected AmfError, got ${String(err)}`);
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.AmfInvalid);
    return true;
  });
}

function nestedStrictArrays(depth: number): Buffer {
  return Buffer.concat([Buffer.alloc(depth * 5, bytes('0a 00000001')), bytes('05')]);
}

describe('AMF0 codec', () => {
  describe('hand-written vectors from the specification', () => {
    const vectors: Array<[string, unknown, string]> = [
      ['number 1.5', 1.5, '00 3ff8000000000000'],
      ['number -2', -2, '00 c000000000000000'],
      ['boolean true', true, '01 01'],
      ['boolean false', false, '01 00'],
      ['string "hello"', 'hello', "02 0005 'hello'"],
      ['empty string', '', '02 0000'],
      ['multibyte string (UTF-8 byte length)', 'é€😀', '02 0009 c3a9 e282ac f09f9880'],
      ['null', null, '05'],
      ['undefined', undefined, '06'],
      ['object {a:1}', { a: 1 }, "03 0001 'a' 00 3ff0000000000000 0000 09"],
      ['empty object', {}, '03 0000 09'],
      ['strict array [1,"a"]', [1, 'a'], "0a 00000002 00 3ff0000000000000 02 0001 'a'"],
      ['date', new Date(1234567890123), '0b 4271f71fb04cb000 0000'],
      ['xml document', new AmfXml('<a/>'), "0f 00000004 '<a/>'"],
    ];
    for (const [label, value, hex] of vectors) {
      it(`encodes and decodes ${label}`, () => {
        const expected = bytes(hex);
        assert.deepEqual(encodeAmf0Value(value).toString('hex'), expected.toString('hex'));
        assert.deepStrictEqual(decodeAmf0(expected), [value]);
      });
    }

    it('encodes an ECMA array and decodes it to a marked plain object', () => {
      const wire = bytes("08 00000001 0008 'duration' 00 4024000000000000 0000 09");
      assert.equal(encodeAmf0Value(ecmaArray({ duration: 10 })).toString('hex'), wire.toString('hex'));
      const [decoded] = decodeAmf0(wire) as [Record<string, unknown>];
      assert.deepStrictEqual(decoded, { duration: 10 });
      assert.equal(isEcmaArray(decoded), true);
      assert.equal((decoded as { [AMF_ECMA_ARRAY]?: boolean })[AMF_ECMA_ARRAY], true);
      assert.deepEqual(Object.keys(decoded), ['duration'], 'marker is not enumerable');
      assert.equal(JSON.stringify(decoded), '{"duration":10}');
    });

    it('ignores the ECMA array count hint (encoders write 0 or wrong counts)', () => {
      const wire = bytes("08 00000000 0001 'a' 01 01 0001 'b' 05 0000 09");
      assert.deepStrictEqual(decodeAmf0(wire), [{ a: true, b: null }]);
    });

    it('ignores the date time zone on read and writes 0', () => {
      const [d] = decodeAmf0(bytes('0b 0000000000000000 ff88')) as [Date];
      assert.equal(d.getTime(), 0);
      assert.ok(encodeAmf0Value(new Date(0)).subarray(9).equals(bytes('0000')));
    });

    it('encodes and decodes a typed object with its class alias', () => {
      const wire = bytes("10 000f 'com.example.Foo' 0001 'x' 00 3ff0000000000000 0000 09");
      assert.equal(encodeAmf0Value(typedObject('com.example.Foo', { x: 1 })).toString('hex'), wire.toString('hex'));
      const [decoded] = decodeAmf0(wire) as [object];
      assert.equal(getClassName(decoded), 'com.example.Foo');
      assert.equal((decoded as { [AMF_CLASS_NAME]?: string })[AMF_CLASS_NAME], 'com.example.Foo');
      assert.deepStrictEqual(decoded, { x: 1 });
      assert.deepEqual(Object.keys(decoded), ['x']);
    });

    it('writes strings over 65535 UTF-8 bytes as long strings (70,000 chars, multibyte)', () => {
      const s = 'aé'.repeat(35_000); // 70,000 chars, 105,000 bytes
      const buf = encodeAmf0Value(s);
      assert.ok(buf.subarray(0, 5).equals(bytes('0c 00019a28')));
      assert.equal(buf.length, 5 + 105_000);
      assert.deepStrictEqual(decodeAmf0(buf), [s]);
    });

    it('chooses string vs long string by byte length, not JS length', () => {
      const exact = 'x'.repeat(65_535);
      assert.equal(encodeAmf0Value(exact)[0], 0x02);
      assert.equal(encodeAmf0Value(exact + 'x')[0], 0x0c);
      const short = '€'.repeat(30_000); // 30,000 chars but 90,000 bytes
      const buf = encodeAmf0Value(short);
      assert.equal(buf[0], 0x0c);
      assert.equal(buf.readUInt32BE(1), 90_000);
      assert.deepStrictEqual(decodeAmf0(buf), [short]);
    });

    it('decodes a short long-string', () => {
      assert.deepStrictEqual(decodeAmf0(bytes("0c 00000003 'abc'")), ['abc']);
    });

    it('decodes unsupported (0x0D) as undefined', () => {
      assert.deepStrictEqual(decodeAmf0(bytes('0d 05')), [undefined, null]);
    });

    it('resolves a 0x07 reference to the same decoded instance', () => {
      // {p: {a:1}, q: ref 1}: the outer object is index 0, the inner one index 1.
      const wire = bytes("03 0001 'p' 03 0001 'a' 00 3ff0000000000000 0000 09 0001 'q' 07 0001 0000 09");
      const [outer] = decodeAmf0(wire) as [{ p: object; q: object }];
      assert.deepStrictEqual(outer.p, { a: 1 });
      assert.equal(outer.q, outer.p);
      const inner = { a: 1 };
      assert.equal(encodeAmf0Value({ p: inner, q: inner }).toString('hex'), wire.toString('hex'));
    });

    it('shares the reference table across the values of one message', () => {
      const o = { a: 1 };
      const wire = encodeAmf0(['x', o, o]);
      assert.ok(wire.subarray(wire.length - 3).equals(bytes('07 0000')));
      const [, a, b] = decodeAmf0(wire);
      assert.equal(a, b);
    });

    it('turns cycles into references and decodes them back into cycles', () => {
      const o: Record<string, unknown> = { name: 'root' };
      o.self = o;
      const arr: unknown[] = [1];
      arr.push(arr);
      const wire = encodeAmf0([o, arr]);
      const [o2, arr2] = decodeAmf0(wire) as [Record<string, unknown>, unknown[]];
      assert.equal(o2.self, o2);
      assert.equal(arr2[1], arr2);
      assert.ok(wire.includes(bytes("0004 'self' 07 0000")));
    });

    it('decodes a 0x11 switch to exactly one AMF3 value, then continues in AMF0', () => {
      const wire = bytes("11 0a 0b 01 03 'a' 04 01 01 02 0002 'ok' 11 04 05");
      assert.deepStrictEqual(decodeAmf0(wire), [{ a: 1 }, 'ok', 5]);
    });

    it('keeps AMF3 reference tables for the whole AMF0 message', () => {
      // The second 0x11 string is a reference to the first one's string-table entry.
      const wire = bytes("11 06 0b 'hello' 11 06 00");
      assert.deepStrictEqual(decodeAmf0(wire), ['hello', 'hello']);
      const o = { a: 1 };
      const enc = encodeAmf0([o, o], { objectEncoding: 3 });
      assert.equal(enc.toString('hex'), bytes("11 0a 0b 01 03 'a' 04 01 01 11 0a 00").toString('hex'));
      const [a, b] = decodeAmf0(enc);
      assert.equal(a, b);
    });

    it('with objectEncoding 3 writes non-primitives as 0x11 + AMF3 and keeps primitives in AMF0', () => {
      const wire = encodeAmf0(['_result', 1, null, { level: 'status' }, [1], new Date(0)], { objectEncoding: 3 });
      const expected = bytes(
        "02 0007 '_result' 00 3ff0000000000000 05" +
          " 11 0a 0b 01 0b 'level' 06 0d 'status' 01" +
          ' 11 09 03 01 04 01' +
          ' 11 08 01 0000000000000000',
      );
      assert.equal(wire.toString('hex'), expected.toString('hex'));
      assert.deepStrictEqual(decodeAmf0(wire), ['_result', 1, null, { level: 'status' }, [1], new Date(0)]);
    });

    it('writes AMF3-only values (ByteArray, Dictionary, Vector) through 0x11 even in AMF0 mode', () => {
      assert.equal(encodeAmf0Value(Buffer.from([1, 2, 3])).toString('hex'), '110c07010203');
      assert.equal(encodeAmf0Value(new Uint8Array([9])).toString('hex'), '110c0309');
      assert.equal(encodeAmf0Value(new Map()).toString('hex'), '11110100');
      assert.equal(encodeAmf0Value(new AmfVector('int', [7])).toString('hex'), '110d030000000007');
    });
  });

  describe('encoding rules', () => {
    it('writes own enumerable string keys and skips function values', () => {
      const proto = { inherited: 1 };
      const o = Object.create(proto) as Record<string | symbol, unknown>;
      o.a = 1;
      o.fn = () => 1;
      o[Symbol('s')] = 2;
      Object.defineProperty(o, 'hidden', { value: 3, enumerable: false });
      assert.deepStrictEqual(decodeAmf0(encodeAmf0Value(o)), [{ a: 1 }]);
    });

    it('writes holes and function elements of arrays as undefined', () => {
      // eslint-disable-next-line no-sparse-arrays
      const arr = [1, , () => 0];
      assert.deepStrictEqual(decodeAmf0(encodeAmf0Value(arr)), [[1, undefined, undefined]]);
    });

    it('unboxes Number/String/Boolean objects', () => {
      assert.deepStrictEqual(decodeAmf0(encodeAmf0([new Number(2), new String('s'), new Boolean(true)])), [2, 's', true]);
    });

    it('rejects bigint', () => {
      assertAmfError(() => encodeAmf0Value(1n));
    });

    it('rejects property names and class names longer than 65535 bytes', () => {
      assertAmfError(() => encodeAmf0Value({ ['k'.repeat(65_536)]: 1 }));
      assertAmfError(() => encodeAmf0Value(typedObject('C'.repeat(65_536), {})));
    });

    it('fails cleanly (AmfError) on graphs nested deeper than maxDepth', () => {
      const chainOf = (n: number): unknown => {
        let chain: unknown = null;
        for (let i = 0; i < n; i++) chain = { next: chain };
        return chain;
      };
      assert.ok(encodeAmf0Value(chainOf(256)).length > 0);
      assertAmfError(() => encodeAmf0Value(chainOf(257)));
      assertAmfError(() => encodeAmf0Value(chainOf(3), { maxDepth: 2 }));
      assert.ok(encodeAmf0Value(chainOf(500), { maxDepth: 500 }).length > 0);
      // Past the JS stack, the RangeError still comes out as AmfError.
      assertAmfError(() => encodeAmf0Value(chainOf(100_000), { maxDepth: Infinity }));
    });

    it('uses a growing buffer for big messages', () => {
      const big = Array.from({ length: 5_000 }, (_, i) => ({ i, s: `item ${i}` }));
      assert.deepStrictEqual(decodeAmf0(encodeAmf0Value(big)), [big]);
    });
  });

  describe('decoding rules', () => {
    it('makes a peer-sent "__proto__" key an own property, not a prototype swap', () => {
      const [o] = decodeAmf0(bytes("03 0009 '__proto__' 03 0001 'x' 01 01 0000 09 0000 09")) as [object];
      assert.equal(Object.getPrototypeOf(o), Object.prototype);
      assert.deepEqual(Object.keys(o), ['__proto__']);
      assert.equal((o as { x?: unknown }).x, undefined);
    });

    it('accepts an empty property name that is not followed by the end marker', () => {
      const [o] = decodeAmf0(bytes("03 0000 01 01 0001 'b' 05 0000 09")) as [Record<string, unknown>];
      assert.deepStrictEqual(o, { '': true, b: null });
      assert.deepStrictEqual(decodeAmf0(encodeAmf0Value(o)), [o]);
    });

    it('decodes an empty buffer to no values', () => {
      assert.deepStrictEqual(decodeAmf0(Buffer.alloc(0)), []);
    });

    it('Amf0Reader reads a message value by value', () => {
      const wire = encodeAmf0(['play', 0, null, 'stream']);
      const reader = new Amf0Reader(wire);
      assert.equal(reader.readValue(), 'play');
      assert.equal(reader.position, 7);
      assert.equal(reader.readValue(), 0);
      assert.equal(reader.done, false);
      reader.readValue();
      assert.equal(reader.readValue(), 'stream');
      assert.equal(reader.done, true);
      assert.equal(new Amf0Reader(wire, { offset: 7 }).readValue(), 0);
    });

    it('caps nesting at 64 by default and honours options.maxDepth', () => {
      assert.equal(decodeAmf0(nestedStrictArrays(64)).length, 1);
      assertAmfError(() => decodeAmf0(nestedStrictArrays(65)));
      assertAmfError(() => decodeAmf0(nestedStrictArrays(4), { maxDepth: 3 }));
      assert.equal(decodeAmf0(nestedStrictArrays(3), { maxDepth: 3 }).length, 1);
    });
  });

  describe('round trips of every marker', () => {
    const selfRef: Record<string, unknown> = { id: 1 };
    selfRef.me = selfRef;
    const values: Array<[string, unknown]> = [
      ['number', 3.25],
      ['zero', 0],
      ['negative zero', -0],
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
      ['max double', Number.MAX_VALUE],
      ['boolean', false],
      ['string', 'hello'],
      ['unicode string', 'ünïcødé ✓ 🎥'],
      ['long string', 'λ'.repeat(40_000)],
      ['object', { a: 1, b: { c: 'd' }, e: [true, null] }],
      ['null', null],
      ['undefined', undefined],
      ['reference (cycle)', selfRef],
      ['ECMA array', ecmaArray({ width: 640, height: 480, encoder: 'Lavf' })],
      ['strict array', [1, 'two', [3], {}]],
      ['date', new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 5))],
      ['xml document', new AmfXml('<root attr="1">text</root>')],
      ['typed object', typedObject('org.Foo', { a: 1, b: typedObject('org.Bar', {}) })],
      ['avmplus ByteArray', Buffer.from('bytes')],
      ['avmplus Dictionary', new Map<unknown, unknown>([['k', 1]])],
      ['avmplus Vector', new AmfVector('double', [1.5, -2])],
    ];
    for (const [label, value] of values) {
      it(label, () => {
        const wire = encodeAmf0Value(value);
        const [decoded] = decodeAmf0(wire);
        assert.deepStrictEqual(decoded, value);
        if (value !== null && typeof value === 'object') {
          assert.equal(getClassName(decoded as object), getClassName(value));
          assert.equal(isEcmaArray(decoded as object), isEcmaArray(value));
        }
        assert.ok(encodeAmf0Value(decoded).equals(wire), 're-encoding is byte-identical');
        const [viaAmf3] = decodeAmf0(encodeAmf0Value(value, { objectEncoding: 3 }));
        // An ECMA array has no AMF3 counterpart: it comes back as an array with named members.
        if (value === null || typeof value !== 'object' || !isEcmaArray(value)) assert.deepStrictEqual(viaAmf3, value);
      });
    }
  });

  describe('malformed input always throws AmfError', () => {
    const rich = encodeAmf0Value({
      n: 1.5,
      b: true,
      s: 'héllo',
      nil: null,
      u: undefined,
      meta: ecmaArray({ w: 1 }),
      list: [1, 'x', [null]],
      when: new Date(86_400_000),
      typed: typedObject('a.B', { q: 'r' }),
      xml: new AmfXml('<x/>'),
      bytes: Buffer.from([1, 2]),
    });
    const withRef = (() => {
      const o = { k: 1 };
      return encodeAmf0Value([o, o]);
    })();

    it('a rich single value truncated at every offset', () => {
      assert.equal(decodeAmf0(rich).length, 1);
      for (let end = 1; end < rich.length; end++) {
        assertAmfError(() => decodeAmf0(rich.subarray(0, end)), `truncated at ${end}`);
      }
    });

    it('a value with a reference truncated at every offset', () => {
      for (let end = 1; end < withRef.length; end++) {
        assertAmfError(() => decodeAmf0(withRef.subarray(0, end)), `truncated at ${end}`);
      }
    });

    it('a 0x11 value truncated at every offset', () => {
      const wire = encodeAmf0Value({ a: [1, 'b'], d: new Map([[1, 2]]) }, { objectEncoding: 3 });
      for (let end = 1; end < wire.length; end++) {
        assertAmfError(() => decodeAmf0(wire.subarray(0, end)), `truncated at ${end}`);
      }
    });

    const cases: Array<[string, string | Buffer]> = [
      ['movieclip marker', '04'],
      ['recordset marker', '0e'],
      ['object-end as a value', '09'],
      ['unknown marker 0x12', '12'],
      ['unknown marker 0xff', 'ff'],
      ['object-end as a property value', "03 0001 'a' 09"],
      ['string claiming 65535 bytes', "02 ffff 'abc'"],
      ['long string claiming 4 GiB', "0c ffffffff 'abc'"],
      ['xml claiming 4 GiB', "0f ffffffff 'abc'"],
      ['strict array claiming 4 billion elements', '0a ffffffff 05 05'],
      ['ECMA array without end marker', "08 ffffffff 0001 'a' 05"],
      ['typed object name claiming 65535 bytes', "10 ffff 'Foo'"],
      ['property name claiming 65535 bytes', "03 ffff 'a'"],
      ['reference to a missing index', '07 0000'],
      ['reference past the table', "03 0001 'a' 07 0005 0000 09"],
      ['bad marker inside 0x11', '11 12'],
      ['truncated long string', "0c 00000003 'ab'"],
      ['AMF3 string reference to a missing index inside 0x11', '11 06 02'],
      ['10,000-deep strict arrays', nestedStrictArrays(10_000)],
      ['10,000-deep objects', Buffer.concat([Buffer.alloc(10_000 * 4, bytes("03 0001 'a'")), bytes('05')])],
      ['10,000-deep typed objects', Buffer.concat([Buffer.alloc(10_000 * 7, bytes("10 0001 'C' 0001 'a'")), bytes('05')])],
      ['10,000-deep AMF3 arrays inside 0x11', Buffer.concat([bytes('11'), Buffer.alloc(10_000 * 3, bytes('09 03 01')), bytes('01')])],
    ];
    for (const [label, input] of cases) {
      it(label, () => {
        const buf = typeof input === 'string' ? bytes(input) : input;
        const started = Date.now();
        assertAmfError(() => decodeAmf0(buf), label);
        assert.ok(Date.now() - started < 1_000, 'fails fast');
      });
    }

    it('a stack overflow from a huge maxDepth still surfaces as AmfError', () => {
      assertAmfError(() => decodeAmf0(nestedStrictArrays(300_000), { maxDepth: Infinity }));
    });

    it('Amf0Reader.readValue throws AmfError too', () => {
      assertAmfError(() => new Amf0Reader(bytes('02 0005 61')).readValue());
    });
  });
});

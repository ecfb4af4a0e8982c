import { strict as assert } from 'node:assert';
import { ErrorCode, ProtocolError } from '../../runtime/errors.ts';
import {
  MAX_SO_EVENTS_PER_MESSAGE,
  decodeSharedObjectMessage,
  encodeSharedObjectMessage,
  type SharedObjectMessageModel,
  type SoEvent,
} from '../../runtime/rtmp/shared-object-codec.ts';

/** Hex with optional whitespace and `'text'` segments (ASCII) for readability. */
function bytes(spec: string): Buffer {
  const parts: Buffer[] = [];
  for (const token of spec.match(/'[^']*'|[0-9a-fA-F\s]+/g) ?? []) {
    if (token.startsWith("'")) parts.push(Buffer.from(token.slice(1, -1), 'utf8'));
    else parts.push(Buffer.from(token.replace(/\s+/g, ''), 'hex'));
  }
  return Buffer.concat(parts);
}

function assertProtocolError(fn: () => unknown, label = ''): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `${label}: expected ProtocolError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.AmfInvalid);
    return true;
  });
}

/** Header of a type-19 message: name, version, flags (persistent = 2), reserved. */
function header(name: string, version: number, persistent: boolean): string {
  const n = Buffer.from(name, 'utf8');
  return `${n.length.toString(16).padStart(4, '0')} '${name}' ${version.toString(16).padStart(8, '0')} ${persistent ? '00000002' : '00000000'} 00000000`;
}

// Vectors written from the protocol description (rtmpy wiki, csimi/rtmp-client SharedObject.md).
const vectors: Array<[string, SharedObjectMessageModel, string]> = [
  ['Use (client subscribes, version 0)', { name: 'chat', version: 0, persistent: false, events: [{ type: 'use' }] }, `${header('chat', 0, false)} 01 00000000`],
  ['Release', { name: 'chat', version: 0, persistent: false, events: [{ type: 'release' }] }, `${header('chat', 0, false)} 02 00000000`],
  [
    'RequestChange foo="bar" on a persistent SO (csimi example)',
    { name: 'so', version: 3, persistent: true, events: [{ type: 'requestChange', name: 'foo', value: 'bar' }] },
    `${header('so', 3, true)} 03 0000000b 0003 'foo' 02 0003 'bar'`,
  ],
  [
    'UseSuccess, Clear, Change x=1 (initial sync)',
    { name: 'so', version: 7, persistent: false, events: [{ type: 'useSuccess' }, { type: 'clear' }, { type: 'change', name: 'x', value: 1 }] },
    `${header('so', 7, false)} 0b 00000000 08 00000000 04 0000000c 0001 'x' 00 3ff0000000000000`,
  ],
  ['Success foo', { name: 'so', version: 4, persistent: false, events: [{ type: 'success', name: 'foo' }] }, `${header('so', 4, false)} 05 00000005 0003 'foo'`],
  ['Remove foo', { name: 'so', version: 5, persistent: false, events: [{ type: 'remove', name: 'foo' }] }, `${header('so', 5, false)} 09 00000005 0003 'foo'`],
  ['RequestRemove foo', { name: 'so', version: 5, persistent: false, events: [{ type: 'requestRemove', name: 'foo' }] }, `${header('so', 5, false)} 0a 00000005 0003 'foo'`],
  [
    'Status NoReadAccess (code then level, csimi example)',
    { name: 'so', version: 0, persistent: false, events: [{ type: 'status', code: 'SharedObject.NoReadAccess', level: 'error' }] },
    `${header('so', 0, false)} 07 00000022 0019 'SharedObject.NoReadAccess' 0005 'error'`,
  ],
  [
    'SendMessage hello(1, null): handler as a full AMF0 string value',
    { name: 'so', version: 0, persistent: false, events: [{ type: 'sendMessage', handler: 'hello', args: [1, null] }] },
    `${header('so', 0, false)} 06 00000012 02 0005 'hello' 00 3ff0000000000000 05`,
  ],
  [
    'Change with an object value (AMF0)',
    { name: 'so', version: 1, persistent: false, events: [{ type: 'change', name: 'o', value: { a: 1 } }] },
    `${header('so', 1, false)} 04 00000013 0001 'o' 03 0001 'a' 00 3ff0000000000000 0000 09`,
  ],
  [
    'multibyte SO and slot names (lengths in UTF-8 bytes)',
    { name: 'é', version: 0, persistent: false, events: [{ type: 'remove', name: '€' }] },
    "0002 c3a9 00000000 00000000 00000000 09 00000005 0003 e282ac",
  ],
];

describe('shared object codec', () => {
  describe('hand-written vectors (type 19, AMF0)', () => {
    for (const [label, model, hex] of vectors) {
      it(label, () => {
        const wire = bytes(hex);
        assert.equal(encodeSharedObjectMessage(model, false).toString('hex'), wire.toString('hex'));
        assert.deepStrictEqual(decodeSharedObjectMessage(wire, false), model);
      });
    }
  });

  describe('type 16 (AMF3 container)', () => {
    it('prefixes the type-19 body with a 0x00 format byte', () => {
      const model: SharedObjectMessageModel = { name: 'chat', version: 0, persistent: false, events: [{ type: 'use' }] };
      const wire = bytes(`00 ${header('chat', 0, false)} 01 00000000`);
      assert.equal(encodeSharedObjectMessage(model, true).toString('hex'), wire.toString('hex'));
      assert.deepStrictEqual(decodeSharedObjectMessage(wire, true), model);
    });

    it('writes complex values through the 0x11 avmplus marker, primitives stay AMF0', () => {
      const model: SharedObjectMessageModel = {
        name: 'so',
        version: 2,
        persistent: true,
        events: [
          { type: 'change', name: 'o', value: { a: 1 } },
          { type: 'change', name: 's', value: 's' },
        ],
      };
      const wire = bytes(`00 ${header('so', 2, true)} 04 0000000c 0001 'o' 11 0a 0b 01 03 'a' 04 01 01 04 00000007 0001 's' 02 0001 's'`);
      assert.equal(encodeSharedObjectMessage(model, true).toString('hex'), wire.toString('hex'));
      assert.deepStrictEqual(decodeSharedObjectMessage(wire, true), model);
    });

    it('accepts AMF3 (0x11) values inside a type-19 message too', () => {
      const wire = bytes(`${header('so', 0, false)} 04 0000000c 0001 'o' 11 0a 0b 01 03 'a' 04 01 01`);
      assert.deepStrictEqual(decodeSharedObjectMessage(wire, false).events, [{ type: 'change', name: 'o', value: { a: 1 } }]);
    });

    it('rejects a format byte other than 0', () => {
      assertProtocolError(() => decodeSharedObjectMessage(bytes(`03 ${header('so', 0, false)}`), true));
    });
  });

  describe('tolerant decoding', () => {
    it('splits a Change event carrying several slot/value pairs', () => {
      const wire = bytes(`${header('so', 1, false)} 04 0000000e 0001 'a' 01 01 0001 'b' 02 0003 'xyz'`);
      assert.deepStrictEqual(decodeSharedObjectMessage(wire, false).events, [
        { type: 'change', name: 'a', value: true },
        { type: 'change', name: 'b', value: 'xyz' },
      ]);
    });

    it('decodes a slot without a value as undefined', () => {
      const wire = bytes(`${header('so', 1, false)} 03 00000003 0001 'a'`);
      assert.deepStrictEqual(decodeSharedObjectMessage(wire, false).events, [{ type: 'requestChange', name: 'a', value: undefined }]);
    });

    it('keeps unknown event types raw and re-encodes them unchanged', () => {
      const wire = bytes(`${header('so', 1, false)} 0d 00000003 0001 'a' 08 00000000`);
      const decoded = decodeSharedObjectMessage(wire, false);
      assert.deepStrictEqual(decoded.events, [{ type: 'unknown', typeId: 13, data: bytes("0001 'a'") }, { type: 'clear' }]);
      assert.equal(encodeSharedObjectMessage(decoded, false).toString('hex'), wire.toString('hex'));
    });

    it('ignores data on events that carry none and trailing bytes after fixed fields', () => {
      const wire = bytes(`${header('so', 0, false)} 01 00000002 abcd 05 00000004 0001 'a' ff`);
      assert.deepStrictEqual(decodeSharedObjectMessage(wire, false).events, [{ type: 'use' }, { type: 'success', name: 'a' }]);
    });

    it('treats only flag bit 2 as persistence (other bits seen from FMS are ignored)', () => {
      assert.equal(decodeSharedObjectMessage(bytes("0001 'a' 00000000 00000030 00000000"), false).persistent, false);
      assert.equal(decodeSharedObjectMessage(bytes("0001 'a' 00000000 00000012 00000000"), false).persistent, true);
    });

    it('decodes a header without events', () => {
      assert.deepStrictEqual(decodeSharedObjectMessage(bytes(header('so', 9, true)), false), { name: 'so', version: 9, persistent: true, events: [] });
    });
  });

  describe('round trips', () => {
    const values: unknown[] = [
      null, undefined, true, false, 0, -1.5, 2 ** 40, 'text', '', 'é€😀', new Date(1_700_000_000_000),
      [1, 'two', [3]], { nested: { deep: [1, { x: null }] }, list: [] }, 'x'.repeat(70_000),
    ];
    for (const amf3 of [false, true]) {
      it(`keeps every event type and value (${amf3 ? 'type 16' : 'type 19'})`, () => {
        const events: SoEvent[] = [
          { type: 'use' }, { type: 'release' }, { type: 'useSuccess' }, { type: 'clear' },
          ...values.map((value, i): SoEvent => ({ type: 'change', name: `slot${i}`, value })),
          ...values.map((value, i): SoEvent => ({ type: 'requestChange', name: `r${i}`, value })),
          { type: 'success', name: 'slot0' }, { type: 'remove', name: 'gone' }, { type: 'requestRemove', name: 'x' },
          { type: 'sendMessage', handler: 'onMsg', args: values }, { type: 'sendMessage', handler: 'noArgs', args: [] },
          { type: 'status', code: 'SharedObject.BadPersistence', level: 'error' },
        ];
        const model: SharedObjectMessageModel = { name: 'room/chat', version: 0xfffffffe, persistent: true, events };
        assert.deepStrictEqual(decodeSharedObjectMessage(encodeSharedObjectMessage(model, amf3), amf3), model);
      });
    }

    it('wraps versions beyond 32 bits instead of failing', () => {
      const wire = encodeSharedObjectMessage({ name: 'a', version: 2 ** 32 + 5, persistent: false, events: [] }, false);
      assert.equal(decodeSharedObjectMessage(wire, false).version, 5);
    });

    it('refuses to encode names longer than 65535 bytes', () => {
      assertProtocolError(() => encodeSharedObjectMessage({ name: 'x'.repeat(65_536), version: 0, persistent: false, events: [] }, false));
      assertProtocolError(() =>
        encodeSharedObjectMessage({ name: 'a', version: 0, persistent: false, events: [{ type: 'remove', name: 'é'.repeat(40_000) }] }, false),
      );
    });
  });

  describe('hostile input', () => {
    const samples: Array<[string, Buffer, boolean]> = vectors.map(([label, , hex]) => [label, bytes(hex), false]);
    samples.push([
      'type 16 with AMF3 values',
      encodeSharedObjectMessage(
        { name: 'so', version: 1, persistent: true, events: [{ type: 'change', name: 'o', value: { a: [1, 2], b: 'x' } }, { type: 'sendMessage', handler: 'h', args: [{ k: 1 }] }] },
        true,
      ),
      true,
    ]);

    for (const [label, wire, amf3] of samples) {
      it(`truncation at every offset: ${label}`, () => {
        const full = decodeSharedObjectMessage(wire, amf3);
        for (let cut = 0; cut < wire.length; cut++) {
          let decoded: SharedObjectMessageModel;
          try {
            decoded = decodeSharedObjectMessage(wire.subarray(0, cut), amf3);
          } catch (err) {
            assert.ok(err instanceof ProtocolError, `cut ${cut}: ${String(err)}`);
            continue;
          }
          // Only a cut exactly on an event boundary decodes, and then to a prefix of the events.
          assert.deepStrictEqual(decoded.events, full.events.slice(0, decoded.events.length), `cut ${cut}`);
          assert.ok(decoded.events.length < full.events.length || full.events.length === 0, `cut ${cut}`);
        }
      });
    }

    const bad: Array<[string, string, boolean?]> = [
      ['empty payload', ''],
      ['name length beyond the message', "00ff 'abc'"],
      ['header cut inside the flags', "0001 'a' 00000000 0000"],
      ['event length 0xffffffff (no allocation)', `${header('a', 0, false)} 04 ffffffff 00`],
      ['event header cut', `${header('a', 0, false)} 04 0000`],
      ['change slot name beyond the event', `${header('a', 0, false)} 04 00000003 0009 'a'`],
      ['change value cut by the event length', `${header('a', 0, false)} 04 00000006 0001 'a' 00 3ff0 00000000`],
      ['unknown AMF marker in a value', `${header('a', 0, false)} 04 00000004 0001 'a' 42`],
      ['status without its level', `${header('a', 0, false)} 07 00000003 0001 'c'`],
      ['send without a handler', `${header('a', 0, false)} 06 00000000`],
      ['send whose handler is a number', `${header('a', 0, false)} 06 00000009 00 3ff0000000000000`],
      ['success with an empty event', `${header('a', 0, false)} 05 00000000`],
      ['type 16 without the format byte', '', true],
    ];
    for (const [label, hex, amf3] of bad) {
      it(`rejects ${label}`, () => assertProtocolError(() => decodeSharedObjectMessage(bytes(hex), amf3 ?? false), label));
    }

    it('rejects values nested deeper than the AMF limit', () => {
      const deep = Buffer.concat([Buffer.alloc(100 * 5, bytes('0a 00000001')), bytes('05')]);
      const data = Buffer.concat([bytes("0001 'a'"), deep]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      assertProtocolError(() => decodeSharedObjectMessage(Buffer.concat([bytes(`${header('a', 0, false)} 04`), len, data]), false));
    });

    it(`rejects more than ${MAX_SO_EVENTS_PER_MESSAGE} events in one message`, () => {
      const many = Buffer.alloc((MAX_SO_EVENTS_PER_MESSAGE + 1) * 5, bytes('01 00000000'));
      assertProtocolError(() => decodeSharedObjectMessage(Buffer.concat([bytes(header('a', 0, false)), many]), false));
      const exactly = Buffer.alloc(MAX_SO_EVENTS_PER_MESSAGE * 5, bytes('01 00000000'));
      assert.equal(decodeSharedObjectMessage(Buffer.concat([bytes(header('a', 0, false)), exactly]), false).events.length, MAX_SO_EVENTS_PER_MESSAGE);
    });

    it('survives random byte mutations with ProtocolError only', () => {
      let seed = 12345;
      const random = () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed / 0x7fffffff;
      };
      for (let round = 0; round < 3000; round++) {
        const [, wire, amf3] = samples[round % samples.length]!;
        const mutated = Buffer.from(wire);
        const flips = 1 + Math.floor(random() * 4);
        for (let i = 0; i < flips; i++) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
        try {
          decodeSharedObjectMessage(mutated, amf3);
        } catch (err) {
          assert.ok(err instanceof ProtocolError, `round ${round}: ${String(err)} for ${mutated.toString('hex')}`);
        }
      }
    });
  });
});

import { strict as assert } from 'node:assert';
import { decodeAmfPacket, encodeAmfPacket } from '../../runtime/rtmp/amf-packet.ts';
import { AmfError } from '../../runtime/rtmp/amf-values.ts';
import { bytes } from '../helpers/bytes.ts';

describe('AMF remoting packet (AMF0 spec §4)', () => {
  it('encodes a request byte for byte: version, header, one message whose value is the strict array of arguments', () => {
    const encoded = encodeAmfPacket({
      version: 0,
      headers: [{ name: 'Credentials', mustUnderstand: false, value: { userid: 'u' } }],
      messages: [{ targetUri: 'svc.echo', responseUri: '/1', value: ['hi', 2] }],
    });
    assert.deepEqual(
      encoded,
      bytes(`
        0000 0001
        000b 'Credentials' 00 00000010  03 0006 'userid' 02 0001 'u' 000009
        0001
        0008 'svc.echo' 0002 '/1' 00000013  0a 00000002 02 0002 'hi' 00 4000000000000000
      `),
    );
  });

  it('round-trips, and each header/message value has its own reference table (a repeated object is no 0x07 across values)', () => {
    const shared = { a: 1 };
    const packet = {
      version: 0,
      headers: [{ name: 'h', mustUnderstand: true, value: shared }],
      messages: [
        { targetUri: '/1/onResult', responseUri: 'null', value: [shared, shared] },
        { targetUri: '/2/onStatus', responseUri: '', value: shared },
      ],
    };
    const encoded = encodeAmfPacket(packet);
    // Message 2's object is written out in full (0x03…), not as a reference into message 1's table.
    assert.equal(encoded[encoded.length - 16], 0x03); // 03 0001 'a' 00 <double> 000009
    const decoded = decodeAmfPacket(encoded);
    assert.deepEqual(decoded, packet);
    const first = decoded.messages[0]!.value as object[];
    assert.equal(first[0], first[1], 'within one value a repeat is the same object');
  });

  it('reads AMF3 values behind the 0x11 switch (version 3 answers of BlazeDS/PyAMF gateways)', () => {
    const encoded = encodeAmfPacket({ version: 3, headers: [], messages: [{ targetUri: '/1/onResult', responseUri: '', value: { user: 'ann', ids: [1, 2] } }] });
    assert.ok(encoded.includes(0x11), 'values go out as AMF3');
    assert.deepEqual(decodeAmfPacket(encoded).messages[0]!.value, { user: 'ann', ids: [1, 2] });
  });

  it('ignores the u32 length hints (gateways write 0 or 0xFFFFFFFF) and reads each value to its end', () => {
    const packet = bytes(`0000 0000 0001 000b '/1/onResult' 0004 'null' ffffffff 02 0002 'ok'`);
    assert.deepEqual(decodeAmfPacket(packet).messages, [{ targetUri: '/1/onResult', responseUri: 'null', value: 'ok' }]);
    const zero = bytes(`0000 0000 0001 000b '/1/onResult' 0000 00000000 00 3ff0000000000000`);
    assert.equal(decodeAmfPacket(zero).messages[0]!.value, 1);
  });

  for (const [what, input] of [
    ['an HTML error page', Buffer.from('<html><body>Fatal error</body></html>')],
    ['a truncated packet', bytes(`0000 0000 0001 000b '/1/on`)],
    ['trailing bytes', bytes(`0000 0000 0000 ff`)],
    ['an empty body', Buffer.alloc(0)],
    ['a bad value marker', bytes(`0000 0000 0001 0002 '/1' 0000 00000001 42`)],
  ] as const) {
    it(`refuses ${what} with AmfError`, () => {
      assert.throws(() => decodeAmfPacket(input), AmfError);
    });
  }
});

import { strict as assert } from 'node:assert';
import { ProtocolError } from '../../runtime/errors.ts';
import { splitAggregate } from '../../runtime/rtmp/aggregate.ts';

function sub(type: number, timestamp: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(11);
  header[0] = type;
  header.writeUIntBE(payload.length, 1, 3);
  header.writeUIntBE(timestamp & 0xffffff, 4, 3);
  header[7] = timestamp >>> 24;
  const back = Buffer.alloc(4);
  back.writeUInt32BE(11 + payload.length);
  return Buffer.concat([header, payload, back]);
}

describe('aggregate messages (type 22)', () => {
  it('splits into sub-messages rebased on the aggregate timestamp, keeping the stream id', () => {
    const payload = Buffer.concat([sub(9, 1000, Buffer.from([0x17, 1])), sub(8, 1010, Buffer.from([0xaf, 1])), sub(9, 1040, Buffer.from([0x27, 1]))]);
    const out = splitAggregate({ type: 22, streamId: 3, timestamp: 5000, payload });
    assert.deepEqual(out.map((m) => [m.type, m.timestamp, m.streamId]), [[9, 5000, 3], [8, 5010, 3], [9, 5040, 3]]);
    assert.deepEqual([...out[1]!.payload], [0xaf, 1]);
  });

  it('rejects truncated and nested aggregates with a ProtocolError', () => {
    const good = sub(9, 0, Buffer.alloc(10));
    assert.throws(() => splitAggregate({ type: 22, streamId: 1, timestamp: 0, payload: good.subarray(0, 15) }), ProtocolError);
    assert.throws(() => splitAggregate({ type: 22, streamId: 1, timestamp: 0, payload: good.subarray(0, 5) }), ProtocolError);
    assert.throws(() => splitAggregate({ type: 22, streamId: 1, timestamp: 0, payload: sub(22, 0, Buffer.alloc(3)) }), ProtocolError);
  });
});

import { strict as assert } from 'node:assert';
import { ErrorCode, ProtocolError } from '../../runtime/errors.ts';
import { AssemblyBudget } from '../../runtime/rtmp/assembly-budget.ts';
import { ChunkDecoder } from '../../runtime/rtmp/chunk-decoder.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';

/** The whole first chunk (fmt 0, chunk size 128) of a message declared `length` bytes long. */
function firstChunk(csid: number, length: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = csid;
  header.writeUIntBE(length, 4, 3);
  header[7] = MessageType.Video;
  return Buffer.concat([header, Buffer.alloc(Math.min(length, 128), 7)]);
}

function continuation(csid: number, bytes: number): Buffer {
  return Buffer.concat([Buffer.from([0xc0 | csid]), Buffer.alloc(bytes, 7)]);
}

describe('assembly budget: bytes of messages in reassembly', () => {
  const limits = { maxPerConnection: 1000, maxTotal: 2500 };

  it('refuses a connection whose partial messages would hold more than its budget, before allocating', () => {
    const budget = new AssemblyBudget(limits);
    const decoder = new ChunkDecoder({ maxMessageBytes: 1000, maxChunkStreams: 64, assembly: budget.open(() => {}) });
    decoder.push(firstChunk(4, 600), () => {});
    assert.equal(budget.totalBytes, 600);
    assert.throws(
      () => decoder.push(firstChunk(5, 600), () => {}),
      (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.AssemblyBudget,
    );
    assert.equal(budget.totalBytes, 600, 'the refused message reserved nothing');
  });

  it('releases what a completed or aborted message held', () => {
    const budget = new AssemblyBudget(limits);
    const decoder = new ChunkDecoder({ maxMessageBytes: 1000, maxChunkStreams: 64, assembly: budget.open(() => {}) });
    const got: number[] = [];
    decoder.push(firstChunk(4, 200), (m) => got.push(m.payload.length));
    assert.equal(budget.totalBytes, 200);
    decoder.push(continuation(4, 72), (m) => got.push(m.payload.length));
    assert.deepEqual(got, [200]);
    assert.equal(budget.totalBytes, 0);
    decoder.push(firstChunk(6, 900), () => {});
    const abort = Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 4, MessageType.Abort, 0, 0, 0, 0]), Buffer.from([0, 0, 0, 6])]);
    decoder.push(abort, () => {});
    assert.equal(budget.totalBytes, 0);
  });

  it('over the total, the connection holding the most is closed, not the one asking', () => {
    const budget = new AssemblyBudget({ maxPerConnection: 2000, maxTotal: 2500 });
    const evicted: string[] = [];
    const accounts = ['hog1', 'hog2', 'healthy'].map((name) => {
      const account = budget.open((error) => {
        evicted.push(`${name}: ${error.code}`);
        account.close();
      });
      return account;
    });
    accounts[0]!.reserve(1000);
    accounts[1]!.reserve(900);
    accounts[2]!.reserve(500);
    accounts[2]!.reserve(300); // 2700 > 2500: hog1 (1000) goes
    assert.deepEqual(evicted, ['hog1: RTMP_ASSEMBLY_BUDGET']);
    assert.equal(budget.totalBytes, 1700);
    // Asking when it already holds the most: refused itself.
    accounts[1]!.reserve(100);
    assert.throws(() => accounts[1]!.reserve(900), /over 2500 bytes/);
    accounts[2]!.close();
    accounts[1]!.close();
    assert.equal(budget.totalBytes, 0);
  });
});

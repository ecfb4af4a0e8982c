import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { BoundedSink } from '../../runtime/log/stdout-sink.ts';

/** A stream stand-in whose unsent backlog the test sets. */
class FakeTarget extends EventEmitter {
  writableLength = 0;
  readonly written: string[] = [];
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
}

const lines = (target: FakeTarget) => target.written.join('').split('\n').filter(Boolean);

describe('stdout sink (log.stdoutMaxBufferedBytes)', () => {
  it('batches lines into few writes and keeps their order', async () => {
    const target = new FakeTarget();
    const sink = new BoundedSink(target as never, 1024 * 1024);
    for (let i = 0; i < 100; i++) sink.write(`{"n":${i}}\n`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(target.written.length < 5, `${target.written.length} writes for 100 lines`);
    assert.deepEqual(lines(target).map((l) => JSON.parse(l).n), Array.from({ length: 100 }, (_, i) => i));
  });

  it('a reader that falls behind loses lines, counted; once it drains it is told how many', async () => {
    const target = new FakeTarget();
    const sink = new BoundedSink(target as never, 1000);
    sink.write('{"n":1}\n');
    sink.flush();
    target.writableLength = 5000; // the collector stopped reading
    for (let i = 0; i < 50; i++) sink.write(`{"n":${i + 2}}\n`);
    assert.equal(sink.dropped, 50);
    sink.flush();
    assert.deepEqual(lines(target).map((l) => JSON.parse(l).n), [1]);
    target.writableLength = 0;
    target.emit('drain');
    sink.write('{"n":99}\n');
    sink.flush();
    const all = lines(target).map((l) => JSON.parse(l));
    assert.equal(all[1].msg, 'log lines dropped: stdout did not keep up');
    assert.equal(all[1].dropped, 50);
    assert.equal(all[1].budget, 'log.stdoutMaxBufferedBytes');
    assert.equal(all[2].n, 99);
  });

  it('a reader that is gone (EPIPE) never makes writing throw', () => {
    const target = new FakeTarget();
    const sink = new BoundedSink(target as never, 1000);
    target.emit('error', new Error('EPIPE'));
    sink.write('{"n":1}\n');
    sink.flush();
    assert.deepEqual(target.written, []);
  });
});

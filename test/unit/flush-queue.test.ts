import { strict as assert } from 'node:assert';
import { scheduleFlush } from '../../runtime/rtmp/flush-queue.ts';

describe('flush queue', () => {
  it('runs every flush scheduled in a turn at the next microtask checkpoint, in order', async () => {
    const ran: string[] = [];
    scheduleFlush(() => ran.push('a'));
    scheduleFlush(() => ran.push('b'));
    assert.deepEqual(ran, [], 'not synchronously');
    await Promise.resolve();
    assert.deepEqual(ran, ['a', 'b']);
  });

  it('a flush scheduled by a flush runs in the same pass', async () => {
    const ran: string[] = [];
    scheduleFlush(() => {
      ran.push('a');
      scheduleFlush(() => ran.push('c'));
    });
    scheduleFlush(() => ran.push('b'));
    await Promise.resolve();
    assert.deepEqual(ran, ['a', 'b', 'c']);
  });

  it('a throwing flush does not skip the others, and the error still surfaces', async () => {
    const ran: string[] = [];
    // Mocha fails a test on any uncaught exception: stand in for its handler while this one runs.
    const mochaHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    try {
      const surfaced = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
      scheduleFlush(() => {
        throw new Error('flush failed');
      });
      scheduleFlush(() => ran.push('b'));
      await Promise.resolve();
      assert.deepEqual(ran, ['b']);
      const error = await surfaced;
      assert.equal((error as Error).message, 'flush failed');
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const handler of mochaHandlers) process.on('uncaughtException', handler);
    }
  });
});

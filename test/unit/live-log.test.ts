import { strict as assert } from 'node:assert';
import { pino } from 'pino';
import { DEFAULT_LIVE_LOG_LIMITS, LiveLog, type LiveLogLimits } from '../../runtime/log/live-log.ts';

function write(log: LiveLog, records: object[]): Promise<void> {
  return new Promise((resolve) => log.write(records.map((r) => JSON.stringify(r)).join('\n') + '\n', () => resolve()));
}

const loaded = (...names: string[]) => (name: string) => names.includes(name);

describe('live log ring', () => {
  it('keeps a ring per loaded instance and filters by app, level and text', async () => {
    const log = new LiveLog(DEFAULT_LIVE_LOG_LIMITS, loaded('a/_definst_', 'b/room'));
    await write(log, [
      { level: 30, time: 1, app: 'a/_definst_', msg: 'one' },
      { level: 50, time: 2, app: 'a/_definst_', msg: 'Script error here' },
      { level: 30, time: 3, app: 'b/room', msg: 'other app' },
      { level: 30, time: 4, app: 'a/_definst_', msg: 'three' },
      { level: 30, time: 5, msg: 'server line' },
    ]);
    assert.deepEqual(log.recent({ app: 'a' }).map((r) => r.msg), ['one', 'Script error here', 'three']);
    assert.deepEqual(log.recent({ app: 'a/_definst_', minLevel: 50 }).map((r) => r.msg), ['Script error here']);
    assert.deepEqual(log.recent({ text: 'OTHER' }).map((r) => r.msg), ['other app']);
    assert.equal(log.recent().length, 5);
    assert.equal(log.ringCount, 3, 'two instance rings and the shared one');
  });

  it('bounds every ring in bytes: a chatty instance keeps its newest records only', async () => {
    const limits: LiveLogLimits = { ringBytes: 10_000, sharedRingBytes: 20_000, recordMaxBytes: 2000 };
    const log = new LiveLog(limits, loaded('a/x'));
    const line = 'y'.repeat(900);
    for (let i = 0; i < 100; i++) await write(log, [{ level: 30, time: i, app: 'a/x', msg: `${i} ${line}` }]);
    const kept = log.recent({ app: 'a' });
    assert.ok(kept.length >= 9 && kept.length <= 11, `about 10 records of ~1 KB fit 10 KB, kept ${kept.length}`);
    assert.ok(kept.at(-1)!.msg!.startsWith('99 '), 'the newest record is kept');
    assert.ok(log.retainedBytes <= limits.ringBytes);
  });

  it('records of unknown app names share one bounded ring: no ring per attacker-chosen name', async () => {
    const limits: LiveLogLimits = { ringBytes: 10_000, sharedRingBytes: 20_000, recordMaxBytes: 2000 };
    const log = new LiveLog(limits, loaded());
    for (let i = 0; i < 500; i++) await write(log, [{ level: 30, time: i, app: `made-up-${i}/${'z'.repeat(100)}`, msg: 'connect to unknown application rejected' }]);
    assert.equal(log.ringCount, 1, 'only the shared ring');
    assert.ok(log.retainedBytes <= limits.sharedRingBytes, `${log.retainedBytes} bytes kept`);
    assert.ok(log.recent({ app: 'made-up-499' }).length === 1, 'still findable by app while kept');
  });

  it('a record over liveRecordMaxBytes is kept and pushed truncated, marked as such', async () => {
    const log = new LiveLog({ ringBytes: 100_000, sharedRingBytes: 100_000, recordMaxBytes: 4000 }, loaded('a/x'));
    const pushed: string[] = [];
    log.subscribe({}, (_record, json) => pushed.push(json));
    await write(log, [{ level: 30, time: 1, app: 'a/x', trace: true, msg: 'm'.repeat(3000), extra: 'e'.repeat(5000) }]);
    const [record] = log.recent({ app: 'a/x' });
    assert.equal(record!['truncated'], true);
    assert.equal(record!['trace'], true);
    assert.equal(record!['extra'], undefined);
    assert.match(record!.msg!, /^m{1000}…\[truncated 2000 chars\]$/);
    assert.equal(pushed.length, 1);
    assert.ok(Buffer.byteLength(pushed[0]!) <= 4000);
    assert.deepEqual(JSON.parse(pushed[0]!), record);
  });

  it('the ring of an instance that was unloaded moves into the shared ring when a new one starts', async () => {
    const names = new Set(['a/one']);
    const log = new LiveLog({ ringBytes: 10_000, sharedRingBytes: 10_000, recordMaxBytes: 2000 }, (n) => names.has(n));
    await write(log, [{ level: 30, time: 1, app: 'a/one', msg: 'last words' }]);
    names.delete('a/one');
    names.add('a/two');
    await write(log, [{ level: 30, time: 2, app: 'a/two', msg: 'hello' }]);
    assert.equal(log.ringCount, 2, 'a/two and the shared ring');
    assert.deepEqual(log.recent({ app: 'a' }).map((r) => r.msg), ['last words', 'hello']);
  });

  it('pushes live records to matching subscribers only, records split across writes included', async () => {
    const log = new LiveLog();
    const got: string[] = [];
    const stop = log.subscribe({ app: 'live' }, (r) => got.push(String(r.msg)));
    const line = JSON.stringify({ level: 30, time: 1, app: 'live/x', msg: 'split' }) + '\n';
    await new Promise<void>((r) => log.write(line.slice(0, 10), () => r()));
    await new Promise<void>((r) => log.write(line.slice(10), () => r()));
    await write(log, [{ level: 30, time: 2, app: 'vod/x', msg: 'no' }]);
    stop();
    await write(log, [{ level: 30, time: 3, app: 'live/x', msg: 'after stop' }]);
    assert.deepEqual(got, ['split']);
  });

  it('takes real pino output', async () => {
    const log = new LiveLog(DEFAULT_LIVE_LOG_LIMITS, loaded('x/_definst_'));
    const logger = pino({ base: null }, log);
    logger.child({ app: 'x/_definst_' }).info({ trace: true }, 'hello');
    await new Promise((r) => setImmediate(r));
    assert.equal(log.recent({ app: 'x' })[0]?.msg, 'hello');
  });
});

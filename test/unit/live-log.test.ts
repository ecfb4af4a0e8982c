import { strict as assert } from 'node:assert';
import { pino } from 'pino';
import { LiveLog } from '../../runtime/log/live-log.ts';

function write(log: LiveLog, records: object[]): Promise<void> {
  return new Promise((resolve) => log.write(records.map((r) => JSON.stringify(r)).join('\n') + '\n', () => resolve()));
}

describe('live log ring', () => {
  it('keeps a bounded ring per instance and filters by app, level and text', async () => {
    const log = new LiveLog(3);
    await write(log, [
      { level: 30, time: 1, app: 'a/_definst_', msg: 'one' },
      { level: 50, time: 2, app: 'a/_definst_', msg: 'Script error here' },
      { level: 30, time: 3, app: 'b/room', msg: 'other app' },
      { level: 30, time: 4, app: 'a/_definst_', msg: 'three' },
      { level: 30, time: 5, app: 'a/_definst_', msg: 'four' },
      { level: 30, time: 6, msg: 'server line' },
    ]);
    assert.deepEqual(log.recent({ app: 'a' }).map((r) => r.msg), ['Script error here', 'three', 'four']);
    assert.deepEqual(log.recent({ app: 'a/_definst_', minLevel: 50 }).map((r) => r.msg), ['Script error here']);
    assert.deepEqual(log.recent({ text: 'OTHER' }).map((r) => r.msg), ['other app']);
    assert.equal(log.recent().length, 5);
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
    const log = new LiveLog();
    const logger = pino({ base: null }, log);
    logger.child({ app: 'x/_definst_' }).info({ trace: true }, 'hello');
    await new Promise((r) => setImmediate(r));
    assert.equal(log.recent({ app: 'x' })[0]?.msg, 'hello');
  });
});

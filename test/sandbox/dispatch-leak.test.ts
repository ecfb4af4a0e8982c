import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';

/**
 * Found by `npm run soak`: every dispatch raced its work against one never-settling "fatal" promise
 * per instance, and each race stayed attached to it — the server's heap grew ~1 MB a minute with
 * ~60 calls a second. v8.queryObjects counts the live Promise objects (after a full GC).
 */
describe('sandbox: dispatches leave nothing behind', function () {
  this.timeout(60_000);
  afterEach(disposeAll);
  after(cleanupApps);

  it('5000 calls into a healthy instance keep the live Promise count flat', async () => {
    const instance = createInstance('Client.prototype.echo = function (x) { return x; };\n');
    await instance.sandbox.start();
    await instance.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
    const promises = () => v8.queryObjects(Promise, { format: 'count' }) as number;
    for (let i = 0; i < 200; i++) await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'echo', args: [i] }); // warm up
    const before = promises();
    for (let i = 0; i < 5000; i++) assert.deepEqual(await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'echo', args: [i] }), { ok: true, value: i });
    const grown = promises() - before;
    assert.ok(grown < 500, `${grown} more live promises after 5000 calls`);
  });
});

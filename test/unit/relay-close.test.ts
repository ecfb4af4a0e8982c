import assert from 'node:assert/strict';
import pino from 'pino';
import { LiveStream } from '../../runtime/media/live-stream.ts';
import { Relay } from '../../runtime/media/relay.ts';

/**
 * Found by `npm run soak`: a relay its owner had ended (its NetConnection closed) stayed in its
 * source stream's subscribers — so every hot reload and every relayed publish session left a dead
 * relay (and, through its listeners, a whole retired script generation) on a stream that players
 * kept alive, and the server's heap grew with each. An ended relay, closed or failed, lets go.
 */
describe('Relay end', () => {
  const log = pino({ level: 'silent' });
  const stream = () => new LiveStream('cam', { gopCacheMaxBytes: 1024 * 1024 });
  const relay = (id: string) => new Relay({ id, kind: 'republish', destination: 'rtmp://b/live', streamName: 'cam', maxBufferedBytes: 1024 * 1024, log });

  it('a closed relay leaves its source', () => {
    const source = stream();
    const r = relay('r1');
    r.attach(source);
    assert.equal(source.subscribers.has(r), true);
    r.close('connection closed');
    assert.equal(source.subscribers.has(r), false);
    assert.equal(r.stats().endReason, 'connection closed');
  });

  it('a relay whose far end went away leaves its source', async () => {
    const source = stream();
    const r = relay('r2');
    r.attach(source);
    let lose: (error: unknown) => void = () => undefined;
    r.start((lost) => {
      lose = lost;
      return { sink: { bufferedBytes: 0, write: () => undefined }, close: () => undefined };
    });
    lose(new Error('remote closed'));
    assert.equal(r.state, 'failed');
    assert.equal(source.subscribers.has(r), false);
  });

  it('cannot be attached again once ended', () => {
    const source = stream();
    const r = relay('r3');
    r.close();
    r.attach(source);
    assert.equal(source.subscribers.size, 0);
  });
});

import assert from 'node:assert/strict';
import { LiveStream } from '../../runtime/media/live-stream.ts';
import { Relay } from '../../runtime/media/relay.ts';

/**
 * Found by `npm run soak`: a relay whose owner had set it 'closed' (its NetConnection closed) stayed
 * in its source stream's subscribers, and close() then returned early — so every hot reload and every
 * relayed publish session left a dead relay (and, through its listeners, a whole retired script
 * generation) on a stream that players kept alive. The server's heap grew with each.
 */
describe('Relay.close', () => {
  const stream = () => new LiveStream('cam', { gopCacheMaxBytes: 1024 * 1024 });

  it('leaves the source, also after its owner already set it closed', () => {
    const source = stream();
    const relay = new Relay('r1', 'rtmp://b/live', 1024 * 1024);
    relay.attach(source);
    assert.equal(source.subscribers.has(relay), true);
    relay.setState('closed', 'connection closed');
    relay.close('instance closed');
    assert.equal(source.subscribers.has(relay), false);
    assert.equal(relay.source, null);
    assert.equal(relay.stats().lastError, 'connection closed');
  });

  it('cannot be attached again once closed', () => {
    const source = stream();
    const relay = new Relay('r2', 'rtmp://b/live', 1024 * 1024);
    relay.close('closed');
    relay.attach(source);
    assert.equal(source.subscribers.size, 0);
  });

  it('a relay only set closed (ns.publish(false)) keeps its source for a later publish', () => {
    const source = stream();
    const relay = new Relay('r3', 'rtmp://b/live', 1024 * 1024);
    relay.attach(source);
    relay.setState('closed');
    assert.equal(source.subscribers.has(relay), true);
  });
});

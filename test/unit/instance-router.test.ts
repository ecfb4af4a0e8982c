import { strict as assert } from 'node:assert';
import { InstanceRouter } from '../../runtime/cluster/instance-router.ts';
import { instanceOfRoute, mergeAdmin, mergeReloads } from '../../runtime/cluster/admin-merge.ts';

describe('InstanceRouter (which worker owns which instance)', () => {
  it('scope instance: a new instance goes to the worker owning fewest; the same instance always to its owner', () => {
    const router = new InstanceRouter('instance', 2);
    assert.equal(router.route('live', 'a', 1), 0);
    assert.equal(router.route('live', 'b', 2), 1);
    assert.equal(router.route('live', 'c', 3), 0);
    assert.equal(router.route('live', 'a', 4), 0);
    assert.equal(router.route('live', 'b', 5), 1);
    assert.equal(router.ownerOf('live', 'c'), 0);
    assert.equal(router.ownerOf('live', 'nowhere'), null);
  });

  it('scope app: every instance of an app with the app', () => {
    const router = new InstanceRouter('app', 2);
    const first = router.route('chat', 'room1', 1);
    assert.equal(router.route('chat', 'room2', 2), first);
    assert.notEqual(router.route('vod', '_definst_', 3), first);
    assert.equal(router.ownerOf('chat', 'room9'), first);
  });

  it('a key is freed only when its worker reports it gone after every connection sent for it', () => {
    const router = new InstanceRouter('instance', 2);
    router.route('live', 'a', 5);
    // A report the worker made before it saw connection 5: the instance is on its way, keep it.
    router.report(0, [], 4);
    assert.equal(router.ownerOf('live', 'a'), 0);
    router.report(0, ['live/a'], 5);
    assert.equal(router.ownerOf('live', 'a'), 0);
    router.report(0, [], 6); // unloaded since
    assert.equal(router.ownerOf('live', 'a'), null);
  });

  it('an instance a worker loaded by itself (LoadOnStartup) is adopted; a dead worker’s keys are forgotten', () => {
    const router = new InstanceRouter('instance', 2);
    router.report(1, ['startup/_definst_'], 0);
    assert.equal(router.ownerOf('startup', '_definst_'), 1);
    router.route('live', 'x', 1);
    router.forget(1);
    assert.equal(router.ownerOf('startup', '_definst_'), null);
    assert.equal(router.ownerOf('live', 'x'), 0);
  });
});

describe('admin answers merged from the primary and the workers', () => {
  const ok = (body: unknown) => ({ status: 200, body });

  it('/api/server: the primary’s ports, every process’s connections and instances added up', () => {
    const local = ok({ rtmpPort: 1935, connections: 1, connectionsByTransport: { rtmp: 1, rtmpt: 0 }, rtmptSessions: 2, instances: [], httpFlv: { players: 0, bytesSent: 0 }, isolates: { live: 0, lost: 0 } });
    const w0 = ok({ rtmpPort: 1935, connections: 3, connectionsByTransport: { rtmp: 2, rtmpt: 1 }, rtmptSessions: 0, instances: [{ name: 'a/x' }], httpFlv: { players: 2, bytesSent: 100 }, isolates: { live: 1, lost: 1 } });
    const w1 = ok({ rtmpPort: 1935, connections: 2, connectionsByTransport: { rtmp: 2, rtmpt: 0 }, rtmptSessions: 0, instances: [{ name: 'a/y' }], httpFlv: { players: 1, bytesSent: 50 }, isolates: { live: 1, lost: 0 } });
    const merged = mergeAdmin('/api/server', local, [w0, w1], [{ index: 0 }, { index: 1 }])!.body as Record<string, unknown>;
    assert.equal(merged['rtmpPort'], 1935);
    assert.equal(merged['connections'], 6);
    assert.deepEqual(merged['connectionsByTransport'], { rtmp: 5, rtmpt: 1 });
    assert.equal(merged['rtmptSessions'], 2, 'RTMPT sessions live in the primary only');
    assert.deepEqual(merged['instances'], [{ name: 'a/x' }, { name: 'a/y' }]);
    assert.deepEqual(merged['httpFlv'], { players: 3, bytesSent: 150 });
    assert.deepEqual(merged['isolates'], { live: 2, lost: 1 }, 'every process’s isolates');
    assert.deepEqual(merged['processes'], [{ index: 0 }, { index: 1 }]);
  });

  it('/api/apps merges an app’s instances; FMS getAppStats sums counters and keeps the earliest launch', () => {
    const apps = mergeAdmin('/api/apps', ok({ apps: [{ name: 'live', instances: [], clients: 0 }] }), [ok({ apps: [{ name: 'live', instances: ['a'], clients: 2 }] }), ok({ apps: [{ name: 'live', instances: ['b'], clients: 1 }] })], []);
    assert.deepEqual(apps!.body, { apps: [{ name: 'live', instances: ['a', 'b'], clients: 3 }] });
    const stats = (data: Record<string, unknown>) => ok({ level: 'status', code: 'NetConnection.Call.Success', data });
    const merged = mergeAdmin('/admin/getAppStats', stats({ launch_time: null, up_time: 0, connected: 0, bytes_in: 0 }), [
      stats({ launch_time: '2026-01-02T00:00:00.000Z', up_time: 10, connected: 2, bytes_in: 100 }),
      stats({ launch_time: '2026-01-01T00:00:00.000Z', up_time: 50, connected: 1, bytes_in: 5 }),
    ], [])!.body as { data: Record<string, unknown> };
    assert.deepEqual(merged.data, { launch_time: '2026-01-01T00:00:00.000Z', up_time: 50, connected: 3, bytes_in: 105 });
  });

  it('reload results are one list; instance routes name their instance; other routes are not merged', () => {
    assert.deepEqual(mergeReloads([{ reloaded: ['a/x'], failed: [] }, new Error('down'), { reloaded: [], failed: ['a/y'] }]), { reloaded: ['a/x'], failed: ['a/y'] });
    assert.deepEqual(instanceOfRoute('/api/instances/live/room%2F1/clients', new URLSearchParams()), { app: 'live', instance: 'room/1' });
    assert.deepEqual(instanceOfRoute('/admin/getLiveStreams', new URLSearchParams('appInst=live')), { app: 'live', instance: '_definst_' });
    assert.equal(instanceOfRoute('/api/streams', new URLSearchParams()), null);
    assert.equal(mergeAdmin('/admin/getApps', ok({}), [], []), null);
  });
});

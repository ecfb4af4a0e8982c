import { strict as assert } from 'node:assert';
import { MAX_TOMBSTONES, SlotHistory } from '../../runtime/shared-objects/shared-object-history.ts';
import { SoPathPattern } from '../../runtime/shared-objects/shared-object-names.ts';

describe('SlotHistory (delta resync, resyncDepth, purge)', () => {
  const data = new Map<string, unknown>([['a', 1], ['b', 2]]);

  it('gives a client the slots changed and deleted after its version, nothing older', () => {
    const h = new SlotHistory();
    h.changed('a', 1);
    h.changed('b', 2);
    h.deleted('c', 3);
    assert.deepStrictEqual(h.delta(1, 3, data), [{ type: 'change', name: 'b', value: 2 }, { type: 'remove', name: 'c' }]);
    assert.deepStrictEqual(h.delta(3, 3, data), [], 'up to date: UseSuccess only');
  });

  it('refuses a delta (null = full resync) for new clients, future versions and versions before the history', () => {
    const h = new SlotHistory();
    h.reset(10); // loaded from a file at version 10
    h.changed('a', 11);
    assert.equal(h.delta(0, 11, data), null, 'a client that knows nothing');
    assert.equal(h.delta(12, 11, data), null, 'a version from another incarnation');
    assert.equal(h.delta(9, 11, data), null, 'older than the history');
    assert.deepStrictEqual(h.delta(10, 11, data), [{ type: 'change', name: 'a', value: 1 }]);
  });

  it('resyncDepth: a client more than depth versions behind gets a full resync; old deletions are dropped', () => {
    const h = new SlotHistory();
    h.deleted('old', 2);
    h.changed('a', 5);
    h.setDepth(2, 5);
    assert.equal(h.depth, 2);
    assert.equal(h.delta(2, 5, data), null, '2 + 2 < 5');
    assert.deepStrictEqual(h.delta(3, 5, data), [{ type: 'change', name: 'a', value: 1 }]);
    h.setDepth(-1, 5);
    assert.equal(h.depth, Number.POSITIVE_INFINITY, 'negative means keep everything');
    assert.equal(h.delta(1, 5, data), null, 'the deletion at 2 was dropped (5 - 2 > 2): a client at 1 would miss it');
    assert.deepStrictEqual(h.delta(2, 5, data), [{ type: 'change', name: 'a', value: 1 }], 'a client at 2 saw that deletion');
  });

  it('purge(version) drops deletions older than version and moves the history start', () => {
    const h = new SlotHistory();
    h.deleted('x', 2);
    h.deleted('y', 4);
    h.purge(3);
    assert.equal(h.delta(1, 4, data), null);
    assert.deepStrictEqual(h.delta(2, 4, data), [{ type: 'remove', name: 'y' }]);
  });

  it(`keeps at most ${MAX_TOMBSTONES} deletions even with an infinite depth`, () => {
    const h = new SlotHistory();
    for (let v = 1; v <= MAX_TOMBSTONES + 5; v++) h.deleted(`s${v}`, v);
    assert.equal(h.delta(4, MAX_TOMBSTONES + 5, data), null, 'the oldest five deletions are forgotten');
    assert.equal(h.delta(5, MAX_TOMBSTONES + 5, data)!.length, MAX_TOMBSTONES);
  });
});

describe('SoPathPattern (application.clearSharedObjects paths)', () => {
  const names = ['lobby', 'lounge', 'rooms/a', 'rooms/ab', 'rooms/deep/c', 'roomsx'];
  const match = (p: string) => names.filter((n) => SoPathPattern.parse(p)!.matches(n));

  it('"/" is everything; a plain name is one SO and never a folder', () => {
    assert.deepStrictEqual(match('/'), names);
    assert.deepStrictEqual(match('/lobby'), ['lobby']);
    assert.deepStrictEqual(match('/rooms'), []);
    assert.deepStrictEqual(match('rooms/a'), ['rooms/a'], 'the leading slash is optional');
  });

  it('wildcards in the last element match SOs and whole folders', () => {
    assert.deepStrictEqual(match('/rooms/*'), ['rooms/a', 'rooms/ab', 'rooms/deep/c']);
    assert.deepStrictEqual(match('/rooms/?'), ['rooms/a']);
    assert.deepStrictEqual(match('/lo?*'), ['lobby', 'lounge']);
    assert.deepStrictEqual(match('/room*'), ['rooms/a', 'rooms/ab', 'rooms/deep/c', 'roomsx']);
    assert.deepStrictEqual(match('/rooms/'), ['rooms/a', 'rooms/ab', 'rooms/deep/c'], 'a trailing slash is the whole folder');
    assert.deepStrictEqual(match('/r.oms/*'), [], 'regex characters are literal');
  });

  it('refuses paths that could leave the data folder', () => {
    for (const bad of ['/../x', '/rooms/../../x', '/a//b', '/a\\b']) assert.equal(SoPathPattern.parse(bad), null, bad);
  });
});

import { strict as assert } from 'node:assert';
import { AmfXml, getClassName, typedObject } from '../../runtime/rtmp/amf-values.ts';
import { AmfClassTags } from '../../runtime/sandbox/amf-class-tags.ts';
import { BridgeArgumentError } from '../../runtime/sandbox/bridge-arguments.ts';

describe('AmfClassTags: the host half of registerClass across the isolate bridge', () => {
  it('is idle until an alias is registered, and again once it is unregistered', () => {
    const tags = new AmfClassTags();
    assert.equal(tags.active, false);
    tags.register('a.B', true);
    assert.equal(tags.active, true);
    tags.register('a.B', false);
    assert.equal(tags.active, false);
  });

  it('toIsolate: a copy where registered typed objects carry their alias (arrays with associative keys and cycles kept)', () => {
    const tags = new AmfClassTags();
    tags.register('a.Point', true);
    const point = typedObject('a.Point', { x: 1 });
    const other = typedObject('a.Other', { y: 2 });
    const list = Object.assign([point, other], { extra: point });
    const xml = new AmfXml('<a/>');
    const root: Record<string, unknown> = { list, xml, when: new Date(5) };
    root['self'] = root;
    const copy = tags.toIsolate(root);
    assert.notEqual(copy, root);
    assert.equal(copy['self'], copy);
    const copied = copy['list'] as unknown[] & { extra?: unknown };
    assert.deepEqual(copied[0], { x: 1, [tags.key]: 'a.Point' });
    assert.equal(copied.extra, copied[0]);
    assert.deepEqual(copied[1], { y: 2 }); // unregistered alias: plain, as before
    assert.equal(copy['xml'], xml); // non-plain values pass through untouched
    assert.equal(copy['when'], root['when']);
    assert.equal(Object.hasOwn(point, tags.key), false); // the host's own value is not modified
  });

  it('fromIsolate: tagged objects become AMF typed objects in place, the key disappears', () => {
    const tags = new AmfClassTags();
    tags.register('a.Point', true);
    const inner = { x: 1, [tags.key]: 'a.Point' };
    const value = [{ nested: inner }, { [tags.key]: 42, y: 2 }];
    tags.fromIsolate(value);
    assert.equal(getClassName(inner), 'a.Point');
    assert.deepEqual(Object.keys(inner), ['x']);
    assert.equal(getClassName(value[1] as object), undefined); // a non-string alias is dropped
    assert.deepEqual(Object.keys(value[1] as object), ['y']);
  });

  it('keys are random per instance; bad aliases and too many are refused as bridge argument errors', () => {
    const tags = new AmfClassTags();
    assert.notEqual(tags.key, new AmfClassTags().key);
    assert.throws(() => tags.register('', true), BridgeArgumentError);
    assert.throws(() => tags.register('x'.repeat(2000), true), BridgeArgumentError);
    for (let i = 0; i < 1024; i++) tags.register(`c${i}`, true);
    tags.register('c0', true); // re-registering is fine at the limit
    assert.throws(() => tags.register('one.too.many', true), /more than 1024/);
  });
});

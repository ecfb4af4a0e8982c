import { strict as assert } from 'node:assert';
import { resolveStreamFile } from '../../runtime/media/stream-files.ts';
import { parseStreamName } from '../../runtime/media/stream-registry.ts';
import { hasAccess } from '../../runtime/common/access-list.ts';
import { parseConnectTarget } from '../../runtime/sessions/connect-target.ts';
import { stripCredentials } from '../../runtime/log/strip-credentials.ts';

describe('names, paths and access lists', () => {
  it('tcUrl → app, instance (default _definst_), query; falls back to the app field', () => {
    assert.deepEqual(parseConnectTarget('rtmp://h:1935/live', undefined), { app: 'live', instance: '_definst_', query: '', host: 'h:1935' });
    assert.deepEqual(parseConnectTarget('rtmp://u:p@h/live/room/sub?x=1', undefined), { app: 'live', instance: 'room/sub', query: 'x=1', host: 'h' });
    assert.deepEqual(parseConnectTarget(undefined, 'app/inst'), { app: 'app', instance: 'inst', query: '', host: '' });
    assert.equal(parseConnectTarget(undefined, undefined), null);
    assert.equal(parseConnectTarget('rtmp://h/', ''), null);
  });

  it('stream names: query strings and flv: prefix stripped, other prefixes and slashes kept', () => {
    assert.deepEqual(parseStreamName('cam?token=1'), { name: 'cam', query: 'token=1' });
    assert.deepEqual(parseStreamName('flv:a/b'), { name: 'a/b', query: '' });
    assert.deepEqual(parseStreamName('mp4:x.f4v'), { name: 'mp4:x.f4v', query: '' });
  });

  it('recorded files stay inside <streams>/<instance>', () => {
    assert.equal(resolveStreamFile('/s', '_definst_', 'a/b'), '/s/_definst_/a/b.flv');
    assert.equal(resolveStreamFile('/s', 'i', 'clip.flv'), '/s/i/clip.flv');
    for (const bad of ['../x', '/etc/passwd', 'a/../../b', 'a\\b', 'nul\0', '', 'mp4:x', 'a//b', '.']) {
      assert.equal(resolveStreamFile('/s', 'i', bad), null, JSON.stringify(bad));
    }
    assert.equal(resolveStreamFile('/s', '../up', 'x'), null);
  });

  it('readAccess/writeAccess prefix semantics', () => {
    assert.equal(hasAccess('/', 'anything/at/all'), true);
    assert.equal(hasAccess('', 'x'), false);
    assert.equal(hasAccess('a;c/d', 'a/b/c'), true);
    assert.equal(hasAccess('a', 'ab'), false);
    assert.equal(hasAccess('/c/d', 'c/d/e'), true);
    assert.equal(hasAccess('c/d', 'c'), false);
  });

  it('credentials never reach the log', () => {
    assert.equal(stripCredentials('rtmp://user:secret@host/app'), 'rtmp://host/app');
    assert.equal(stripCredentials('rtmp://h/app?password=abc&x=1'), 'rtmp://h/app?password=***&x=1');
  });
});

import { strict as assert } from 'node:assert';
import fs, { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ScriptFiles } from '../../runtime/sandbox/script-files.ts';
import { tempDir } from '../helpers/test-server.ts';

/**
 * The check-then-open race: the path is resolved (every ancestor real and inside the root), then
 * opened by name. A folder swapped for a symlink in between (by anyone with write access to the
 * app folder; scripts themselves cannot make links) would let the open land outside. The swap is
 * staged deterministically: the resolution step's realpath of the file triggers it.
 */
describe('script File: a folder swapped for a symlink between the check and the open', function () {
  if (process.platform !== 'linux') return; // the fd re-check reads /proc/self/fd

  for (const mode of ['read', 'write', 'readWrite', 'create', 'append']) {
    it(`open(…, "${mode}"): refused by the descriptor check and logged; the file outside is neither read nor changed`, () => {
      const base = tempDir('race');
      const app = path.join(base, 'app');
      const outside = path.join(base, 'outside');
      mkdirSync(path.join(app, 'data'), { recursive: true });
      mkdirSync(outside);
      writeFileSync(path.join(app, 'data', 'notes.txt'), 'inside\n');
      writeFileSync(path.join(outside, 'notes.txt'), 'SECRET\n');
      const refusals: string[] = [];
      const files = new ScriptFiles({ appDir: app, onRefused: (_input, reason) => refusals.push(reason) });

      const realpath = fs.realpathSync;
      let armed = true;
      fs.realpathSync = ((target: fs.PathLike, options?: fs.EncodingOption) => {
        const result = realpath(target, options);
        if (armed && String(target).endsWith(path.join('data', 'notes.txt'))) {
          armed = false;
          renameSync(path.join(app, 'data'), path.join(app, 'data-old'));
          symlinkSync(outside, path.join(app, 'data'));
        }
        return result;
      }) as typeof fs.realpathSync;
      try {
        assert.equal(files.open('/data/notes.txt', 'text', mode), 0, 'refused');
      } finally {
        fs.realpathSync = realpath;
        files.closeAll();
      }
      assert.equal(armed, false, 'the swap happened');
      assert.equal(refusals.length, 1);
      assert.match(refusals[0]!, /outside its root/);
      assert.equal(readFileSync(path.join(outside, 'notes.txt'), 'utf8'), 'SECRET\n', 'not truncated or written');
      assert.equal(readFileSync(path.join(app, 'data-old', 'notes.txt'), 'utf8'), 'inside\n');
    });
  }

  it('without a swap, "write" still truncates and "create" still creates', () => {
    const app = tempDir('race-plain');
    writeFileSync(path.join(app, 'old.txt'), 'old content\n');
    const files = new ScriptFiles({ appDir: app, onRefused: () => assert.fail('nothing is refused') });
    const handle = files.open('/old.txt', 'text', 'write');
    assert.ok(handle > 0);
    assert.equal(files.io(handle, 'length', null), 0);
    files.io(handle, 'write', 'new');
    files.io(handle, 'close', null);
    assert.equal(readFileSync(path.join(app, 'old.txt'), 'utf8'), 'new');
    const created = files.open('/fresh.txt', 'text', 'create');
    assert.ok(created > 0);
    files.closeAll();
    assert.equal(readFileSync(path.join(app, 'fresh.txt'), 'utf8'), '');
  });
});

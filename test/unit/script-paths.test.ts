import { strict as assert } from 'node:assert';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileAccessError, ScriptPaths } from '../../runtime/sandbox/script-paths.ts';
import { tempDir } from '../helpers/test-server.ts';

/** The confinement rule alone (the File integration test drives it through a real script). */
describe('script File paths: confinement', () => {
  const base = tempDir('paths');
  const app = path.join(base, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, '..data'), 'x');
  mkdirSync(path.join(app, '..cache'));
  mkdirSync(path.join(base, 'outside'));
  symlinkSync(path.join(base, 'outside'), path.join(app, 'out'));
  const paths = new ScriptPaths(app, []);
  const real = realpathSync(app);

  it('names that merely start with ".." are ordinary names inside the root', () => {
    assert.equal(paths.resolve('/..data').native, path.join(real, '..data'));
    assert.equal(paths.resolve('..cache/new.txt').native, path.join(real, '..cache', 'new.txt'));
  });

  it('".." components and symlinks out of the root are still refused', () => {
    assert.throws(() => paths.resolve('/../outside'), FileAccessError);
    assert.throws(() => paths.resolve('/out/x.txt'), FileAccessError);
  });
});

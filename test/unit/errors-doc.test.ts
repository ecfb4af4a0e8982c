import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { ErrorCode } from '../../runtime/errors.ts';

describe('error catalogue', () => {
  it('docs/errors.md lists exactly the codes of runtime/errors.ts', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    assert.deepEqual([...documented].sort(), Object.values(ErrorCode).sort());
  });
});

import { strict as assert } from 'node:assert';
import { GC_FLAGS, NODE_FLAGS, SOURCE_NODE_FLAGS, SUPPORTED_NODE_LINES, hasNodeFlags, unsupportedNodeMessage } from '../../bin/node-runtime.cjs';

describe('bin/node-runtime.cjs: supported Node lines and the runtime flags', () => {
  it('Node older than 24 gets one line naming the supported lines; 24, 26 and newer pass', () => {
    assert.deepEqual(SUPPORTED_NODE_LINES, [24, 26]);
    for (const old of ['20.20.2', '22.12.0', '23.11.1']) {
      assert.equal(unsupportedNodeMessage(old), `fms-runtime: Node.js ${old} is not supported; use Node.js 24 or 26 (LTS), see "Install" in the README.`);
    }
    for (const ok of ['24.0.0', '24.22.3', '25.1.0', '26.12.1', '28.0.0']) assert.equal(unsupportedNodeMessage(ok), null, ok);
  });

  it('--no-node-snapshot and the GC settings are the runtime flags; the sources add tsx; this very process was started with them (mocha config)', () => {
    assert.deepEqual(NODE_FLAGS, ['--no-node-snapshot', ...GC_FLAGS]);
    assert.deepEqual(GC_FLAGS, ['--max-semi-space-size=4', '--heap-growing-percent=200']);
    assert.deepEqual(SOURCE_NODE_FLAGS, [...NODE_FLAGS, '--import=tsx']);
    assert.equal(hasNodeFlags(), true);
    assert.equal(hasNodeFlags(['--import=tsx']), false);
  });
});

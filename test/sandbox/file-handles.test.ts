import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('sandbox: File handles are bounded and released with the instance', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('at most 64 open files per instance; disposing the instance closes them all', async function () {
    if (process.platform !== 'linux') this.skip();
    const { sandbox } = createInstance(`
var files = [];
Client.prototype.openMany = function (n) {
  var opened = 0;
  for (var i = 0; i < n; i++) { var f = new File("/f" + i + ".txt"); if (f.open("text", "create")) { files.push(f); opened++; } }
  return opened;
};
`);
    await sandbox.start();
    await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
    const before = openFds();
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'openMany', args: [70] }), { ok: true, value: 64 });
    assert.ok(openFds() >= before + 64, 'the files are open on the host');
    sandbox.dispose();
    assert.ok(openFds() <= before, `descriptors released (${openFds()} vs ${before})`);
  });
});

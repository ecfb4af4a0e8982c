import assert from 'node:assert/strict';
import { ErrorCode, ScriptError } from '../../runtime/errors.ts';
import { cleanupApps, clientInfo, createInstance, disposeAll, startNeighbour } from './helpers.ts';

async function startFailure(start: Promise<void>): Promise<ScriptError> {
  const reason = await start.then(
    () => assert.fail('start() resolved'),
    (error: unknown) => error,
  );
  assert.ok(reason instanceof ScriptError, String(reason));
  return reason;
}

describe('sandbox hazard: syntax errors', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('in main.asc: start() rejects with ScriptSyntax, file, line and linebuf; the neighbour keeps answering', async () => {
    const neighbour = await startNeighbour();
    const broken = createInstance('var a = 1;\nfunction f() {\n  return a +;\n}\n');
    const error = await startFailure(broken.sandbox.start());
    assert.equal(error.code, ErrorCode.ScriptSyntax);
    assert.equal(error.filename, 'main.asc');
    assert.equal(error.lineno, 3);
    assert.equal(error.linebuf, '  return a +;');
    assert.match(error.message, /^SyntaxError: Unexpected token/);
    assert.equal(broken.fatals.length, 0);
    assert.deepEqual(broken.hooks.scriptErrors, [], 'reported through start() only');
    assert.equal(await broken.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'reject');
    await neighbour.ask(1);
  });

  it('in a file queued by load(): start() rejects with that file and line', async () => {
    const broken = createInstance('load("lib/good.asc");\nload("lib/bad.asc");\n', {
      files: { 'lib/good.asc': 'var good = 1;\n', 'lib/bad.asc': '// helper\nvar x = {\n  a: 1\n  b: 2\n};\n' },
    });
    const error = await startFailure(broken.sandbox.start());
    assert.equal(error.code, ErrorCode.ScriptSyntax);
    assert.equal(error.filename, 'lib/bad.asc');
    assert.equal(error.lineno, 4);
    assert.equal(error.linebuf, '  b: 2');
  });

  it('in a file load()ed from a handler: reported once with its own file:line; the instance keeps running', async () => {
    const instance = createInstance(
      'Client.prototype.plugin = function () {\n  load("plugins/broken.asc");\n  return "loaded";\n};\nClient.prototype.ok = function () { return 1; };\n',
      { files: { 'plugins/broken.asc': 'var p = 1;\n\nvar q = (2;\n' } },
    );
    await instance.sandbox.start();
    assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
    assert.deepEqual(await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'plugin', args: [] }), {
      ok: false,
      code: 'NetConnection.Call.Failed',
      description: 'Failed to execute method (plugin).',
    });
    assert.equal(instance.hooks.scriptErrors.length, 1);
    const [reported] = instance.hooks.scriptErrors;
    assert.match(reported?.description ?? '', /^SyntaxError: /);
    assert.equal(reported?.filename, 'plugins/broken.asc');
    assert.equal(reported?.lineno, 3);
    assert.equal(reported?.linebuf, 'var q = (2;');
    assert.deepEqual(await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'ok', args: [] }), { ok: true, value: 1 });
  });

  it('a throw at main.asc top level fails the start with ScriptThrown at its line', async () => {
    const broken = createInstance('var config = null;\nvar port = config.port;\n');
    const error = await startFailure(broken.sandbox.start());
    assert.equal(error.code, ErrorCode.ScriptThrown);
    assert.equal(error.lineno, 2);
    assert.equal(error.linebuf, 'var port = config.port;');
  });

  it('a queued load() of a missing file fails the start with ScriptLoadFailed', async () => {
    const broken = createInstance('load("nowhere.asc");\n');
    const error = await startFailure(broken.sandbox.start());
    assert.equal(error.code, ErrorCode.ScriptLoadFailed);
    assert.match(error.message, /nowhere\.asc.*file not found/);
  });
});

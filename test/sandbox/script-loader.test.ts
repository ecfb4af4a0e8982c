import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, ScriptError } from '../../runtime/errors.ts';
import { ScriptLoader, decodeScript, findAppScript } from '../../runtime/sandbox/script-loader.ts';
import { cleanupApps, clientInfo, createInstance, disposeAll, writeApp } from './helpers.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

// An ES3-era script: var, prototype classes, for..in, string concatenation, a load()ed library.
const LEGACY_MAIN = [
  'load("lib/helpers.asc");',
  'var rooms = {};',
  'function Room(name) { this.name = name; this.members = []; }',
  'Room.prototype.join = function (who) { this.members.push(who); return this.members.length; };',
  'application.onAppStart = function () { rooms["lobby"] = new Room("lobby"); trace("started with " + Helpers.shout("hi")); };',
  'Client.prototype.join = function (room) {',
  '  if (!rooms[room]) rooms[room] = new Room(room);',
  '  rooms[room].join(this.id);',
  '  var names = [];',
  '  for (var key in rooms) { names.push(key + "=" + rooms[key].members.length); }',
  '  return names.sort().join(",");',
  '};',
  'Client.prototype.fail = function () {',
  '  return Helpers.explode();',
  '};',
].join('\n');
const LEGACY_LIB = 'var Helpers = {};\nHelpers.shout = function (s) { return s.toUpperCase() + "!"; };\n\nHelpers.explode = function () {\n  throw new Error("from the library");\n};\n';

describe('sandbox: script loading', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  describe('findAppScript', () => {
    it('looks in the app folder, then scripts/: main.asc, main.js, <app>.asc, <app>.js', () => {
      const both = writeApp({ 'main.js': '', 'chat.asc': '', 'scripts/main.asc': '' });
      assert.equal(findAppScript(both, 'chat'), path.join(both, 'main.js'));
      const named = writeApp({ 'chat.js': '', 'chat.asc': '' });
      assert.equal(findAppScript(named, 'chat'), path.join(named, 'chat.asc'));
      const nested = writeApp({ 'scripts/main.asc': '', 'README.txt': '' });
      assert.equal(findAppScript(nested, 'chat'), path.join(nested, 'scripts', 'main.asc'));
      const windows = writeApp({ 'Main.ASC': '' });
      assert.equal(findAppScript(windows, 'chat'), path.join(windows, 'Main.ASC'));
      assert.equal(findAppScript(writeApp({ 'README.txt': '' }), 'chat'), null);
      assert.equal(findAppScript(path.join(both, 'missing'), 'chat'), null);
    });
  });

  describe('decodeScript', () => {
    it('strips a BOM and turns CRLF and CR-only line endings into LF', () => {
      assert.deepEqual(decodeScript(utf8('\uFEFFa\r\nb\r\nc')), { text: 'a\nb\nc', encoding: 'utf-8' });
      assert.deepEqual(decodeScript(utf8('a\rb\rc\r')), { text: 'a\nb\nc\n', encoding: 'utf-8' });
      assert.deepEqual(decodeScript(utf8('é = "ü";')), { text: 'é = "ü";', encoding: 'utf-8' });
    });

    it('falls back to windows-1252 for bytes that are not UTF-8', () => {
      assert.deepEqual(decodeScript(Uint8Array.from([0x76, 0x3d, 0x22, 0xe9, 0x22])), { text: 'v="é"', encoding: 'windows-1252' });
    });
  });

  describe('load() resolution', () => {
    it('resolves in the app folder, then the script library paths; escapes are refused', () => {
      const app = writeApp({ 'main.asc': '', 'lib/a.asc': '', 'secret.txt': '' });
      const library = writeApp({ 'netservices.asc': '', 'lib/a.asc': '' });
      const outside = writeApp({ 'x.asc': '' });
      symlinkSync(path.join(outside, 'x.asc'), path.join(app, 'link.asc'));
      const loader = new ScriptLoader({ appDir: app, scriptPath: path.join(app, 'main.asc'), scriptLibPaths: [library] });
      assert.equal(loader.resolve('lib/a.asc'), path.join(app, 'lib', 'a.asc'), 'the app folder wins');
      assert.equal(loader.resolve('lib\\a.asc'), path.join(app, 'lib', 'a.asc'), 'Windows separators');
      assert.equal(loader.resolve('netservices.asc'), path.join(library, 'netservices.asc'));
      for (const name of ['../x.asc', path.join(outside, 'x.asc'), 'lib/../../x.asc', 'link.asc']) {
        assert.throws(
          () => loader.resolve(name),
          (error: unknown) => error instanceof ScriptError && error.code === ErrorCode.ScriptLoadFailed && /escapes/.test(error.message),
          name,
        );
      }
      assert.throws(() => loader.resolve('missing.asc'), /file not found/);
      assert.equal(loader.loadFile('netservices.asc').filename, path.join(library, 'netservices.asc'), 'library files keep their path');
    });
  });

  describe('running legacy files', () => {
    it('an ES3-style app with a load()ed helper library works; errors name the library file and line', async () => {
      const { sandbox, hooks } = createInstance(LEGACY_MAIN, { files: { 'lib/helpers.asc': LEGACY_LIB } });
      await sandbox.start();
      assert.deepEqual(hooks.traces, ['started with HI!']);
      await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
      assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'join', args: ['kitchen'] }), { ok: true, value: 'kitchen=1,lobby=0' });
      await sandbox.dispatch('call', { clientId: 'c1', method: 'fail', args: [] });
      assert.deepEqual(hooks.scriptErrors, [
        { description: 'Error: from the library', filename: 'lib/helpers.asc', lineno: 5, linebuf: '  throw new Error("from the library");' },
      ]);
    });

    it('a main.asc with BOM + CRLF and a library with CR-only line endings keep their line numbers', async () => {
      const crlfMain = '\uFEFF' + LEGACY_MAIN.replace(/\n/g, '\r\n');
      const crLib = LEGACY_LIB.replace(/\n/g, '\r');
      const { sandbox, hooks } = createInstance('', { files: { 'main.asc': utf8(crlfMain), 'lib/helpers.asc': utf8(crLib) } });
      await sandbox.start();
      await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
      assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c1', method: 'join', args: ['hall'] }), { ok: true, value: 'hall=1,lobby=0' });
      await sandbox.dispatch('call', { clientId: 'c1', method: 'fail', args: [] });
      assert.deepEqual(hooks.scriptErrors[0], {
        description: 'Error: from the library',
        filename: 'lib/helpers.asc',
        lineno: 5,
        linebuf: '  throw new Error("from the library");',
      });
      const brokenMain = createInstance('', { files: { 'main.asc': utf8('\uFEFFvar a = 1;\r\nvar b = 2;\r\nvar c = ;\r\n') } });
      await assert.rejects(brokenMain.sandbox.start(), (error: unknown) => error instanceof ScriptError && error.lineno === 3 && error.linebuf === 'var c = ;');
    });

    it('load() order: queued files run after main.asc, in call order, before onAppStart; later loads run at once', async () => {
      const { sandbox, hooks } = createInstance(
        [
          'trace("main top " + typeof fromA);',
          'load("a.asc");',
          'load("b.asc");',
          'trace("main end " + typeof fromA);',
          'application.onAppStart = function () { trace("onAppStart " + fromA + fromB + fromC); load("late.asc"); trace("after late " + late); };',
        ].join('\n'),
        {
          files: {
            'a.asc': 'var fromA = "A";\ntrace("a runs");\nload("c.asc");\n',
            'b.asc': 'var fromB = "B";\ntrace("b runs");\n',
            'c.asc': 'var fromC = "C";\ntrace("c runs");\n',
            'late.asc': 'var late = "L";\n',
          },
        },
      );
      await sandbox.start();
      assert.deepEqual(hooks.traces, ['main top undefined', 'main end undefined', 'a runs', 'b runs', 'c runs', 'onAppStart ABC', 'after late L']);
    });

    it('a file load()ed at run time keeps its own name and lines in errors (eval with sourceURL)', async () => {
      const { sandbox, hooks } = createInstance(
        'Client.prototype.plugin = function () {\n  load("plugins/tool.asc");\n  return tool();\n};\n',
        { files: { 'plugins/tool.asc': '// a plugin\nfunction tool() {\n  return missing.value;\n}\n' } },
      );
      await sandbox.start();
      await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
      await sandbox.dispatch('call', { clientId: 'c1', method: 'plugin', args: [] });
      assert.deepEqual(hooks.scriptErrors, [
        { description: 'ReferenceError: missing is not defined', filename: 'plugins/tool.asc', lineno: 3, linebuf: '  return missing.value;' },
      ]);
    });
  });
});

import assert from 'node:assert/strict';
import ivm from 'isolated-vm';
import { cleanupApps, clientInfo, createInstance, disposeAll, startNeighbour } from './helpers.ts';

/** Functions whose source prints as [native code], reachable from `roots` (property graph). */
const NATIVE_WALK = `
function nativesFrom(roots, depth) {
  var seen = new Set(), natives = new Set(), toSource = Function.prototype.toString, RA = Reflect.apply;
  function visit(value, d) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return;
    if (seen.has(value)) return;
    seen.add(value);
    if (typeof value === 'function') {
      var source = '';
      try { source = RA(toSource, value, []); } catch (e) { source = ''; }
      if (/^function[^(]*\\([^)]*\\)\\s*\\{\\s*\\[native code\\]\\s*\\}$/.test(source)) natives.add(value);
    }
    if (d >= depth) return;
    var keys = Reflect.ownKeys(value);
    for (var i = 0; i < keys.length; i++) {
      var desc = Object.getOwnPropertyDescriptor(value, keys[i]);
      if (!desc) continue;
      if ('value' in desc) visit(desc.value, d + 1); else { visit(desc.get, d + 1); visit(desc.set, d + 1); }
    }
    visit(Object.getPrototypeOf(value), d + 1);
  }
  for (var r = 0; r < roots.length; r++) visit(roots[r], 0);
  return natives;
}
`;

const SCRIPT = `${NATIVE_WALK}
var STANDARD = [];
var connectProbe = {};
application.onConnect = function (client) {
  connectProbe.calleeCaller = arguments.callee.caller === null;
  connectProbe.handlerCaller = application.onConnect.caller === null;
  var original = Error.prepareStackTrace;
  Error.prepareStackTrace = function (error, frames) { return frames; };
  var frames = new Error().stack;
  Error.prepareStackTrace = original;
  var leaks = [];
  for (var i = 0; i < frames.length; i++) {
    if (frames[i].getFileName() == 'main.asc') continue;
    if (frames[i].getFunction() !== undefined) leaks.push('function in ' + frames[i].getFileName());
    var self = frames[i].getThis();
    if (self !== undefined && self !== null && self !== globalThis) leaks.push('this in ' + frames[i].getFileName());
  }
  connectProbe.frameLeaks = leaks.join(',');
  connectProbe.frames = frames.length;
  return true;
};

Client.prototype.probe = function () {
  var out = {};
  var names = ['require', 'process', 'global', 'module', 'exports', 'ivm', '_ivm', '$0', '$1', '__fmsHostApi', 'isolatedVm', 'Buffer', 'setImmediate', 'queueMicrotask', 'fetch'];
  for (var i = 0; i < names.length; i++) out['typeof ' + names[i]] = eval('typeof ' + names[i]);
  try { this.constructor.constructor('return process')(); out.ctorProcess = 'reached'; } catch (e) { out.ctorProcess = e.name; }
  try { out.ctorRequire = typeof this.constructor.constructor('return typeof require')(); } catch (e) { out.ctorRequire = e.name; }
  var g = Function('return this')();
  out.functionThisIsGlobal = g === globalThis;
  out.globalNames = Object.getOwnPropertyNames(g);
  var all = nativesFrom([g], 8);
  var roots = [];
  // Roots: the standard built-ins, not the global object itself (globalThis is one of them).
  for (var s = 0; s < STANDARD.length; s++) if (STANDARD[s] in g && g[STANDARD[s]] !== g) roots.push(g[STANDARD[s]]);
  var known = nativesFrom(roots, 10);
  var extra = [];
  all.forEach(function (fn) { if (!known.has(fn)) extra.push(String(fn.name)); });
  out.extraNatives = extra;
  out.nativeCount = all.size;
  return out;
};

Client.prototype.patchedBuiltins = function () {
  var RA = Reflect.apply, slice = Array.prototype.slice, originals = [Function.prototype.call, Function.prototype.apply, Function.prototype.bind, Reflect.apply];
  var seen = [];
  Function.prototype.call = function (self) { seen.push(this); return RA(originals[0], this, RA(slice, arguments, [])); };
  Function.prototype.apply = function (self, args) { seen.push(this); return RA(this, self, args || []); };
  Function.prototype.bind = function () { seen.push(this); return RA(originals[2], this, RA(slice, arguments, [])); };
  Reflect.apply = function (fn, self, args) { seen.push(fn); return RA(fn, self, args); };
  Object.defineProperty(Object.prototype, 'kind', { set: function (v) { seen.push(this); }, configurable: true });
  try {
    trace('patched');
    application.broadcastMsg('hello', { a: 1, f: function () {} });
    this.call('ping', { onResult: function () {} }, 1);
    var id = setInterval(function () {}, 1000);
    clearInterval(id);
    application.getStats();
    this.getStats();
    this.readAccess = '/patched';
    load('lib/tool.asc');
  } finally {
    Function.prototype.call = originals[0];
    Function.prototype.apply = originals[1];
    Function.prototype.bind = originals[2];
    Reflect.apply = originals[3];
    delete Object.prototype.kind;
  }
  var names = [];
  for (var i = 0; i < seen.length; i++) names.push(typeof seen[i] == 'function' ? 'fn ' + seen[i].name : typeof seen[i]);
  return names.join(',');
};

Client.prototype.connectProbe = function () { return connectProbe; };
`;

/** Global names of a bare V8 context in this isolated-vm build. */
async function bareGlobals(): Promise<string[]> {
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  try {
    const context = await isolate.createContext();
    return (await context.eval('Object.getOwnPropertyNames(globalThis)', { copy: true })) as string[];
  } finally {
    isolate.dispose();
  }
}

describe('sandbox hazard: escape attempts', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('nothing from Node, isolated-vm or the bootstrap is reachable from script code', async () => {
    const neighbour = await startNeighbour();
    const standard = await bareGlobals();
    const instance = createInstance(SCRIPT.replace('var STANDARD = [];', `var STANDARD = ${JSON.stringify(standard)};`), {
      files: { 'lib/tool.asc': 'var tool = 1;\n' },
    });
    await instance.sandbox.start();
    assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
    const reply = await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'probe', args: [] });
    assert.ok(reply.ok, JSON.stringify(reply));
    const probe = reply.value as Record<string, unknown>;

    for (const [key, value] of Object.entries(probe)) {
      if (key.startsWith('typeof ')) assert.equal(value, 'undefined', key);
    }
    assert.equal(probe.ctorProcess, 'ReferenceError');
    assert.equal(probe.ctorRequire, 'string');
    assert.equal(probe.functionThisIsGlobal, true);

    // The global object holds the V8 built-ins we keep plus the FMS globals, nothing else.
    const globals = probe.globalNames as string[];
    const ownNames = ['STANDARD', 'connectProbe', 'nativesFrom', 'tool']; // declared by this test's scripts
    const added = globals.filter((name) => !standard.includes(name) && !ownNames.includes(name)).sort();
    assert.deepEqual(added, [
      'Client', 'File', 'LoadVars', 'NetConnection', 'NetStream', 'SharedObject', 'Stream', 'WebService', 'XML', 'XMLNode', 'XMLSocket',
      'application', 'clearInterval', 'load', 'setInterval', 'trace',
    ]);
    for (const name of ['JSON', 'console', 'WebAssembly', 'SharedArrayBuffer', 'Atomics']) assert.ok(!globals.includes(name), name);

    // No function from outside the V8 built-ins (the host callback would print as native code).
    assert.deepEqual(probe.extraNatives, []);
    assert.ok(Number(probe.nativeCount) > 100, 'the walk did reach the built-ins');
    await neighbour.ask(1);
  });

  it('strict-mode host-api: callers and stack frames do not expose host-api functions', async () => {
    const instance = createInstance(SCRIPT);
    await instance.sandbox.start();
    assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
    const reply = await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'connectProbe', args: [] });
    assert.ok(reply.ok);
    const probe = reply.value as Record<string, unknown>;
    assert.equal(probe.calleeCaller, true, 'arguments.callee.caller is null');
    assert.equal(probe.handlerCaller, true, 'onConnect.caller is null');
    assert.equal(probe.frameLeaks, '');
    assert.ok(Number(probe.frames) >= 2, 'frames below the handler were inspected');
  });

  it('patched call/apply/bind/Reflect.apply and Object.prototype setters never see a host-api function', async () => {
    const instance = createInstance(SCRIPT, { files: { 'lib/tool.asc': 'var tool = 1;\n' } });
    await instance.sandbox.start();
    assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
    assert.deepEqual(await instance.sandbox.dispatch('call', { clientId: 'c1', method: 'patchedBuiltins', args: [] }), { ok: true, value: '' });
    assert.equal(instance.hooks.traces.at(-1), 'patched');
    assert.deepEqual(instance.hooks.broadcasts, [{ method: 'hello', args: [{ a: 1 }] }]);
    assert.deepEqual(instance.hooks.access, [{ clientId: 'c1', field: 'readAccess', value: '/patched' }]);
  });
});

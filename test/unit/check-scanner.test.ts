import { strict as assert } from 'node:assert';
import { parseScript, scanScripts, type Finding } from '../../runtime/check/scanner.ts';

/** Scans snippets as files of one app (they share a global scope) → "name@file:line tier" strings. */
function scan(files: Record<string, string>): string[] {
  const parsed = Object.entries(files).map(([name, source]) => parseScript({ name, source }));
  return scanScripts(parsed).map((f: Finding) => `${f.name}@${f.file}:${f.line} ${f.tier}`);
}

const has = (rows: string[], row: string) => assert.ok(rows.includes(row), `missing ${row} in\n  ${rows.join('\n  ')}`);
const lacks = (rows: string[], prefix: string) => assert.ok(!rows.some((r) => r.startsWith(prefix)), `unexpected ${prefix} in\n  ${rows.join('\n  ')}`);

describe('check: scanner', () => {
  it('handler parameters: onConnect(client) and onPublish(client, stream)', () => {
    const rows = scan({
      'main.asc': [
        'application.onConnect = function (c) {',
        '  c.call("hi", null);',
        '};',
        'application.onPublish = function (who, s) {',
        '  s.record("append"); who.ping();',
        '};',
      ].join('\n'),
    });
    has(rows, 'application.onConnect@main.asc:1 supported');
    has(rows, 'client.call@main.asc:2 supported');
    has(rows, 'stream.record@main.asc:5 supported');
    has(rows, 'client.ping@main.asc:5 partial');
  });

  it('livepkgr: Stream.get("f4f:" + name) is reported as partial, HLS instead of HDS', () => {
    const rows = scan({ 'main.asc': 'application.onPublish = function (c, s) {\n  var f = Stream.get("f4f:" + s.name);\n  f.record("append");\n};' });
    has(rows, 'f4f: recording (Adobe livepkgr)@main.asc:2 partial');
    const finding = scanScripts([parseScript({ name: 'main.asc', source: 'Stream.get("f4f:x");' })]).find((f) => f.name.startsWith('f4f:'));
    assert.match(finding?.note ?? '', /^HLS instead of HDS/);
    lacks(scan({ 'main.asc': 'Stream.get("mirror-" + name);' }), 'f4f:');
  });

  it('this inside application handlers is the application', () => {
    const rows = scan({ 'main.asc': 'application.onConnect = function (c) {\n  this.acceptConnection(c);\n};' });
    has(rows, 'application.acceptConnection@main.asc:2 supported');
  });

  it('helpers that take the client along by name', () => {
    const rows = scan({ 'main.asc': 'application.measure = function (clientObj) {\n  return clientObj.getStats().bytes_out;\n};' });
    has(rows, 'client.getStats@main.asc:2 partial');
  });

  it('this inside Client.prototype methods; application.clients[i]', () => {
    const rows = scan({
      'main.asc': [
        'Client.prototype.hello = function () { return this.ip; };',
        'function all() { for (var i = 0; i < application.clients.length; i++) application.clients[i].call("x", null); }',
      ].join('\n'),
    });
    has(rows, 'client.ip@main.asc:1 supported');
    has(rows, 'application.clients@main.asc:2 supported');
    has(rows, 'client.call@main.asc:2 supported');
  });

  it('objects followed through variables, dotted paths, object literals and other files', () => {
    const rows = scan({
      'main.asc': 'var conn = new NetConnection();\napplication.so = SharedObject.get("a", true);\nvar relay = { nc: new NetConnection() };',
      'lib.asc': 'conn.connect("rtmp://x/app");\napplication.so.lock();\nvar list = [relay];\nlist[0].nc.close();',
    });
    has(rows, 'nc.connect@lib.asc:1 supported');
    has(rows, 'so.lock@lib.asc:2 supported');
    has(rows, 'nc.close@lib.asc:4 supported');
  });

  it('a script that defines a global or a stubbed method itself uses its own', () => {
    const rows = scan({
      'main.asc': [
        'function setTimeout(f, ms) { var id = setInterval(function () { clearInterval(id); f(); }, ms); return id; }',
        'setTimeout(function () {}, 10);',
        'Client.prototype.getStreamLength = function (name) { return Stream.length(name); };',
      ].join('\n'),
    });
    lacks(rows, 'setTimeout@');
    has(rows, 'client.getStreamLength@main.asc:3 supported');
    has(rows, 'Stream.length@main.asc:3 supported');
  });

  it('an undefined setTimeout and stubs are unsupported; proxied shared objects are partial', () => {
    const rows = scan({ 'main.asc': 'setTimeout(go, 5);\nvar so = SharedObject.get("x", false, nc);\nso.mark("h");\napplication.clearStreams("/");' });
    has(rows, 'setTimeout@main.asc:1 unsupported');
    has(rows, 'SharedObject.get(name, persistence, netConnection)@main.asc:2 partial');
    has(rows, 'so.mark@main.asc:3 unsupported');
    has(rows, 'application.clearStreams@main.asc:4 unsupported');
  });

  it('patterns: feature tests, Flash Remoting over http, SpiderMonkey extensions', () => {
    const rows = scan({
      'main.asc': [
        'if (typeof JSON == "undefined") JSON = {};',
        'if (!Array.prototype.forEach) Array.prototype.forEach = function () {};',
        'var hasXml = typeof XML != "undefined";',
        'var gw = new NetConnection(); gw.connect("http://example.com/flashservices/gateway");',
        'Client.prototype.__noSuchMethod__ = function () {};',
        'gw.call("Catalog.search", null, "x"); application.nc = new NetConnection(); application.nc.call("notRemoting", null);',
        'this.conn = NetServices.createGatewayConnection(); this.conn.call("Auth.login", null);',
      ].join('\n'),
    });
    lacks(rows, 'feature test of JSON'); // the script defines JSON itself (json2.js style)
    has(rows, 'feature test of Array.prototype.forEach@main.asc:2 partial');
    has(rows, 'feature test of XML@main.asc:3 partial');
    has(rows, 'Flash Remoting (NetConnection to http://)@main.asc:4 supported');
    has(rows, '__noSuchMethod__@main.asc:5 unsupported');
    has(rows, 'remoting service Catalog.search@main.asc:6 supported');
    lacks(rows, 'remoting service notRemoting');
    has(rows, 'remoting service Auth.login@main.asc:7 supported');
    const json = scan({ 'main.asc': 'var native = typeof JSON == "object";' });
    has(json, 'feature test of JSON@main.asc:1 partial');
  });

  it('patterns: NetConnection URLs built at run time, client.protocol compared with transports this server does not serve', () => {
    const rows = scan({
      'main.asc': [
        'var nc = new NetConnection(); nc.connect(application.config.origin);',
        'nc.connect("rtmp://origin/live");',
        'application.onConnect = function (client) {',
        '  if (client.protocol === "rtmp") trace("plain");',
        '  if ("rtmpe" != client.protocol) trace("not encrypted");',
        '  switch (client.protocol) { case "rtmpt": trace("tunnel"); break; case "RTMP": break; }',
        '};',
      ].join('\n'),
    });
    has(rows, 'NetConnection.connect to a URL built at run time@main.asc:1 partial');
    lacks(rows, 'NetConnection.connect to a URL built at run time@main.asc:2');
    lacks(rows, 'client.protocol compared with "rtmp"');
    lacks(rows, 'client.protocol compared with "RTMP"');
    has(rows, 'client.protocol compared with "rtmpe"@main.asc:5 partial');
    has(rows, 'client.protocol compared with "rtmpt"@main.asc:6 partial');
  });

  it('a file that does not parse: the syntax error with its line, E4X lines, and the rest still scanned', () => {
    const rows = scan({
      'main.asc': [
        'application.onAppStart = function () {',
        '  var x = <config><port>1935</port></config>;',
        '  for each (var p in x.port) trace(p);',
        '};',
        'application.onConnect = function (c) { return true; };',
      ].join('\n'),
    });
    has(rows, 'syntax error@main.asc:2 unsupported');
    has(rows, 'E4X@main.asc:2 unsupported');
    has(rows, 'E4X@main.asc:3 unsupported');
    has(rows, 'application.onConnect@main.asc:5 supported');
  });

  it('local variables and parameters are not the host globals; unknown expandos are not reported', () => {
    const rows = scan({ 'main.asc': 'function f(trace) { trace("x"); }\napplication.myList = [];\napplication.myList.push(1);' });
    lacks(rows, 'trace@');
    lacks(rows, 'application.myList');
  });
});

/**
 * The checker reads untrusted scripts with recursive code (acorn, acorn-walk, the scanner's own
 * helpers). A file nested deeper than their stacks allow must not end the command with a
 * RangeError: it is reported as not checked, and the other files are still scanned.
 */
describe('check: pathologically nested scripts', () => {
  const deep = {
    parentheses: `var x = ${'('.repeat(5000)}1${')'.repeat(5000)};`,
    arrays: `var y = ${'['.repeat(5000)}${']'.repeat(5000)};`,
    'member chain': `var z = a${'.b'.repeat(20000)};`,
    'unterminated nesting (loose parse)': `var w = ${'('.repeat(5000)}`,
  };
  for (const [what, source] of Object.entries(deep)) {
    it(`${what}: one "file not checked" row for that file; the next file is scanned`, () => {
      const rows = scan({ 'deep.asc': source, 'main.asc': 'application.onAppStart = function () {};' });
      has(rows, 'file not checked@deep.asc:1 unsupported');
      has(rows, 'application.onAppStart@main.asc:1 supported');
    });
  }

  it('ordinary nesting (200 levels) is still scanned', () => {
    const rows = scan({ 'main.asc': `var x = ${'('.repeat(200)}application.name${')'.repeat(200)};` });
    has(rows, 'application.name@main.asc:1 supported');
    lacks(rows, 'file not checked');
  });
});

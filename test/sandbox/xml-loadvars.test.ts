import assert from 'node:assert/strict';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';

/** The in-isolate parts of XML and LoadVars (no network): the DOM, the parser's status codes, decode/toString. */
const SCRIPT = `
Client.prototype.dom = function () {
  var doc = new XML();
  var root = doc.createElement("playlist");
  root.attributes.name = "a \\"b\\" & <c>";
  doc.appendChild(root);
  var one = doc.createElement("item"); one.appendChild(doc.createTextNode("x < y & z"));
  var two = doc.createElement("item");
  root.appendChild(one); root.appendChild(two);
  var zero = doc.createElement("first");
  root.insertBefore(zero, one);
  var before = doc.toString();
  var copy = root.cloneNode(true);
  two.removeNode();
  return {
    before: before, after: doc.toString(), copy: copy.toString(), count: root.childNodes.length,
    first: root.firstChild.nodeName, last: root.lastChild.nodeName, next: zero.nextSibling.nodeName,
    prev: one.previousSibling.nodeName, parent: one.parentNode === root, text: one.firstChild.nodeValue,
    types: [root.nodeType, one.firstChild.nodeType], has: [root.hasChildNodes(), two.hasChildNodes()],
    isNode: root instanceof XMLNode, docIsNode: doc instanceof XMLNode
  };
};

Client.prototype.parse = function (src, ignoreWhite) {
  var x = new XML();
  x.ignoreWhite = ignoreWhite;
  x.parseXML(src);
  return { status: x.status, text: x.toString(), children: x.childNodes.length };
};

Client.prototype.vars = function (query) {
  var lv = new LoadVars();
  lv.decode(query);
  var names = [];
  for (var k in lv) if (typeof lv[k] != "function") names.push(k + "=" + lv[k]);
  lv.extra = "a b&c";
  lv.onLoad = function () {};
  return { names: names.sort().join(","), text: lv.toString(), loaded: lv.loaded, contentType: lv.contentType, proto: ({}).polluted };
};

Client.prototype.walk = function (n) {
  var src = "<list>";
  for (var i = 0; i < n; i++) src += "<i v='" + i + "'/>";
  var x = new XML(src + "</list>");
  var count = 0, sum = 0;
  for (var node = x.firstChild.firstChild; node != null; node = node.nextSibling) { count++; sum += Number(node.attributes.v); }
  var back = 0;
  for (var node = x.firstChild.lastChild; node != null; node = node.previousSibling) back++;
  return [x.status, count, sum, back];
};

Client.prototype.stubs = function () {
  var s = new XMLSocket();
  var ws = new WebService("http://example.com/x.wsdl");
  return [s.connect("localhost", 9999), typeof ws];
};
`;

describe('sandbox: XML DOM and parser, LoadVars encode/decode', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  async function started() {
    const instance = createInstance(SCRIPT);
    await instance.sandbox.start();
    assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
    const call = async (method: string, ...args: unknown[]) => {
      const reply = await instance.sandbox.dispatch('call', { clientId: 'c1', method, args });
      assert.ok(reply.ok, JSON.stringify(reply));
      return reply.value as Record<string, unknown>;
    };
    return { ...instance, call };
  }

  it('createElement / appendChild / insertBefore / removeNode / cloneNode and navigation; toString escapes', async () => {
    const { call } = await started();
    assert.deepEqual(await call('dom'), {
      before: '<playlist name="a &quot;b&quot; &amp; &lt;c&gt;"><first /><item>x &lt; y &amp; z</item><item /></playlist>',
      after: '<playlist name="a &quot;b&quot; &amp; &lt;c&gt;"><first /><item>x &lt; y &amp; z</item></playlist>',
      copy: '<playlist name="a &quot;b&quot; &amp; &lt;c&gt;"><first /><item>x &lt; y &amp; z</item><item /></playlist>',
      count: 2, first: 'first', last: 'item', next: 'item', prev: 'first', parent: true, text: 'x < y & z',
      types: [1, 3], has: [true, false], isNode: true, docIsNode: true,
    });
  });

  it('parseXML: entities, CDATA, comments dropped, ignoreWhite, single quotes', async () => {
    const { call } = await started();
    const src = "<a x='1 &amp; 2'>\n  <!-- note -->\n  <b>&#65;&#x42;&lt;</b>\n  <c><![CDATA[<raw> & ]]></c>\n</a>";
    assert.deepEqual(await call('parse', src, true), { status: 0, text: '<a x="1 &amp; 2"><b>AB&lt;</b><c>&lt;raw&gt; &amp; </c></a>', children: 1 });
    const spaced = await call('parse', src, false);
    assert.equal(spaced.status, 0);
    assert.match(String(spaced.text), /^<a x="1 &amp; 2">\n {2}\n {2}<b>/, 'whitespace text nodes kept without ignoreWhite');
  });

  it('parse errors set the AS2 status codes and keep the tree built so far', async () => {
    const { call } = await started();
    const cases: [string, number][] = [
      ['<a><![CDATA[x</a>', -2],
      ['<?xml version="1.0"<a/>', -3],
      ['<!DOCTYPE a [<!ELEMENT a ANY>', -4],
      ['<a><!-- open</a>', -5],
      ['<a <b/>', -6],
      ['<a x="1/>', -8],
      ['<a><b></a>', -9],
      ['<a>', -9],
      ['</a>', -10],
      ['<a><b/></a>', 0],
    ];
    for (const [src, status] of cases) assert.equal((await call('parse', src, false)).status, status, src);
    assert.equal((await call('parse', '<a><b/><c>', false)).text, '<a><b /><c /></a>');
  });

  it('LoadVars.decode fills own properties (a "__proto__" pair stays data); toString skips functions, loaded and contentType', async () => {
    const { call } = await started();
    assert.deepEqual(await call('vars', 'a=1&b=two+words&c=%C3%A9&__proto__=x&polluted=&bad=%E0%A4%A'), {
      names: '__proto__=x,a=1,b=two words,bad=%E0%A4%A,c=é,polluted=',
      text: 'a=1&b=two%20words&c=%C3%A9&__proto__=x&polluted=&bad=%25E0%25A4%25A&extra=a%20b%26c',
      loaded: undefined,
      contentType: 'application/x-www-form-urlencoded',
      proto: undefined,
    });
  });

  it('walking 50k siblings with nextSibling / previousSibling is linear (within the 1 s handler budget)', async () => {
    const { call } = await started();
    const n = 50_000;
    assert.deepEqual(await call('walk', n), [0, n, (n * (n - 1)) / 2, n]);
  });

  it('XMLSocket and WebService have their shape and log "unsupported" once each', async () => {
    const { call, logger } = await started();
    assert.deepEqual(await call('stubs'), [false, 'object']);
    await call('stubs');
    const unsupported = logger.records.filter((r) => r.message?.startsWith('unsupported:')).map((r) => r.message);
    assert.deepEqual(unsupported, ['unsupported: WebService', 'unsupported: XMLSocket']);
  });
});

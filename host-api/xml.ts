/**
 * XML and XMLNode (fms-api §9): the AS1/AS2 DOM FMS scripts use — `new XML(src)`, `ignoreWhite`,
 * `firstChild`, `childNodes`, `nodeName`, `nodeValue`, `attributes`, `parseXML`, `toString`,
 * `createElement`, `appendChild`, `status`, and load/send/sendAndLoad over the host's HTTP.
 *
 * Why a small parser here rather than one on the host: parseXML is synchronous and called with
 * strings the script builds, the tree must be made of script-visible objects anyway, and parsing
 * inside the isolate keeps a hostile 1 MB document under the isolate's own memory and time limits.
 * It is AS2's forgiving, non-validating parser: elements, attributes, text, CDATA (as text), the
 * five named entities and numeric references; comments are dropped; the XML declaration and
 * DOCTYPE are kept as text in `xmlDecl` / `docTypeDecl`. Errors set `status` as AS2 did (the tree
 * built so far is kept): -2 CDATA, -3 declaration, -4 DOCTYPE, -5 comment not terminated, -6
 * malformed element, -8 attribute value not terminated, -9 start tag without end tag, -10 end tag
 * without start tag.
 */
import { defineMethod, defineProperty, isArray, objectCreate, objectKeys, StringConstructor } from './host.ts';
import { defineLoaderMethods, methodOf, startRequest, withQuery } from './http-loader.ts';

type Node = Record<string, unknown> & { childNodes: Node[]; parentNode: Node | null; attributes: Record<string, unknown> };

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const fromCodePoint = String.fromCodePoint;
const encodeComponent = encodeURIComponent;

function hidden(target: object, key: string, value: unknown): void {
  defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

function initNode(node: Node, type: number, value: unknown): void {
  node.nodeType = type;
  node.nodeName = type === ELEMENT_NODE && value !== undefined ? StringConstructor(value) : null;
  node.nodeValue = type === TEXT_NODE ? StringConstructor(value ?? '') : null;
  node.attributes = {};
  node.childNodes = [];
  node.parentNode = null;
}

export function XMLNode(this: Node, type?: unknown, value?: unknown): void {
  initNode(this, type === TEXT_NODE ? TEXT_NODE : ELEMENT_NODE, value);
}

const nodeProto = XMLNode.prototype as Record<string, unknown>;

function newNode(type: number, value: unknown): Node {
  const node = new (XMLNode as unknown as new (t: number, v: unknown) => Node)(type, value);
  return node;
}

/**
 * Where a node sits in its parent's childNodes, remembered: the AS2 idiom walks a document with
 * `n = n.nextSibling`, which must not cost an indexOf over all siblings per step. A stale hint
 * (the list changed) falls back to indexOf.
 */
const indexHints = new WeakMap<object, number>();

function indexIn(list: Node[], node: Node): number {
  const hint = indexHints.get(node);
  if (hint !== undefined && list[hint] === node) return hint;
  const at = list.indexOf(node);
  if (at >= 0) indexHints.set(node, at);
  return at;
}

function siblings(node: Node): Node[] {
  const parent = node.parentNode;
  return parent && isArray(parent.childNodes) ? parent.childNodes : [];
}

function navigation(name: string, read: (node: Node) => Node | null): void {
  defineProperty(nodeProto, name, {
    get(this: Node) {
      return read(this) ?? null;
    },
    enumerable: false,
    configurable: true,
  });
}

navigation('firstChild', (n) => (isArray(n.childNodes) ? (n.childNodes[0] ?? null) : null));
navigation('lastChild', (n) => (isArray(n.childNodes) ? (n.childNodes[n.childNodes.length - 1] ?? null) : null));
navigation('nextSibling', (n) => {
  const list = siblings(n);
  const at = indexIn(list, n);
  return at >= 0 ? (list[at + 1] ?? null) : null;
});
navigation('previousSibling', (n) => {
  const list = siblings(n);
  const at = indexIn(list, n);
  return at > 0 ? (list[at - 1] ?? null) : null;
});

function detach(node: Node): void {
  const list = siblings(node);
  const at = list.indexOf(node);
  if (at >= 0) list.splice(at, 1);
  node.parentNode = null;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && isArray((value as Node).childNodes);
}

defineMethod(nodeProto, 'appendChild', function (this: Node, child: unknown): void {
  if (!isNode(child) || child === this) return;
  detach(child);
  child.parentNode = this;
  this.childNodes.push(child);
});

defineMethod(nodeProto, 'insertBefore', function (this: Node, child: unknown, before: unknown): void {
  if (!isNode(child) || child === this) return;
  const at = this.childNodes.indexOf(before as Node);
  if (at < 0) return;
  detach(child);
  child.parentNode = this;
  this.childNodes.splice(this.childNodes.indexOf(before as Node), 0, child);
});

defineMethod(nodeProto, 'removeNode', function (this: Node): void {
  detach(this);
});

defineMethod(nodeProto, 'hasChildNodes', function (this: Node): boolean {
  return isArray(this.childNodes) && this.childNodes.length > 0;
});

function clone(node: Node, deep: boolean): Node {
  const copy = newNode(node.nodeType as number, node.nodeType === TEXT_NODE ? node.nodeValue : (node.nodeName ?? undefined));
  const keys = objectKeys(node.attributes ?? {});
  for (let i = 0; i < keys.length; i++) copy.attributes[keys[i] as string] = node.attributes[keys[i] as string];
  if (deep) for (let i = 0; i < node.childNodes.length; i++) {
    const child = clone(node.childNodes[i] as Node, true);
    child.parentNode = copy;
    copy.childNodes.push(child);
  }
  return copy;
}

defineMethod(nodeProto, 'cloneNode', function (this: Node, deep?: unknown): Node {
  return clone(this, deep === true);
});

function escapeText(text: string): string {
  return text.split('&').join('&amp;').split('<').join('&lt;').split('>').join('&gt;');
}

function escapeAttribute(text: string): string {
  return escapeText(text).split('"').join('&quot;');
}

function serialize(node: Node): string {
  if (node.nodeType === TEXT_NODE) return escapeText(StringConstructor(node.nodeValue ?? ''));
  let inner = '';
  for (let i = 0; i < node.childNodes.length; i++) inner += serialize(node.childNodes[i] as Node);
  if (node.nodeName === null || node.nodeName === undefined) return inner; // the document itself
  let open = `<${StringConstructor(node.nodeName)}`;
  const keys = objectKeys(node.attributes ?? {});
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    open += ` ${key}="${escapeAttribute(StringConstructor(node.attributes[key]))}"`;
  }
  return inner === '' ? `${open} />` : `${open}>${inner}</${StringConstructor(node.nodeName)}>`;
}

defineMethod(nodeProto, 'toString', function (this: Node): string {
  const prefix = (typeof this.xmlDecl === 'string' ? this.xmlDecl : '') + (typeof this.docTypeDecl === 'string' ? this.docTypeDecl : '');
  return prefix + serialize(this);
});

// ---- parsing ----------------------------------------------------------------------------------

function decodeEntities(text: string): string {
  if (text.indexOf('&') < 0) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[name] ?? whole;
  });
}

const NAME = /[^\s/>=]+/y;
const SPACE = /\s*/y;

function match(pattern: RegExp, src: string, at: number): string {
  pattern.lastIndex = at;
  const found = pattern.exec(src);
  return found === null ? '' : found[0];
}

/** Parses `src` into `doc` (children replaced); returns the AS2 status code. */
function parseInto(doc: Node, src: string): number {
  doc.childNodes = [];
  const ignoreWhite = doc.ignoreWhite === true;
  const stack: Node[] = [doc];
  const addText = (text: string) => {
    if (text === '' || (ignoreWhite && text.trim() === '')) return;
    const node = newNode(TEXT_NODE, text);
    const parent = stack[stack.length - 1] as Node;
    node.parentNode = parent;
    indexHints.set(node, parent.childNodes.push(node) - 1);
  };
  let i = 0;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    addText(decodeEntities(src.slice(i, lt < 0 ? src.length : lt)));
    if (lt < 0) break;
    if (src.startsWith('<!--', lt)) {
      const end = src.indexOf('-->', lt + 4);
      if (end < 0) return -5;
      i = end + 3;
    } else if (src.startsWith('<![CDATA[', lt)) {
      const end = src.indexOf(']]>', lt + 9);
      if (end < 0) return -2;
      addText(src.slice(lt + 9, end));
      i = end + 3;
    } else if (src.startsWith('<?', lt)) {
      const end = src.indexOf('?>', lt + 2);
      if (end < 0) return -3;
      if (src.startsWith('<?xml', lt)) hidden(doc, 'xmlDecl', src.slice(lt, end + 2));
      i = end + 2;
    } else if (src.startsWith('<!', lt)) {
      const bracket = src.indexOf('[', lt);
      const close = src.indexOf('>', lt);
      const end = bracket >= 0 && bracket < close ? src.indexOf(']>', bracket) + 1 : close;
      if (end <= 0) return -4;
      hidden(doc, 'docTypeDecl', src.slice(lt, end + 1));
      i = end + 1;
    } else if (src.startsWith('</', lt)) {
      const end = src.indexOf('>', lt);
      if (end < 0) return -6;
      const name = src.slice(lt + 2, end).trim();
      if (stack.length === 1) return -10;
      if ((stack[stack.length - 1] as Node).nodeName !== name) return -9;
      stack.pop();
      i = end + 1;
    } else {
      const name = match(NAME, src, lt + 1);
      if (name === '') return -6;
      const element = newNode(ELEMENT_NODE, name);
      const parent = stack[stack.length - 1] as Node;
      element.parentNode = parent;
      indexHints.set(element, parent.childNodes.push(element) - 1);
      let at = lt + 1 + name.length;
      for (;;) {
        at += match(SPACE, src, at).length;
        if (at >= src.length) return -6;
        if (src.startsWith('/>', at)) {
          at += 2;
          break;
        }
        if (src[at] === '>') {
          at += 1;
          stack.push(element);
          break;
        }
        const attribute = match(NAME, src, at);
        if (attribute === '') return -6;
        at += attribute.length;
        at += match(SPACE, src, at).length;
        if (src[at] !== '=') return -6;
        at += 1;
        at += match(SPACE, src, at).length;
        const quote = src[at];
        if (quote !== '"' && quote !== "'") return -6;
        const close = src.indexOf(quote, at + 1);
        if (close < 0) return -8;
        defineProperty(element.attributes, attribute, {
          value: decodeEntities(src.slice(at + 1, close)),
          writable: true,
          enumerable: true,
          configurable: true,
        });
        at = close + 1;
      }
      i = at;
    }
  }
  return stack.length === 1 ? 0 : -9;
}

// ---- XML (the document) -----------------------------------------------------------------------

export function XML(this: Node, source?: unknown): void {
  initNode(this, ELEMENT_NODE, undefined);
  hidden(this, 'ignoreWhite', false);
  hidden(this, 'contentType', 'application/x-www-form-urlencoded');
  hidden(this, 'loaded', undefined);
  hidden(this, 'status', 0);
  hidden(this, 'xmlDecl', undefined);
  hidden(this, 'docTypeDecl', undefined);
  if (source !== undefined && source !== null) this.status = parseInto(this, StringConstructor(source));
}

const xmlProto = objectCreate(nodeProto) as Record<string, unknown>;
XML.prototype = xmlProto;
defineProperty(xmlProto, 'constructor', { value: XML, writable: true, enumerable: false, configurable: true });

defineMethod(xmlProto, 'parseXML', function (this: Node, source: unknown): void {
  this.xmlDecl = undefined;
  this.docTypeDecl = undefined;
  this.status = parseInto(this, StringConstructor(source));
});

defineMethod(xmlProto, 'createElement', function (name: unknown): Node {
  return newNode(ELEMENT_NODE, name);
});

defineMethod(xmlProto, 'createTextNode', function (text: unknown): Node {
  return newNode(TEXT_NODE, text);
});

defineMethod(xmlProto, 'load', function (this: Node, url: unknown): boolean {
  return startRequest(this, this, 'GET', url, null);
});

defineMethod(xmlProto, 'send', function (this: Node, url: unknown, _target?: unknown, method?: unknown): boolean {
  if (url === undefined || url === null) return false;
  const body = StringConstructor(this);
  return methodOf(method, 'POST') === 'GET' ? startRequest(this, null, 'GET', withQuery(url, encodeComponent(body)), null) : startRequest(this, null, 'POST', url, body);
});

defineMethod(xmlProto, 'sendAndLoad', function (this: Node, url: unknown, target: unknown): boolean {
  if (typeof target !== 'object' || target === null || url === undefined || url === null) return false;
  return startRequest(this, target, 'POST', url, StringConstructor(this));
});

defineLoaderMethods(xmlProto, 'parseXML');

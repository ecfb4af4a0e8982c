/**
 * Code patterns that run differently here than on FMS even though no API member is missing:
 * feature tests that take the other branch in V8, Flash Remoting, SpiderMonkey-only syntax and
 * extensions (E4X), RTMFP URIs. Each comes with the reason, in the report's words.
 */
import type { Node } from 'acorn';
import { fullAncestor } from 'acorn-walk';
import type { Tier } from './api-tiers.ts';
import type { Finding, ParsedScript } from './scanner.ts';

// ESTree nodes read by shape (acorn's Node type is untyped beyond `type` and `loc`).
type AnyNode = Node & Record<string, any>;

/** Globals FMS lacked, whose presence here depends on config; a feature test then flips. */
const CONFIGURABLE: Record<string, string> = {
  JSON: 'scripts.exposeJson',
  setTimeout: 'scripts.exposeSetTimeout',
  clearTimeout: 'scripts.exposeSetTimeout',
};
/** FMS host classes this runtime does not define: a feature test takes the fallback branch. */
const MISSING_CLASSES = new Set(['XML', 'XMLNode', 'File', 'LoadVars', 'XMLSocket', 'WebService', 'ByteArray']);
/** JS 1.5 lacked these, V8 has them: a polyfill guarded by a test is skipped and the native one runs. */
const MODERN_BUILTINS = /^(Array\.prototype\.(forEach|map|filter|some|every|indexOf|lastIndexOf|reduce|reduceRight)|String\.prototype\.trim|Object\.(keys|create|defineProperty|getPrototypeOf)|Function\.prototype\.bind|Date\.now|Array\.isArray|Promise|Map|Set|WeakMap|Symbol|Proxy|Reflect|globalThis)$/;
/** SpiderMonkey extensions V8 does not have. */
const SPIDERMONKEY_ONLY = new Set(['__noSuchMethod__', '__count__', '__parent__', '__iterator__']);
/** Lines that look like E4X: XML literals, `for each`, attribute and descendant axes. */
const E4X_LINE = /(^|[=(,:?]|\breturn)\s*<[A-Za-z_][\w:.-]*(\s[^<>]*)?\/?>|\bfor\s+each\s*\(|\.@[A-Za-z_*]|\w\.\.[A-Za-z_]/;

function path(node: AnyNode): string | null {
  if (node.type === 'Identifier') return node.name as string;
  if (node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier') {
    const object = path(node.object);
    return object === null ? null : `${object}.${node.property.name}`;
  }
  return null;
}

/** "f4f:…" or "f4f:" + name: the stream name Adobe's livepkgr records as HDS fragments. */
function startsWithF4f(node: AnyNode): boolean {
  if (node.type === 'Literal') return typeof node.value === 'string' && node.value.startsWith('f4f:');
  return node.type === 'BinaryExpression' && node.operator === '+' && startsWithF4f(node.left);
}

export function findPatterns(script: ParsedScript, defined: ReadonlySet<string>): Finding[] {
  const file = script.file.name;
  const out: Finding[] = [];
  const add = (name: string, tier: Tier, note: string, line: number) => out.push({ kind: 'pattern', name, tier, note, file, line });
  const lineOf = (node: AnyNode) => node.loc?.start.line ?? 1;

  const featureTest = (tested: AnyNode, at: AnyNode) => {
    const name = path(tested);
    if (name === null || defined.has(name)) return;
    if (CONFIGURABLE[name]) {
      add(`feature test of ${name}`, 'partial', `FMS has no ${name}; neither has this runtime unless ${CONFIGURABLE[name]} is on, and then the script takes the other branch`, lineOf(at));
    } else if (MISSING_CLASSES.has(name)) {
      add(`feature test of ${name}`, 'partial', `FMS has ${name}; this runtime does not, so the script takes its fallback branch`, lineOf(at));
    } else if (MODERN_BUILTINS.test(name)) {
      add(`feature test of ${name}`, 'partial', `JS 1.5 (FMS) lacks ${name}, V8 has it: the script's own fallback is skipped and the native one runs`, lineOf(at));
    }
  };

  fullAncestor(script.ast, (node: AnyNode) => {
    if (node.type === 'UnaryExpression' && (node.operator === 'typeof' || node.operator === '!')) featureTest(node.argument, node);
    else if (node.type === 'IfStatement' || node.type === 'ConditionalExpression') {
      if (node.test.type === 'MemberExpression' && MODERN_BUILTINS.test(path(node.test) ?? '')) featureTest(node.test, node);
    } else if (node.type === 'CallExpression') {
      const callee = path(node.callee);
      const first = node.arguments[0] as AnyNode | undefined;
      const literal = first?.type === 'Literal' && typeof first.value === 'string' ? first.value : null;
      if (callee === 'load' && literal !== null && /(^|[\\/])netservices\.asc$/i.test(literal)) {
        add('Flash Remoting (netservices.asc)', 'unsupported', 'netservices.asc is not shipped and NetConnection to http:// gateways is not implemented', lineOf(node));
      } else if (callee?.endsWith('.connect') && literal !== null && /^https?:/i.test(literal)) {
        add('Flash Remoting (NetConnection to http://)', 'unsupported', 'only rtmp:// is implemented: the connection gets NetConnection.Call.BadVersion', lineOf(node));
      } else if (callee?.endsWith('.connect') && literal !== null && /^rtmfp:/i.test(literal)) {
        add('RTMFP (NetConnection to rtmfp://)', 'unsupported', 'RTMFP is not implemented: the connection gets NetConnection.Call.BadVersion', lineOf(node));
      } else if (callee === 'Stream.get' && first && startsWithF4f(first)) {
        add('f4f: recording (Adobe livepkgr)', 'partial', 'HLS instead of HDS: record() on an "f4f:" stream packages it as HLS/LL-HLS at /<app>/<instance>/f4f:<name>/index.m3u8; no HDS (.f4m/.f4f) is written', lineOf(node));
      } else if (callee === 'uneval' && !defined.has('uneval')) {
        add('uneval()', 'unsupported', 'SpiderMonkey-only global: ReferenceError in V8', lineOf(node));
      }
    } else if (node.type === 'Identifier' && node.name === 'NetServices' && !defined.has('NetServices')) {
      add('Flash Remoting (NetServices)', 'unsupported', 'netservices.asc is not shipped and NetConnection to http:// gateways is not implemented', lineOf(node));
    } else if (node.type === 'MemberExpression' && !node.computed && SPIDERMONKEY_ONLY.has(node.property.name)) {
      add(node.property.name as string, 'unsupported', 'SpiderMonkey-only extension: V8 never calls or sets it', lineOf(node));
    }
  });

  if (script.syntaxError) {
    // E4X makes the file fail to parse; say so on every line that looks like it, not just the first error.
    script.file.source.split('\n').forEach((text, i) => {
      if (E4X_LINE.test(text)) add('E4X', 'unsupported', 'E4X (XML literals, for each, .@attr, ..) is SpiderMonkey-only: V8 cannot compile it', i + 1);
    });
  }
  return dedupe(out);
}

/** `!typeof x` and nested tests can hit one line twice: one row per pattern per line. */
function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.name}:${f.line}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Code patterns that run differently here than on FMS even though no API member is missing, or
 * that an operator should know about before migrating: feature tests that take the other branch in
 * V8, Flash Remoting (which gateways and services a script calls), NetConnection URLs built at run
 * time, client.protocol compared with a transport this server does not serve, SpiderMonkey-only
 * syntax and extensions (E4X), RTMFP URIs. Each comes with the reason, in the report's words.
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

export interface PatternOptions {
  /** The transports this server accepts clients over (client.protocol values), lower case. */
  protocols: readonly string[];
}

const REMOTING_NOTE = 'Flash Remoting: each call is an AMF POST to the gateway, whose host must be loopback or in scripts.http.allowHosts';
const COMPARISONS = new Set(['==', '===', '!=', '!==']);

function path(node: AnyNode): string | null {
  if (node.type === 'Identifier') return node.name as string;
  if (node.type === 'ThisExpression') return 'this';
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

export function findPatterns(script: ParsedScript, defined: ReadonlySet<string>, options: PatternOptions = { protocols: ['rtmp'] }): Finding[] {
  const file = script.file.name;
  const out: Finding[] = [];
  const add = (name: string, tier: Tier, note: string, line: number) => out.push({ kind: 'pattern', name, tier, note, file, line });
  const lineOf = (node: AnyNode) => node.loc?.start.line ?? 1;
  const literalOf = (node: AnyNode | undefined): string | null => (node?.type === 'Literal' && typeof node.value === 'string' ? node.value : null);
  const remotingConnections = gatewayConnections(script);

  /** `x.protocol == "rtmpt"`: a branch for a transport this server does not accept never runs. */
  const protocolTest = (member: AnyNode, value: AnyNode | undefined, at: AnyNode) => {
    if (member.type !== 'MemberExpression' || member.computed || member.property.name !== 'protocol') return;
    const literal = literalOf(value);
    if (literal === null || options.protocols.includes(literal.toLowerCase())) return;
    add(`client.protocol compared with "${literal}"`, 'partial', `this server accepts ${options.protocols.join(', ')} only: the ${literal} branch never runs`, lineOf(at));
  };

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
      const literal = literalOf(first);
      const method = node.callee.type === 'MemberExpression' && !node.callee.computed ? (node.callee.property.name as string) : null;
      if (method === 'connect' && first !== undefined && literal === null) {
        add('NetConnection.connect to a URL built at run time', 'partial', 'verify: remoting or dynamic URL — rtmp:// connects over RTMP, http(s):// is Flash Remoting (gateway host in scripts.http.allowHosts)', lineOf(node));
      } else if (method === 'connect' && literal !== null && /^https?:/i.test(literal)) {
        add('Flash Remoting (NetConnection to http://)', 'supported', REMOTING_NOTE, lineOf(node));
      } else if (method === 'connect' && literal !== null && /^rtmfp:/i.test(literal)) {
        add('RTMFP (NetConnection to rtmfp://)', 'unsupported', 'RTMFP is not implemented: the connection gets NetConnection.Call.BadVersion', lineOf(node));
      } else if (callee === 'Stream.get' && first && startsWithF4f(first)) {
        add('f4f: recording (Adobe livepkgr)', 'partial', 'HLS instead of HDS: record() on an "f4f:" stream packages it as HLS/LL-HLS at /<app>/<instance>/f4f:<name>/index.m3u8; no HDS (.f4m/.f4f) is written', lineOf(node));
      } else if (method === 'getService' && literal !== null) {
        add(`remoting service ${literal}`, 'supported', REMOTING_NOTE, lineOf(node));
      } else if (method === 'call' && literal !== null && remotingConnections.has(path(node.callee.object) ?? '')) {
        add(`remoting service ${literal}`, 'supported', REMOTING_NOTE, lineOf(node));
      } else if (callee === 'uneval' && !defined.has('uneval')) {
        add('uneval()', 'unsupported', 'SpiderMonkey-only global: ReferenceError in V8', lineOf(node));
      }
    } else if (node.type === 'BinaryExpression' && COMPARISONS.has(node.operator)) {
      protocolTest(node.left, node.right, node);
      protocolTest(node.right, node.left, node);
    } else if (node.type === 'SwitchStatement') {
      for (const branch of node.cases as AnyNode[]) if (branch.test) protocolTest(node.discriminant, branch.test, branch);
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

/**
 * Names (variables, dotted paths) of NetConnections to a Flash Remoting gateway in this file:
 * `x.connect("http://…")` or `x = NetServices.createGatewayConnection(…)`.
 */
function gatewayConnections(script: ParsedScript): Set<string> {
  const found = new Set<string>();
  fullAncestor(script.ast, (node: AnyNode) => {
    if (node.type === 'CallExpression' && node.callee.type === 'MemberExpression' && !node.callee.computed && node.callee.property.name === 'connect') {
      const first = node.arguments[0] as AnyNode | undefined;
      const target = path(node.callee.object);
      if (target !== null && first?.type === 'Literal' && typeof first.value === 'string' && /^https?:/i.test(first.value)) found.add(target);
    }
    const assigned = node.type === 'AssignmentExpression' ? [node.left, node.right] : node.type === 'VariableDeclarator' ? [node.id, node.init] : null;
    if (assigned && assigned[1]?.type === 'CallExpression' && path(assigned[1].callee) === 'NetServices.createGatewayConnection') {
      const target = path(assigned[0]);
      if (target !== null) found.add(target);
    }
  });
  return found;
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

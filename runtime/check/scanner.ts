/**
 * Finds, without running anything, which FMS API members a set of scripts uses.
 *
 * Parsing: acorn (a real ECMAScript parser with line numbers; esbuild gives no AST). SSAS is
 * ES3-era code, but V8 accepts every later syntax too, so the modern grammar is what decides
 * whether the file will compile here. A file that does not parse gets a syntax-error row with
 * file:line and is scanned again with acorn-loose, so the rest of its uses are still listed.
 *
 * Inference is deliberately simple and flow-insensitive, like the scripts it reads:
 * - `application.x`, `Client.prototype.x` / `this.x` inside such methods, statics (`Stream.get`);
 * - the parameters of application.onConnect/onDisconnect (client) and onPublish/onUnpublish
 *   (client, stream), and any parameter named like a client (`client`, `clientObj`, `newClient`);
 * - names (variables or dotted paths like `application.nc`) assigned anywhere from `new X`,
 *   `Stream.get`, `SharedObject.get` or `application.clients[i]`.
 * Scripts share one global scope in FMS, so bindings and script-defined globals are collected
 * over all files first, then uses are looked up.
 */
import { parse, type Node } from 'acorn';
import { parse as parseLoose } from 'acorn-loose';
import { fullAncestor } from 'acorn-walk';
import { API_TIERS, CLASS_NAMES, INSTANCE_PREFIX, tierOf, type Tier } from './api-tiers.ts';
import { findPatterns, type PatternOptions } from './patterns.ts';

export interface ScriptFile {
  /** Shown in the report (relative to the app folder). */
  name: string;
  source: string;
}

/** One use of something with a tier: an API member, a flagged pattern or a syntax error. */
export interface Finding {
  kind: 'member' | 'pattern' | 'syntax';
  /** The member (`application.onConnect`) or the pattern's short name. */
  name: string;
  tier: Tier;
  note?: string;
  file: string;
  line: number;
}

export interface ParsedScript {
  file: ScriptFile;
  ast: Node;
  syntaxError?: { message: string; line: number };
  /** Why the file could not be scanned (its AST is then an empty program). */
  unchecked?: string;
}

// ESTree shapes we look at (acorn's Node type is untyped beyond `type`).
type AnyNode = Node & Record<string, any>;

const PARSE_OPTIONS = {
  ecmaVersion: 'latest',
  sourceType: 'script',
  allowReturnOutsideFunction: true,
  allowHashBang: true,
  allowReserved: true,
  locations: true,
} as const;

/**
 * acorn, acorn-walk and the scanner's helpers are recursive: a file nested deeper than the stack
 * allows throws RangeError. That must not end the whole command, so such a file gets a "file not
 * checked" row (here, or in scanScripts when the walk overflows) and the other files are scanned.
 */
export function parseScript(file: ScriptFile): ParsedScript {
  try {
    return parseStrictOrLoose(file);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return { file, ast: parse('', PARSE_OPTIONS), unchecked: TOO_DEEP };
  }
}

const TOO_DEEP = 'nested too deeply for the checker (stack overflow): its API uses may be missing from this report';

function parseStrictOrLoose(file: ScriptFile): ParsedScript {
  try {
    return { file, ast: parse(file.source, PARSE_OPTIONS) };
  } catch (error) {
    if (error instanceof RangeError) throw error; // stack overflow: acorn-loose would overflow too
    const e = error as SyntaxError & { loc?: { line: number } };
    const message = e.message.replace(/\s*\(\d+:\d+\)$/, '');
    return { file, ast: parseLoose(file.source, PARSE_OPTIONS), syntaxError: { message, line: e.loc?.line ?? 1 } };
  }
}

/** Handlers whose parameters are known: handler → class of each parameter. */
const HANDLER_PARAMS: Record<string, (string | null)[]> = {
  'application.onConnect': ['Client'],
  'application.onDisconnect': ['Client'],
  'application.onConnectAccept': ['Client'],
  'application.onConnectReject': ['Client'],
  'application.onPublish': ['Client', 'Stream'],
  'application.onUnpublish': ['Client', 'Stream'],
};

/** Parameter names that mean a Client in practice (`client`, `clientObj`, `newClient`…). */
const CLIENT_PARAM = /^(new|the|my|a)?client(obj)?$/i;

const GLOBAL_FUNCTIONS = Object.keys(API_TIERS).filter((k) => !k.includes('.') && !k.includes(' '));

/** `a`, `a.b.c`, `this.x`; null for anything computed. */
function pathOf(node: AnyNode): string | null {
  if (node.type === 'Identifier') return node.name as string;
  if (node.type === 'ThisExpression') return 'this';
  if (node.type === 'MemberExpression') {
    const property = propertyName(node);
    const object = pathOf(node.object);
    return property !== null && object !== null ? `${object}.${property}` : null;
  }
  return null;
}

function propertyName(member: AnyNode): string | null {
  if (!member.computed && member.property.type === 'Identifier') return member.property.name as string;
  if (member.computed && member.property.type === 'Literal' && typeof member.property.value === 'string') return member.property.value;
  return null;
}

/** `this` inside application.onX handlers (not a class with an instance prefix). */
const APPLICATION = 'application';
/** A property name bound to objects of different classes: not used for inference. */
const AMBIGUOUS = '';

const lineOf = (node: AnyNode): number => node.loc?.start.line ?? 1;

class ScriptScan {
  /** Names the scripts define themselves (a script's own setTimeout or JSON is not the host's). */
  readonly defined = new Set<string>();
  /** Variable or dotted path → class of the object assigned to it. */
  readonly bindings = new Map<string, string>();
  readonly findings: Finding[] = [];

  readonly #patterns: PatternOptions | undefined;

  constructor(patterns?: PatternOptions) {
    this.#patterns = patterns;
  }

  collect(script: ParsedScript): void {
    const program = script.ast as AnyNode;
    for (const statement of program.body as AnyNode[]) {
      if (statement.type === 'FunctionDeclaration' && statement.id) this.defined.add(statement.id.name);
      if (statement.type === 'VariableDeclaration') for (const d of statement.declarations) if (d.id.type === 'Identifier') this.defined.add(d.id.name);
    }
    fullAncestor(program, (node: AnyNode, _state, ancestors) => {
      if (node.type === 'AssignmentExpression') {
        if (node.left.type === 'Identifier' && !this.#isLocal(node.left.name, ancestors as AnyNode[])) this.defined.add(node.left.name);
        this.#bind(pathOf(node.left), node.right, ancestors as AnyNode[]);
      } else if (node.type === 'VariableDeclarator' && node.id.type === 'Identifier' && node.init) {
        this.#bind(node.id.name, node.init, ancestors as AnyNode[]);
      }
    });
  }

  #bind(key: string | null, value: AnyNode, ancestors: AnyNode[]): void {
    if (key === null) return;
    if (value.type === 'ObjectExpression') {
      // var relay = { nc: new NetConnection() } → relay.nc
      for (const p of value.properties as AnyNode[]) {
        const name = p.type === 'Property' ? (p.key.type === 'Identifier' ? p.key.name : p.key.value) : undefined;
        if (typeof name === 'string') this.#bind(`${key}.${name}`, p.value, ancestors);
      }
      return;
    }
    const type = this.typeOf(value, ancestors);
    if (type === null) return;
    if (!key.startsWith('this.')) this.bindings.set(key, type);
    // Objects kept in arrays or maps (list[i].nc) are found by property name, if it is unambiguous.
    const dot = key.lastIndexOf('.');
    if (dot > 0) {
      const anyOwner = `*${key.slice(dot)}`;
      const known = this.bindings.get(anyOwner);
      this.bindings.set(anyOwner, known === undefined || known === type ? type : AMBIGUOUS);
    }
  }

  /** Declared by `var`/function/parameter inside an enclosing function. */
  #isLocal(name: string, ancestors: AnyNode[]): boolean {
    for (const a of ancestors) {
      if (!a.type.startsWith('Function') && a.type !== 'ArrowFunctionExpression') continue;
      if ((a.params as AnyNode[]).some((p) => p.type === 'Identifier' && p.name === name)) return true;
      let local = false;
      fullAncestor(a.body, (n: AnyNode) => {
        if (n.type === 'VariableDeclarator' && n.id.type === 'Identifier' && n.id.name === name) local = true;
      });
      if (local) return true;
    }
    return false;
  }

  /** The class of the object an expression evaluates to, when it can be told. */
  typeOf(node: AnyNode, ancestors: AnyNode[]): string | null {
    switch (node.type) {
      case 'NewExpression':
        return node.callee.type === 'Identifier' && INSTANCE_PREFIX[node.callee.name] ? node.callee.name : null;
      case 'CallExpression': {
        const callee = pathOf(node.callee);
        if (callee === 'Stream.get') return 'Stream';
        if (callee === 'SharedObject.get') return 'SharedObject';
        return null;
      }
      case 'MemberExpression': {
        if (node.computed && pathOf(node.object) === 'application.clients') return 'Client';
        const exact = this.bindings.get(pathOf(node) ?? '');
        if (exact !== undefined) return exact;
        const property = propertyName(node);
        const byName = property === null ? undefined : this.bindings.get(`*.${property}`);
        return byName === undefined || byName === AMBIGUOUS ? null : byName;
      }
      case 'ThisExpression':
        return this.#thisType(ancestors);
      case 'Identifier':
        return this.#paramType(node.name, ancestors) ?? this.bindings.get(node.name) ?? null;
      default:
        return null;
    }
  }

  /** `this` inside `Client.prototype.x = function` is a client (likewise Stream/NetConnection…). */
  #thisType(ancestors: AnyNode[]): string | null {
    for (let i = ancestors.length - 1; i > 0; i--) {
      const fn = ancestors[i]!;
      if (fn.type !== 'FunctionExpression') continue;
      const parent = ancestors[i - 1]!;
      const target = parent.type === 'AssignmentExpression' && parent.right === fn ? pathOf(parent.left) : null;
      if (target !== null && /^application\.[^.]+$/.test(target)) return APPLICATION; // handlers run with this = application
      const match = target === null ? null : /^(\w+)\.prototype\.[^.]+$/.exec(target);
      return match && INSTANCE_PREFIX[match[1]!] ? match[1]! : null; // the nearest function decides
    }
    return null;
  }

  #paramType(name: string, ancestors: AnyNode[]): string | null {
    for (let i = ancestors.length - 1; i > 0; i--) {
      const fn = ancestors[i]!;
      if (!fn.type.startsWith('Function')) continue;
      const index = (fn.params as AnyNode[]).findIndex((p) => p.type === 'Identifier' && p.name === name);
      if (index < 0) continue;
      const parent = ancestors[i - 1]!;
      const handler = parent.type === 'AssignmentExpression' && parent.right === fn ? pathOf(parent.left) : null;
      const known = handler ? HANDLER_PARAMS[handler]?.[index] : undefined;
      // Helpers that take the client along (application.checkBw = function (client) {…}) name it so.
      return known ?? (CLIENT_PARAM.test(name) ? 'Client' : null);
    }
    return null;
  }

  scan(script: ParsedScript): void {
    const file = script.file.name;
    if (script.unchecked) {
      this.findings.push({ kind: 'pattern', name: 'file not checked', tier: 'unsupported', note: script.unchecked, file, line: 1 });
    }
    if (script.syntaxError) {
      this.findings.push({ kind: 'syntax', name: 'syntax error', tier: 'unsupported', note: `${script.syntaxError.message}: the file does not compile`, file, line: script.syntaxError.line });
    }
    fullAncestor(script.ast, (node: AnyNode, _state, list) => {
      const ancestors = list as AnyNode[];
      if (node.type === 'MemberExpression') this.#member(node, ancestors, file);
      else if (node.type === 'NewExpression') this.#construct(node, file);
      else if (node.type === 'CallExpression') this.#call(node, ancestors, file);
    });
    for (const finding of findPatterns(script, this.defined, this.#patterns)) this.findings.push(finding);
  }

  #record(name: string, file: string, node: AnyNode, override?: { tier: Tier; note: string }): void {
    const entry = tierOf(name);
    if (!entry) return;
    const tier = override?.tier ?? entry.tier;
    const note = override?.note ?? entry.note;
    this.findings.push({ kind: 'member', name, tier, ...(note ? { note } : {}), file, line: lineOf(node) });
  }

  #member(node: AnyNode, ancestors: AnyNode[], file: string): void {
    const property = propertyName(node);
    if (property === null) return;
    const member = this.#memberName(node.object, property, ancestors);
    if (member === null) return;
    const parent = ancestors[ancestors.length - 2];
    const assigned = parent?.type === 'AssignmentExpression' && parent.left === node;
    const isHandler = /^on[A-Z]/.test(property) || property === '__resolve';
    // A script that defines a method the host only stubs (getStreamLength, checkBandwidth…) uses its own.
    if (assigned && !isHandler && /Function/.test(parent.right.type) && tierOf(member)?.tier !== 'supported') {
      this.#record(member, file, node, { tier: 'supported', note: 'the script defines its own' });
      return;
    }
    this.#record(member, file, node);
  }

  #memberName(object: AnyNode, property: string, ancestors: AnyNode[]): string | null {
    const objectPath = pathOf(object);
    if (objectPath === 'application') return `application.${property}`;
    if (object.type === 'ThisExpression' && this.#thisType(ancestors) === APPLICATION) return `application.${property}`;
    const proto = objectPath === null ? null : /^(\w+)\.prototype$/.exec(objectPath);
    if (proto && INSTANCE_PREFIX[proto[1]!]) return `${INSTANCE_PREFIX[proto[1]!]}.${property}`;
    if (objectPath !== null && CLASS_NAMES.includes(objectPath) && !this.defined.has(objectPath)) return `${objectPath}.${property}`;
    const type = this.typeOf(object, ancestors);
    const prefix = type === null ? undefined : INSTANCE_PREFIX[type];
    return prefix === undefined ? null : `${prefix}.${property}`;
  }

  #construct(node: AnyNode, file: string): void {
    if (node.callee.type !== 'Identifier' || this.defined.has(node.callee.name)) return;
    const name = node.callee.name as string;
    if (name === 'NetStream' && node.arguments.length >= 2) this.#record('new NetStream(nc, groupspec)', file, node);
    else this.#record(`new ${name}`, file, node);
  }

  #call(node: AnyNode, ancestors: AnyNode[], file: string): void {
    const callee = pathOf(node.callee);
    if (callee === 'SharedObject.get' && node.arguments.length >= 3 && !this.defined.has('SharedObject')) {
      this.#record('SharedObject.get(name, persistence, netConnection)', file, node);
    }
    if (node.callee.type !== 'Identifier') return;
    const name = node.callee.name as string;
    if (!GLOBAL_FUNCTIONS.includes(name) || this.defined.has(name) || this.#isLocal(name, ancestors)) return;
    this.#record(name, file, node);
  }
}

/** Every finding of a set of scripts that share one global scope, in file then line order. */
export function scanScripts(scripts: ParsedScript[], patterns?: PatternOptions): Finding[] {
  const scan = new ScriptScan(patterns);
  // A walk that overflows the stack (see parseScript) skips the rest of that file, not the report.
  const overflowed = new Set<ParsedScript>();
  const guarded = (script: ParsedScript, work: () => void) => {
    if (overflowed.has(script)) return;
    try {
      work();
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      overflowed.add(script);
    }
  };
  // Twice: a binding may depend on one made later in the file order (var nc = relay.nc).
  for (let pass = 0; pass < 2; pass++) for (const script of scripts) guarded(script, () => scan.collect(script));
  for (const script of scripts) guarded(script, () => scan.scan(script));
  for (const script of overflowed) scan.findings.push({ kind: 'pattern', name: 'file not checked', tier: 'unsupported', note: TOO_DEEP, file: script.file.name, line: 1 });
  return scan.findings;
}

/** `load("name")` calls with a literal argument: the files a script pulls in. */
export function literalLoads(script: ParsedScript): { name: string; line: number }[] {
  const loads: { name: string; line: number }[] = [];
  try {
    fullAncestor(script.ast, (node: AnyNode) => {
      if (node.type !== 'CallExpression' || node.callee.type !== 'Identifier' || node.callee.name !== 'load') return;
      const first = node.arguments[0] as AnyNode | undefined;
      if (first?.type === 'Literal' && typeof first.value === 'string') loads.push({ name: first.value, line: lineOf(node) });
    });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error; // too deep: scanScripts reports the file as not checked
  }
  return loads;
}

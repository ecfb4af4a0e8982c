import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { XMLParser, XMLValidator } from 'fast-xml-parser';

/** An element of an FMS XML file (Application.xml, Vhost.xml), in document order. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlElement[];
}

let xml: { parser: XMLParser; validator: typeof XMLValidator } | undefined;

/**
 * fast-xml-parser, loaded at the first XML file: importing it builds xml-naming's Unicode /u regexes,
 * which costs the process ~10 MB of RSS (ICU tables, measured by bench/startup.ts), so a server
 * whose apps ship no Application.xml never pays for it.
 */
function xmlParser(): NonNullable<typeof xml> {
  if (xml === undefined) {
    const { XMLParser, XMLValidator } = createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser');
    const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', trimValues: true, parseTagValue: false, parseAttributeValue: false });
    xml = { parser, validator: XMLValidator };
  }
  return xml;
}

type OrderedNode = Record<string, unknown>;

function toElement(node: OrderedNode): XmlElement | null {
  const name = Object.keys(node).find((key) => key !== ':@');
  if (name === undefined || name.startsWith('#') || name.startsWith('?')) return null;
  const attrs = (node[':@'] ?? {}) as Record<string, string>;
  const element: XmlElement = { name, attrs, text: '', children: [] };
  for (const child of (node[name] ?? []) as OrderedNode[]) {
    if ('#text' in child) element.text += String(child['#text']);
    else {
      const sub = toElement(child);
      if (sub) element.children.push(sub);
    }
  }
  element.text = element.text.trim();
  return element;
}

/** Reads one file: null when it does not exist; a problem (and no element) when it is not well-formed XML. */
export function readXmlFile(file: string): { root: XmlElement } | { problem: string } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { problem: `cannot read: ${(error as Error).message}` };
  }
  let root: XmlElement | undefined;
  try {
    const { parser, validator } = xmlParser();
    const valid = validator.validate(text);
    if (valid !== true) return { problem: `not well-formed XML (line ${valid.err.line}: ${valid.err.msg}); file ignored` };
    root = (parser.parse(text) as OrderedNode[]).map(toElement).find((e): e is XmlElement => e !== null);
  } catch (error) {
    // fast-xml-parser throws past its nesting limit ("Maximum nested tags exceeded"), toElement could
    // overflow the stack: callers (every connect's app lookup, the check command) expect a problem.
    return { problem: `cannot parse (${(error as Error).message}); file ignored` };
  }
  if (!root) return { problem: 'no root element; file ignored' };
  return { root };
}

/** Sets nothing: no text, no children, no attributes. */
export function isEmpty(element: XmlElement): boolean {
  return element.text === '' && element.children.length === 0 && Object.keys(element.attrs).length === 0;
}

/** Hex with optional whitespace and `'text'` segments (UTF-8), for readable byte vectors in tests. */
export function bytes(spec: string): Buffer {
  const parts: Buffer[] = [];
  for (const token of spec.match(/'[^']*'|[0-9a-fA-F\s]+/g) ?? []) {
    if (token.startsWith("'")) parts.push(Buffer.from(token.slice(1, -1), 'utf8'));
    else parts.push(Buffer.from(token.replace(/\s+/g, ''), 'hex'));
  }
  return Buffer.concat(parts);
}

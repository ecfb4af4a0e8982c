import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type FindingKind = 'crash' | 'hang' | 'masked';

export interface Finding {
  kind: FindingKind;
  target: string;
  /** Distinct failures share nothing; repeats of one failure share a signature and only count. */
  signature: string;
  input: Buffer;
  error: string;
  file: string;
  repeats: number;
}

/** Hex shown on the console per finding; the whole input is always in the saved file. */
const HEX_SHOWN_BYTES = 4096;

/**
 * Collects crashes, hangs and masked errors from both phases, saving each distinct one (input bytes
 * plus the error text) under one temporary directory, so a run's findings can be replayed.
 */
export class Findings {
  readonly dir: string;
  readonly list: Finding[] = [];
  readonly #bySignature = new Map<string, Finding>();
  readonly counts: Record<FindingKind, number> = { crash: 0, hang: 0, masked: 0 };

  constructor(seed: number) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `fms-fuzz-${seed}-`));
  }

  add(kind: FindingKind, target: string, signature: string, input: Buffer | null, error: string): void {
    this.counts[kind]++;
    const known = this.#bySignature.get(signature);
    if (known) {
      known.repeats++;
      return;
    }
    const base = path.join(this.dir, `${kind}-${target}-${this.list.length + 1}`);
    const bytes = input ?? Buffer.alloc(0);
    writeFileSync(`${base}.bin`, bytes);
    writeFileSync(`${base}.txt`, `${kind} in ${target}\nsignature: ${signature}\n\n${error}\n`);
    const finding: Finding = { kind, target, signature, input: bytes, error, file: `${base}.bin`, repeats: 0 };
    this.#bySignature.set(signature, finding);
    this.list.push(finding);
  }

  /** Human-readable block for one finding: what, where saved, the error, the input hex. */
  static describe(f: Finding): string {
    const hex = f.input.subarray(0, HEX_SHOWN_BYTES).toString('hex');
    const more = f.input.length > HEX_SHOWN_BYTES ? ` … (${f.input.length} bytes in total, see the file)` : '';
    return [
      `  [${f.kind}] ${f.target}${f.repeats ? ` (+${f.repeats} more with the same signature)` : ''}`,
      `    saved: ${f.file}`,
      `    error: ${f.error.split('\n').slice(0, 8).join('\n           ')}`,
      `    input (${f.input.length} bytes): ${hex}${more}`,
    ].join('\n');
  }
}

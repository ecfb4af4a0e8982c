/** Command-line numbers of the bench scripts (parseArgs gives strings). */

/** A count option (`--repeats 3`): a positive integer, or an error naming the option. */
export function positiveInteger(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return n;
}

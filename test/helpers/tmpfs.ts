import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  dir: string;
  unmount(): void;
}

/**
 * A small tmpfs mounted on a fresh folder, to meet a full disk (ENOSPC) or a read-only folder
 * honestly (root ignores permission bits, so chmod cannot make a read-only folder for a root test
 * run). Needs CAP_SYS_ADMIN: returns the reason instead when mount is not allowed here, for the
 * test to skip with.
 */
export function mountTmpfs(sizeKb: number, readOnly = false): Tmpfs | string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fms-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k${readOnly ? ',ro' : ''}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return `cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): ${stderr || (error as Error).message}`;
  }
  return {
    dir,
    unmount: () => {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      } catch {
        // already gone
      }
    },
  };
}

/** Remounts a mounted tmpfs read-only (what a disk turning read-only under a running server looks like). */
export function remountReadOnly(fs: Tmpfs): void {
  execFileSync('mount', ['-o', 'remount,ro', fs.dir], { stdio: 'pipe' });
}

/** Skips a mocha test, keeping the reason in its title (mocha's skip() takes none). */
export function skipWith(context: Mocha.Context, reason: string): void {
  if (context.test) context.test.title += ` (skipped: ${reason})`;
  context.skip();
}

/**
 * Files a script may read but never change (fail closed): what the server runs or reads as its own
 * configuration. A script that could rename, delete or overwrite them could turn its application
 * into something else on the next hot reload — renaming main.asc used to leave a script-less app
 * that accepts every client — or lift its own limits (Application.xml sets them).
 *
 * Protected, wherever they are (app folder or a virtual directory):
 * - by name: every `.asc` / `.js` file (what FMS finds as the main script, and what load() reads
 *   by habit) and `Application.xml` / `Vhost.xml`, in any letter case;
 * - by use: every file the instance has run (main.asc and each file it load()ed, whatever its name);
 * - a folder that holds one of the files by use (renaming or removing it would take them along).
 * Protected means: not opened for writing, not created, removed, renamed (from or to), and not a
 * copyTo destination. Reading and listing stay allowed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { relativeInside } from '../common/path-containment.ts';

const SCRIPT_NAME = /\.(asc|js)$/i;
const SERVER_CONFIG_FILES = new Set(['application.xml', 'vhost.xml']);

export class ScriptFileGuard {
  /** Absolute paths of the files the instance has run (ScriptLoader.filesRead). */
  readonly #filesRun: () => readonly string[];

  constructor(filesRun: () => readonly string[] = () => []) {
    this.#filesRun = filesRun;
  }

  /** Why the file at `native` (a real path) may not be changed, or null when it may. */
  fileReason(native: string): string | null {
    const base = path.basename(native);
    if (SERVER_CONFIG_FILES.has(base.toLowerCase())) return `${base} is server configuration, read-only to scripts`;
    if (SCRIPT_NAME.test(base)) return `${base} is a script file, read-only to scripts`;
    if (this.#runFiles().includes(native)) return `${base} is a script the application runs, read-only to scripts`;
    return null;
  }

  /** Why the folder at `native` may not be removed or renamed (it holds a file the instance runs), or null. */
  folderReason(native: string): string | null {
    const held = this.#runFiles().find((file) => {
      const relative = relativeInside(native, file);
      return relative !== null && relative !== '';
    });
    return held === undefined ? null : `the folder holds ${path.basename(held)}, a script the application runs`;
  }

  /** Real paths of the files run (symlinks resolved, as ScriptPaths resolves what a script names). */
  #runFiles(): string[] {
    return this.#filesRun().map((file) => {
      try {
        return fs.realpathSync(file);
      } catch {
        return file; // gone: its old path still names it
      }
    });
  }
}

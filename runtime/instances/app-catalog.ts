import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AppSettings } from './application-xml.ts';

export interface AppDefinition {
  name: string;
  dir: string;
  /** The main script found the FMS way, or null for a script-less app (accepts everyone). */
  scriptPath: string | null;
  /**
   * The app had a script since this server started and it is gone now (deleted or renamed): it is
   * NOT a script-less app. Loaded instances keep their last good version; new connects are refused.
   */
  scriptMissing?: boolean;
  /** From Application.xml (and the server defaults) when the catalog was given a reader. */
  settings?: AppSettings;
}

/** Application names are folder names; anything that could walk the file system is refused. */
const APP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * The applications/ folder: one sub-folder per application (FMS layout). Looked up on every new
 * instance so apps added while running work without a restart.
 *
 * Fail closed: an app seen with a script is never taken for a script-less app (which accepts
 * everyone) while the server runs, even when its script disappears; only a restart makes it one.
 */
export class AppCatalog {
  readonly appsDir: string;
  readonly #findScript: (appDir: string, appName: string) => string | null;
  readonly #readSettings: ((appDir: string) => AppSettings) | undefined;
  /** Apps found with a script since start (bounded by the app folders that exist). */
  readonly #scripted = new Set<string>();

  constructor(appsDir: string, findScript: (appDir: string, appName: string) => string | null, readSettings?: (appDir: string) => AppSettings) {
    this.appsDir = path.resolve(appsDir);
    this.#findScript = findScript;
    this.#readSettings = readSettings;
  }

  lookup(appName: string): AppDefinition | null {
    if (!APP_NAME.test(appName)) return null;
    const dir = path.join(this.appsDir, appName);
    try {
      if (!statSync(dir).isDirectory()) return null;
    } catch {
      return null; // no such folder: InvalidApp
    }
    const def: AppDefinition = { name: appName, dir, scriptPath: this.#findScript(dir, appName) };
    if (def.scriptPath !== null) this.#scripted.add(appName);
    else if (this.#scripted.has(appName)) def.scriptMissing = true;
    if (this.#readSettings) def.settings = this.#readSettings(dir);
    return def;
  }

  list(): string[] {
    if (!existsSync(this.appsDir)) return [];
    return readdirSync(this.appsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && APP_NAME.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  }
}

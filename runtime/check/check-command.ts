/**
 * `npm run check -- <app folder>...` / `npm start -- check <app folder>...`: before running
 * anything, which FMS API members an application's scripts use and how well each is supported.
 *
 * Scanned: the main script found the FMS way, the files it load()s with literal names (resolved
 * as the runtime would: script folder, app folder, Application.xml ScriptLibPath), transitively,
 * then every other .asc in the app folder (scripts may load names computed at run time).
 * Exit codes: 0 nothing unsupported, 1 something unsupported is used, 2 usage error.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG } from '../config.ts';
import { loadAppSettings } from '../instances/application-xml.ts';
import { BUILTIN_SCRIPTLIB_DIR, decodeScript, findAppScript, ScriptLoader } from '../sandbox/script-loader.ts';
import { relativeInside } from '../common/path-containment.ts';
import { servedProtocols } from './served-protocols.ts';
import { summarize, toJson, toTable, type AppCheck } from './report.ts';
import { literalLoads, parseScript, scanScripts, type Finding, type ParsedScript } from './scanner.ts';

export const CHECK_USAGE = `Usage: npm run check -- [--json] <app folder>...
       npm start -- check [--json] <app folder>...
  Lists every FMS API member the app's scripts use, with its support tier (supported, partial,
  unsupported) and file:line, and flags patterns that behave differently here. A folder without a
  script of its own whose sub-folders are apps (an applications folder) checks each of them.
  --json   machine-readable output
  Exit code: 0 nothing unsupported, 1 something unsupported is used, 2 usage error.`;

/**
 * What else FMS's script library held, which apps load() but this runtime does not ship: each gets
 * a row that says what it was and where to put a copy of it.
 */
const FMS_SCRIPTLIB: { name: RegExp; what: string }[] = [
  { name: /^(components|framework|facade|application)\.asc$|^components\//i, what: "FMS's communication components framework (components.asc, framework.asc, components/*.asc)" },
  { name: /^webservices\//i, what: "FMS's WebServices library (webservices/*.asc; the WebService class is a stub here)" },
];

/** Folders that hold data, not code (as in the hot-reload watcher). */
const DATA_FOLDERS = new Set(['streams', 'sharedobjects', 'node_modules']);
const MAX_DEPTH = 4;

export function checkApp(appDir: string, shownAs = appDir): AppCheck {
  const dir = path.resolve(appDir);
  const { settings, issues } = loadAppSettings(path.dirname(dir), dir, { ...DEFAULT_CONFIG.scripts, hls: DEFAULT_CONFIG.hls });
  const main = findAppScript(dir, path.basename(dir));
  if (main === null) return { app: shownAs, files: [], findings: [], applicationXml: issues };
  const loader = new ScriptLoader({ appDir: dir, scriptPath: main, scriptLibPaths: settings.libPaths });
  const display = (file: string) => {
    const relative = path.relative(dir, file);
    return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative.split(path.sep).join('/');
  };
  const parsed = new Map<string, ParsedScript>();
  const extra: Finding[] = [];
  const visit = (file: string) => {
    if (parsed.has(file)) return;
    const script = parseScript({ name: display(file), source: decodeScript(readFileSync(file)).text });
    parsed.set(file, script);
    for (const load of literalLoads(script)) {
      const where = { kind: 'pattern' as const, file: script.file.name, line: load.line };
      let target: string;
      try {
        target = loader.resolve(load.name);
      } catch {
        const fms = FMS_SCRIPTLIB.find((lib) => lib.name.test(load.name.replace(/\\/g, '/')));
        const note = fms
          ? `${fms.what} is not shipped with this runtime: copy it from an FMS installation's scriptlib folder into the app folder or a scripts.libPaths folder, or the instance fails to start`
          : 'file not found in the app folder or ScriptLibPath: the instance would fail to start';
        extra.push({ ...where, name: `load("${load.name}")`, tier: 'unsupported', note });
        continue;
      }
      // The runtime's own script library (netservices.asc): provided, not the app's code to scan.
      if (relativeInside(BUILTIN_SCRIPTLIB_DIR, target) !== null) {
        extra.push({ ...where, name: `${load.name} (provided by the runtime)`, tier: 'supported', note: 'Flash Remoting library of FMS\'s script library, shipped in host-api/scriptlib/' });
        continue;
      }
      visit(target);
    }
  };
  visit(main);
  for (const file of ascFiles(dir)) visit(file);
  const scripts = [...parsed.values()];
  const findings = [...scanScripts(scripts, { protocols: servedProtocols(DEFAULT_CONFIG) }), ...extra];
  return { app: shownAs, files: scripts.map((s) => s.file.name), findings, applicationXml: issues };
}

function ascFiles(dir: string, depth = 0): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && depth < MAX_DEPTH && !DATA_FOLDERS.has(entry.name)) found.push(...ascFiles(full, depth + 1));
    else if (entry.isFile() && /\.asc$/i.test(entry.name)) found.push(full);
  }
  return found;
}

/**
 * An app folder as given, or — for a folder with no script of its own whose sub-folders have
 * scripts (`applications/`) — each of those apps, so a whole server can be checked at once.
 */
function appFolders(full: string, shown: string): [string, string][] {
  if (findAppScript(full, path.basename(full)) !== null || ascFiles(full).length === 0) return [[full, shown]];
  const apps = readdirSync(full, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !DATA_FOLDERS.has(e.name))
    .map((e): [string, string] => [path.join(full, e.name), path.join(shown, e.name)])
    .sort((a, b) => a[1].localeCompare(b[1]));
  // Script-less apps (like the stock live app) are listed too, once the folder is known to hold apps.
  return apps.some(([dir]) => findAppScript(dir, path.basename(dir)) !== null) ? apps : [[full, shown]];
}

export interface CheckIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs the command; returns the exit code. */
export function runCheck(argv: string[], io: CheckIo, cwd = process.cwd()): number {
  let json = false;
  const dirs: string[] = [];
  const problems: string[] = [];
  for (const arg of argv) {
    if (arg === '--json') json = true;
    else if (arg === '--help' || arg === '-h') {
      io.out(`${CHECK_USAGE}\n`);
      return 0;
    } else if (arg.startsWith('-')) problems.push(`${arg}: unknown option`);
    else dirs.push(arg);
  }
  if (dirs.length === 0) problems.push('no application folder given');
  for (const dir of dirs) {
    const full = path.resolve(cwd, dir);
    if (!existsSync(full) || !statSync(full).isDirectory()) problems.push(`${dir}: not a folder`);
  }
  if (problems.length > 0) {
    io.err(`fms-runtime check: ${problems.join('; ')}\n\n${CHECK_USAGE}\n`);
    return 2;
  }
  const apps = dirs.flatMap((dir) => appFolders(path.resolve(cwd, dir), dir)).map(([full, shown]) => summarize(checkApp(full, shown)));
  io.out(json ? toJson(apps) : toTable(apps));
  return apps.every((a) => a.ok) ? 0 : 1;
}

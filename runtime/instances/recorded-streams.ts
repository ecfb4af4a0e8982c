import { existsSync } from 'node:fs';
import path from 'node:path';
import { lastFlvTimestamp } from '../media/flv-file.ts';
import { resolveStreamFile, resolveVirtualStreamFile } from '../media/stream-files.ts';
import type { AppDefinition } from './app-catalog.ts';

/** FMS layout: recorded streams live in <app>/streams/<instance>/<name>.flv, unless Application.xml maps the name elsewhere. */
export function recordedFileOf(def: AppDefinition, instanceName: string, name: string): string | null {
  const mapped = resolveVirtualStreamFile(def.settings?.streamDirs ?? [], name);
  if (mapped !== undefined) return mapped;
  return resolveStreamFile(path.join(def.dir, 'streams'), instanceName, name);
}

/** Stream.length semantics: duration in seconds of a recorded file, 0 when there is none. */
export function recordedLengthSec(file: string | null): number {
  if (!file || !existsSync(file)) return 0;
  return lastFlvTimestamp(file) / 1000;
}

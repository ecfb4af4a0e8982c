import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { errorFields, removeStaleTempFiles } from './shared-object-files.ts';

/**
 * Start-up check of the folders persistent shared objects are written to (`<dataDir>/sharedobjects`
 * with --data, else each app's `sharedobjects` folder): one warning naming a folder that cannot be
 * written — nor created, when it does not exist yet (a read-only mount, no permission) — because every
 * so.flush() would answer false there, and the operator should know before the first client does.
 * Nothing is created here (FMS creates the folders on first use). Temp files a killed process left
 * behind are removed (one info line). Never throws: the server serves without persistence rather
 * than not at all.
 */
export function checkSharedObjectFolders(folders: readonly string[], log: Logger): void {
  for (const folder of folders) {
    const existing = nearestExisting(folder);
    try {
      // access(2) answers EROFS for a read-only mount even to root, whom permission bits do not stop.
      fs.accessSync(existing, fs.constants.W_OK);
    } catch (error) {
      const what = existing === folder ? 'is not writable' : `cannot be created (${existing} is not writable)`;
      log.warn({ code: ErrorCode.DataDirUnwritable, dir: folder, err: errorFields(error) }, `shared object folder ${folder} ${what}: persistent shared objects will not be saved`);
      continue;
    }
    if (existing !== folder) continue;
    const removed = removeStaleTempFiles(folder, log);
    if (removed > 0) log.info({ dir: folder, removed }, 'temp files of an interrupted shared object write removed');
  }
}

function nearestExisting(folder: string): string {
  let current = folder;
  while (!fs.existsSync(current)) {
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

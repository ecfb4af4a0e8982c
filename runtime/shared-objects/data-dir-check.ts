import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { errorFields, removeStaleTempFiles } from './shared-object-files.ts';

/**
 * Start-up check of the persistent shared-object folder (sharedObjects.dataDir): created when
 * missing; one warning naming it when it cannot be created or written (read-only mount, no
 * permission) — every so.flush() would answer false then, and the operator should know before the
 * first client does. Temp files a killed process left behind are removed here (one info line).
 * Never throws: the server serves without persistence rather than not at all.
 */
export function checkDataDir(dataDir: string, log: Logger): void {
  let created = false;
  try {
    created = fs.mkdirSync(dataDir, { recursive: true }) !== undefined;
  } catch (error) {
    log.warn({ code: ErrorCode.DataDirUnwritable, dir: dataDir, err: errorFields(error) }, `shared object folder ${dataDir} cannot be created: persistent shared objects will not be saved`);
    return;
  }
  const probe = path.join(dataDir, `.write-check-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
  } catch (error) {
    log.warn({ code: ErrorCode.DataDirUnwritable, dir: dataDir, err: errorFields(error) }, `shared object folder ${dataDir} is not writable: persistent shared objects will not be saved`);
    return;
  }
  if (created) log.info({ dir: dataDir }, 'shared object folder created');
  const removed = removeStaleTempFiles(dataDir, log);
  if (removed > 0) log.info({ dir: dataDir, removed }, 'temp files of an interrupted shared object write removed');
}

/**
 * Folder work for script File calls, done asynchronously in small steps: the event loop that
 * moves media never runs more than a batch of entries at a time (Node's own fs.promises.rm queues
 * a request per entry of a folder in one go: a 13,000-entry folder stalled the loop 350–440 ms on
 * these machines). Each step checks `signal`: when the script's wait ends (scripts.ioWaitMs) the
 * work stops there, so no call leaves work running after it answered.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';

/** Entries read, and unlinked at once, per step (what opendir reads ahead anyway). */
const BATCH = 32;

/** Names in a folder, in directory order; null when it holds more than `max` (stops reading at max + 1). */
export async function folderNames(dir: string, max: number, signal: AbortSignal): Promise<string[] | null> {
  const names: string[] = [];
  const handle = await fsp.opendir(dir, { bufferSize: BATCH });
  try {
    for (let entry = await handle.read(); entry !== null; entry = await handle.read()) {
      signal.throwIfAborted();
      if (names.length === max) return null;
      names.push(entry.name);
    }
  } finally {
    await handle.close().catch(() => undefined); // closed already when reading ended
  }
  return names;
}

/**
 * Removes a folder and everything in it, depth first, a batch of entries at a time. Symlinks are
 * removed, never followed. Rejects when a step fails or `signal` aborts (what is removed stays removed).
 */
export async function removeTree(dir: string, signal: AbortSignal): Promise<void> {
  const handle = await fsp.opendir(dir, { bufferSize: BATCH });
  try {
    for (;;) {
      const files: string[] = [];
      const folders: string[] = [];
      for (let i = 0; i < BATCH; i++) {
        const entry = await handle.read();
        if (entry === null) break;
        (entry.isDirectory() ? folders : files).push(path.join(dir, entry.name));
      }
      if (files.length === 0 && folders.length === 0) break;
      signal.throwIfAborted();
      await Promise.all(files.map((file) => fsp.unlink(file)));
      for (const folder of folders) await removeTree(folder, signal);
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
  signal.throwIfAborted();
  await fsp.rmdir(dir);
}

/** copyFile that leaves no copy behind when the wait for it ended first (`false` means no copy). */
export async function copyUnlessAborted(from: string, to: string, mode: number, signal: AbortSignal): Promise<void> {
  await fsp.copyFile(from, to, mode);
  if (signal.aborted) {
    await fsp.rm(to, { force: true });
    signal.throwIfAborted();
  }
}

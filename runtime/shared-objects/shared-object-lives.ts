/**
 * Keeps one life of a shared object from being mistaken for an earlier one.
 *
 * A client remembers the version of an SO and brings it back on its next Use (Flash's
 * so.connect(nc) after a reconnect); the store answers with a delta when that version is recent.
 * A temporary SO dies when its last user leaves (a persistent one can lose its file to
 * clearSharedObjects); if the next SO of that name counted versions from 0 again, it could reach
 * the old client's version and answer with a delta from a different life: the client would keep
 * slots that no longer exist. So every SO born empty starts above every version any SO of this
 * process has reached when it was dropped: a version from an earlier life is then always below the
 * new life's history and gets Clear and every slot.
 *
 * Process-wide rather than per name: an instance (and its store) can unload and come back between
 * two lives, and one number costs nothing. Not kept across server restarts (noted in the report).
 */
let floor = 0;

/** An SO is dropped (unloaded, or the instance closes) at `version`: later lives start above it. */
export function retireVersion(version: number): void {
  if (version + 1 > floor) floor = version + 1;
}

/** The version an SO born empty starts at: above every version of every dropped SO. */
export function firstVersion(): number {
  return floor;
}

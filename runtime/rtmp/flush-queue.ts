/**
 * One microtask per event-loop turn flushes every connection that wrote in that turn. Live fan-out
 * writes each incoming packet to every player, so one queueMicrotask (and one closure) per
 * connection per packet added up; a single shared pass does the same work. Each connection's
 * bytes keep their order (its own pending list); the order among connections never mattered.
 */
const queue: (() => void)[] = [];
/** Entries in use; the array keeps its capacity between turns (`length = 0` would drop it, and every turn would grow it again). */
let count = 0;
let scheduled = false;

/** Runs `flush` in this turn's flush pass (at the next microtask checkpoint, as before). */
export function scheduleFlush(flush: () => void): void {
  queue[count++] = flush;
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(runFlushes);
  }
}

function runFlushes(): void {
  // By index, not for-of over a copy: a flush may schedule another (a close handler that writes
  // elsewhere), which then runs in this same pass.
  for (let i = 0; i < count; i++) {
    const flush = queue[i]!;
    queue[i] = noop; // the connection may be gone by the next turn: do not keep it reachable
    try {
      flush();
    } catch (error) {
      // One connection's failure must not skip the others; surface it as its own microtask would have.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
  count = 0;
  scheduled = false;
}

function noop(): void {}

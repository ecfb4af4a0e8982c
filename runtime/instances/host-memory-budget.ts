import { ErrorCode, ScriptError } from '../errors.ts';

/** How often the held bytes are looked at besides each admit (queues and buffers grow on their own). */
const CHECK_EVERY_MS = 1000;

/**
 * Host memory is the script's memory (issue 12): what a script makes the host hold outside its
 * isolate — shared-object slots it wrote, SOs it opened, open-file buffers, timers, outbound
 * queues — is counted against scripts.hostMemoryMb. Growth the host can see coming (a shared-object
 * change) asks `admit` first; everything else is looked at every second. Over the budget the owner
 * is told once (`exceeded`), to shut the instance down the way an isolate out of memory is, and
 * nothing more is admitted.
 */
export class HostMemoryBudget {
  readonly #budgetBytes: number;
  readonly #held: () => number;
  readonly #name: string;
  readonly #exceeded: (error: ScriptError) => void;
  readonly #timer: NodeJS.Timeout;
  #over = false;

  constructor(name: string, budgetBytes: number, held: () => number, exceeded: (error: ScriptError) => void) {
    this.#name = name;
    this.#budgetBytes = budgetBytes;
    this.#held = held;
    this.#exceeded = exceeded;
    this.#timer = setInterval(() => void this.admit(0), CHECK_EVERY_MS);
    this.#timer.unref();
  }

  /** Whether `bytes` more may be held. The first refusal tells the owner (after this call returns). */
  admit(bytes: number): boolean {
    if (this.#over) return false;
    const held = this.#held();
    if (held + bytes <= this.#budgetBytes) return true;
    this.#over = true;
    this.stop();
    const error = new ScriptError(
      ErrorCode.ScriptHostMemory,
      `${this.#name}: host memory of the script over scripts.hostMemoryMb (${Math.round(this.#budgetBytes / 1048576)} MB): ${held} bytes held, ${bytes} more asked`,
    );
    // Not from inside the call that asked: the shutdown closes what is calling (a shared-object store).
    queueMicrotask(() => this.#exceeded(error));
    return false;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

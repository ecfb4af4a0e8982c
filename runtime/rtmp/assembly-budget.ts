import { ErrorCode, ProtocolError } from '../errors.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';

export interface AssemblyLimits {
  /** Bytes of partly received messages one connection may hold (rtmp.maxAssemblyBytesPerConnection). */
  maxPerConnection: number;
  /** The same across every connection of the listener (rtmp.maxAssemblyBytesTotal). */
  maxTotal: number;
}

/**
 * Memory held by messages in reassembly. The chunk decoder allocates a message's whole buffer on its
 * first chunk, so a peer could open a message on each of its chunk streams with a few bytes each and
 * make the server hold 8 MB per stream (60 of them held +475 MB). Every allocation is reserved here
 * first. Over the connection's budget, that connection is refused; over the total, the connection
 * holding the most is closed — the one asking when that is itself — so a hog cannot starve healthy
 * publishers of their budget.
 */
export class AssemblyBudget {
  readonly limits: AssemblyLimits;
  readonly #budgetLog: RateLimitedLog | null;
  readonly #accounts = new Set<AssemblyAccount>();
  #total = 0;

  constructor(limits: AssemblyLimits, budgetLog: RateLimitedLog | null = null) {
    this.limits = limits;
    this.#budgetLog = budgetLog;
  }

  get totalBytes(): number {
    return this.#total;
  }

  /** An account for one connection; `evict` closes that connection (it must call account.close()). */
  open(evict: (error: ProtocolError) => void): AssemblyAccount {
    const account = new AssemblyAccount(this, evict);
    this.#accounts.add(account);
    return account;
  }

  /** @internal AssemblyAccount only. */
  reserve(account: AssemblyAccount, bytes: number): void {
    const { maxPerConnection, maxTotal } = this.limits;
    if (account.held + bytes > maxPerConnection) {
      this.#refused('rtmp.maxAssemblyBytesPerConnection', account.held + bytes);
      throw new ProtocolError(ErrorCode.AssemblyBudget, `messages in reassembly would hold ${account.held + bytes} bytes, over the ${maxPerConnection}-byte budget of a connection`);
    }
    while (this.#total + bytes > maxTotal) {
      const victim = this.#largest();
      this.#refused('rtmp.maxAssemblyBytesTotal', this.#total + bytes);
      if (victim === null || victim === account || victim.held <= account.held + bytes) {
        throw new ProtocolError(ErrorCode.AssemblyBudget, `messages in reassembly on all connections would hold over ${maxTotal} bytes; this connection holds the most`);
      }
      const freed = victim.held;
      victim.evicted(new ProtocolError(ErrorCode.AssemblyBudget, `closed to free ${freed} bytes of messages in reassembly (${maxTotal}-byte total budget)`));
      if (victim.held > 0) victim.close(); // the owner did not close it: free its bytes anyway
    }
    this.#total += bytes;
  }

  #refused(key: string, wanted: number): void {
    this.#budgetLog?.exceeded(key, { code: ErrorCode.AssemblyBudget, wanted, totalBytes: this.#total }, 'message reassembly over budget: a connection is closed');
  }

  /** @internal AssemblyAccount only. */
  release(bytes: number): void {
    this.#total -= bytes;
  }

  /** @internal AssemblyAccount only. */
  forget(account: AssemblyAccount): void {
    this.#accounts.delete(account);
  }

  #largest(): AssemblyAccount | null {
    let largest: AssemblyAccount | null = null;
    for (const account of this.#accounts) if (largest === null || account.held > largest.held) largest = account;
    return largest;
  }
}

/** One connection's share of an AssemblyBudget. */
export class AssemblyAccount {
  readonly #budget: AssemblyBudget;
  readonly #evict: (error: ProtocolError) => void;
  held = 0;
  #closed = false;

  constructor(budget: AssemblyBudget, evict: (error: ProtocolError) => void) {
    this.#budget = budget;
    this.#evict = evict;
  }

  /** Before allocating `bytes` for a message: throws a ProtocolError when the budget says no. */
  reserve(bytes: number): void {
    if (this.#closed) throw new ProtocolError(ErrorCode.AssemblyBudget, 'connection already closed');
    this.#budget.reserve(this, bytes);
    this.held += bytes;
  }

  /** A message completed or was aborted. */
  release(bytes: number): void {
    const freed = Math.min(bytes, this.held);
    this.held -= freed;
    this.#budget.release(freed);
  }

  /** @internal AssemblyBudget only. */
  evicted(error: ProtocolError): void {
    this.#evict(error);
  }

  /** The connection ended: everything it held is free. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.release(this.held);
    this.#budget.forget(this);
  }
}

import { ACCESS_FIELDS, type AccessField } from '../../host-api/protocol.ts';
import type { ClientSession } from '../sessions/client-session.ts';

/**
 * Clients a hot reload carried over whose onConnect in the new generation has not decided yet, with
 * the access fields (readAccess…) its script has set so far. Until it decides, the limits the old
 * script set stay enforced; then the fields it did not set fall back to the defaults a new Client
 * starts with.
 */
export class CarriedAccess {
  readonly #written = new Map<string, Set<AccessField>>();
  readonly #defaults: () => Record<AccessField, string>;

  /** `defaults`: the access a new Client of the instance starts with (FMS, then Application.xml). */
  constructor(defaults: () => Record<AccessField, string>) {
    this.#defaults = defaults;
  }

  /** A connected client the new script's onConnect is asked about again. */
  carry(clientId: string): void {
    this.#written.set(clientId, new Set());
  }

  has(clientId: string): boolean {
    return this.#written.has(clientId);
  }

  /** The new script set `field` of a carried client: it stays when the client is accepted. */
  wrote(clientId: string, field: AccessField): void {
    this.#written.get(clientId)?.add(field);
  }

  /** The new script accepted it: access fields it left alone get their defaults. */
  accepted(session: ClientSession): void {
    const written = this.#written.get(session.id);
    if (!written) return;
    this.#written.delete(session.id);
    const defaults = this.#defaults();
    for (const field of ACCESS_FIELDS) if (!written.has(field)) session.info[field] = defaults[field];
  }

  /** Rejected, or gone: true when it was a carried client. */
  forget(clientId: string): boolean {
    return this.#written.delete(clientId);
  }
}

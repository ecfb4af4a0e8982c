import { BandwidthLimiter } from '../media/bandwidth-limiter.ts';
import { FMS_DEFAULT_BANDWIDTH_BYTES, type BandwidthSettings } from './bandwidth-settings.ts';

/**
 * One client's bandwidth limits, bytes/s (0 = none), and their caps: Application.xml Client/Bandwidth
 * and BandwidthCap, then client.setBandwidthLimit. Server→client is enforced by a token bucket every
 * play of the client shares; client→server is announced to the client (Set Peer Bandwidth).
 */
export class ClientBandwidth {
  #settings: BandwidthSettings = { serverToClient: 0, clientToServer: 0, serverToClientCap: 0, clientToServerCap: 0 };
  /** The token bucket every play of this client shares; null while no server→client limit is in force. */
  #limiter: BandwidthLimiter | null = null;

  /** The instance's defaults, before the script's onConnect sees the client. */
  setDefaults(settings: BandwidthSettings): void {
    this.#settings = { ...settings };
    this.#applyServerToClient();
  }

  /**
   * client.setBandwidthLimit(serverToClient, clientToServer): 0 (or less) leaves that direction as
   * it is; a value above the cap gets the cap. True when the client→server limit changed (to announce).
   */
  setLimit(serverToClient: number, clientToServer: number): boolean {
    const capped = (value: number, cap: number) => (cap > 0 ? Math.min(value, cap) : value);
    if (serverToClient > 0) {
      this.#settings.serverToClient = capped(serverToClient, this.#settings.serverToClientCap);
      this.#applyServerToClient();
    }
    if (clientToServer <= 0) return false;
    this.#settings.clientToServer = capped(clientToServer, this.#settings.clientToServerCap);
    return true;
  }

  /** client.getBandwidthLimit(direction): 0 → client-to-server, 1 → server-to-client; FMS's default when none is in force. */
  limit(direction: 0 | 1): number {
    const limit = direction === 1 ? this.#settings.serverToClient : this.#settings.clientToServer;
    return limit > 0 ? limit : FMS_DEFAULT_BANDWIDTH_BYTES;
  }

  /** The client→server limit to announce (Set Peer Bandwidth), 0 when none. */
  get clientToServer(): number {
    return this.#settings.clientToServer;
  }

  /** The limiter every play's queue uses. */
  get limiter(): BandwidthLimiter | null {
    return this.#limiter;
  }

  #applyServerToClient(): void {
    const rate = this.#settings.serverToClient;
    if (rate <= 0) this.#limiter = null;
    else if (this.#limiter) this.#limiter.bytesPerSec = rate;
    else this.#limiter = new BandwidthLimiter(rate);
  }
}

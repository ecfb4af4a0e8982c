/**
 * Per-client bandwidth, bytes/s, 0 = none: the defaults every client starts with (Application.xml
 * Client/Bandwidth) and the caps client.setBandwidthLimit cannot exceed (Client/BandwidthCap).
 */
export interface BandwidthSettings {
  serverToClient: number;
  clientToServer: number;
  serverToClientCap: number;
  clientToServerCap: number;
}

export const NO_BANDWIDTH_LIMITS: BandwidthSettings = { serverToClient: 0, clientToServer: 0, serverToClientCap: 0, clientToServerCap: 0 };

/**
 * What client.getBandwidthLimit reports when no limit is in force: FMS's own default (its stock
 * Application.xml sets 1,250,000 bytes/s both ways), which scripts that pick quality tiers from it
 * expect — here that client is simply not limited.
 */
export const FMS_DEFAULT_BANDWIDTH_BYTES = 1_250_000;

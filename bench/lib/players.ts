/**
 * Load generator child: RTMP players built on our own client (NetConnection + NetStream). It runs
 * in its own process so its CPU is not charged to the server. Driven over IPC by load-generator.ts:
 *   grow {url, stream, count, mode} → {connected, failed}   reset → {}   report → {frames[], bytes[], elapsedMs}
 *   stall {url, stream} → {localPort}  (a player that stops reading after its first media message)
 * Two kinds of player (`mode`):
 *   decode  every message is reassembled and decoded by our client, and counted (frames);
 *   count   after the first media message the socket's bytes are only counted (no RTMP decoding),
 *           several times cheaper per player: hundreds of them fit on the tools CPU without falling
 *           behind, which decoding players do not (a player that falls behind makes the server drop
 *           or buffer, and changes the server's CPU figure). frames stay 0; bytes tell the rate.
 */
import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { PlayerReply, PlayerRequest } from './load-generator.ts';

const PLAY_TIMEOUT_MS = 15_000;
/** Connections opened at once while growing (a burst of hundreds would only measure the accept queue). */
const CONNECT_CONCURRENCY = 25;

class Player {
  frames = 0;
  /** Bytes received since the last reset (count mode: counted here; decode mode: from the connection). */
  bytes = 0;
  #bytesAtReset = 0;
  #counting = false;
  readonly nc: NetConnection;

  constructor(ca?: string) {
    this.nc = new NetConnection({ connectTimeoutMs: PLAY_TIMEOUT_MS, ...(ca ? { ca: [ca] } : {}) });
  }

  reset(): void {
    this.frames = 0;
    if (this.#counting) this.bytes = 0;
    else this.#bytesAtReset = this.nc.connection?.bytesIn ?? 0;
  }

  get bytesSinceReset(): number {
    return this.#counting ? this.bytes : (this.nc.connection?.bytesIn ?? 0) - this.#bytesAtReset;
  }

  /**
   * count mode: from now on the socket's bytes are counted, not decoded (the RTMP connection no
   * longer hears them; the server never waits for acknowledgements, so nothing else is needed).
   */
  countOnly(): void {
    const socket = this.nc.connection!.socket;
    socket.removeAllListeners('data');
    this.#counting = true;
    this.bytes = 0;
    socket.on('data', (data: Buffer) => {
      this.bytes += data.length;
    });
  }

  /** Resolves once the first audio/video message arrives; `onFirst` runs at that moment. */
  async start(url: string, stream: string, onFirst?: () => void): Promise<void> {
    await this.nc.connect(url);
    const ns = await this.nc.createStream();
    const connection = this.nc.connection!;
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no media within the play timeout')), PLAY_TIMEOUT_MS);
      // Counted at the connection, not the NetStream: node-media-server sends media on message
      // stream id 0 whatever createStream returned, and NetStream filters by its own id.
      connection.on('media', () => {
        if (this.frames++ === 0) {
          clearTimeout(timer);
          onFirst?.();
          resolve();
        }
      });
      this.nc.once('close', (reason) => reject(new Error(`closed before media: ${reason}`)));
    });
    ns.play(stream);
    await first;
  }
}

const players: Player[] = [];
let failed = 0;
let resetAt = Date.now();

async function grow(url: string, stream: string, count: number, mode: 'decode' | 'count', ca?: string): Promise<PlayerReply> {
  const wanted = count - players.length - failed;
  let next = 0;
  const worker = async () => {
    while (next < wanted) {
      next++;
      const player = new Player(ca);
      try {
        await player.start(url, stream);
        if (mode === 'count') player.countOnly();
        players.push(player);
      } catch {
        failed++; // reported to the parent, which prints it next to the figures
        player.nc.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, Math.max(0, wanted)) }, worker));
  return { type: 'grown', connected: players.length, failed };
}

async function handle(request: PlayerRequest): Promise<PlayerReply> {
  switch (request.cmd) {
    case 'grow':
      return grow(request.url, request.stream, request.count, request.mode ?? 'decode', request.ca);
    case 'reset':
      for (const p of players) p.reset();
      resetAt = Date.now();
      return { type: 'reset' };
    case 'report':
      return { type: 'report', frames: players.map((p) => p.frames), bytes: players.map((p) => p.bytesSinceReset), elapsedMs: Date.now() - resetAt };
    case 'stall': {
      const player = new Player();
      await player.start(request.url, request.stream, () => player.nc.connection!.socket.pause());
      return { type: 'stalled', localPort: player.nc.connection!.socket.localPort ?? 0 };
    }
  }
}

process.on('message', (request: PlayerRequest) => {
  handle(request).then(
    (reply) => process.send?.(reply),
    (error: unknown) => process.send?.({ type: 'error', message: (error as Error).message } satisfies PlayerReply),
  );
});
process.on('disconnect', () => process.exit(0));

/**
 * Sandbox bench part (d): inter-arrival gaps of a healthy 25 fps stream's video at a player, with
 * and without another instance spinning in `while(true){}` (each spin lasts scripts.handlerTimeoutMs,
 * then the instance is poisoned and unloaded, and the next connect starts a new one). Server,
 * publisher and player share one process: a stall of its event loop shows up as a gap.
 */
import { performance } from 'node:perf_hooks';
import { ConnectError, NetConnection } from '../../runtime/client/net-connection.ts';
import { APPS, startInProcessServer } from './bench-apps.ts';
import { PacedPublisher } from './paced-publisher.ts';
import { TimedPlayer } from './timed-player.ts';

export const SPIN_TIMEOUT_MS = 2000;
const SETTLE_MS = 1000;

export interface JitterRun {
  gapsMs: number[];
  /** Spinning connects that ended (rejected after the handler timeout) during the window. */
  spins: number;
  publisherMaxLateMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Connects to the spinner app over and over until stopped; each connect holds an isolate thread busy. */
function spinLoad(url: string): { stop: () => Promise<number> } {
  let running = true;
  let spins = 0;
  const loop = (async () => {
    while (running) {
      const nc = new NetConnection({ connectTimeoutMs: SPIN_TIMEOUT_MS * 5 });
      const started = performance.now();
      try {
        await nc.connect(url);
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
      }
      if (performance.now() - started >= SPIN_TIMEOUT_MS * 0.9) spins++;
      nc.close();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop; // the spin in flight ends at its timeout
      return spins;
    },
  };
}

export async function measureJitter(appsDir: string, file: string, windowMs: number, withSpin: boolean): Promise<JitterRun> {
  const srv = await startInProcessServer(appsDir, { scripts: { handlerTimeoutMs: SPIN_TIMEOUT_MS } });
  const publisher = new PacedPublisher(file);
  const player = new TimedPlayer();
  let load: ReturnType<typeof spinLoad> | null = null;
  try {
    await publisher.start(srv.url(`${APPS.scripted}/a`), 'cam');
    await player.start(srv.url(`${APPS.scripted}/a`), 'cam');
    await sleep(SETTLE_MS);
    if (withSpin) load = spinLoad(srv.url(`${APPS.spinner}/b`));
    player.recording = true;
    publisher.maxLateMs = 0; // only lateness inside the window counts
    await sleep(windowMs);
    player.recording = false;
    const spins = load ? await load.stop() : 0;
    load = null;
    const times = player.arrivals.map((a) => a.atMs);
    return { gapsMs: times.slice(1).map((t, i) => t - times[i]!), spins, publisherMaxLateMs: publisher.maxLateMs };
  } finally {
    await load?.stop();
    player.close();
    await publisher.stop();
    await srv.close();
  }
}

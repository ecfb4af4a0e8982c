/**
 * Media-path CPU micro-benchmark: a fixed workload replayed as fast as the servers take it, so the
 * figure is server CPU per message (from /proc, utime + stime) rather than CPU per second of a paced
 * stream — far less sensitive to the other processes sharing the machine than bench:relay/fanout.
 *
 *   npm run bench:media-path -- [--players 1] [--messages 100000] [--warmup 20000] [--batch 64] [--repeats 5]
 *
 * Server A runs the relayer fixture app (as bench:relay does), B a script-less app. One publisher
 * (our NetConnection) sends the audio/video tags of the 2.5 Mbit/s test FLV, looped with continuous
 * timestamps, in lockstep batches: a batch goes out, then the bench waits until every player on A
 * (--players of them) and the player on B have received all of it — so no queue ever drops and every
 * run does exactly the same work. The first --warmup messages warm the JIT and are not measured.
 * Prints, per repeat and as medians: A's and B's CPU µs per published message, and A's scavenges per
 * 1000 messages (A runs with a 1 MB young generation so they are frequent enough to count): an
 * allocation figure that, unlike CPU on a shared machine, does not move with the load.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { NetConnection } from '../runtime/client/net-connection.ts';
import type { NetStream } from '../runtime/client/net-stream.ts';
import { readFlvTags } from '../runtime/media/flv-file.ts';
import { MessageType } from '../runtime/rtmp/message.ts';
import { testFlv } from '../test/helpers/media-tools.ts';
import { fmt } from './lib/percentiles.ts';
import { cpuMs, median } from './lib/proc-stats.ts';
import { GC_COUNTER, gcCounts } from './lib/gc-counts.ts';
import { startRelayPair, type RelayPair } from './lib/relay-servers.ts';
import { ensureBuilt } from './lib/servers.ts';

const STREAM = 'bench';
/** A batch not fully delivered within this long means messages were lost: the run is invalid. */
const BATCH_TIMEOUT_MS = 10_000;

function options() {
  const { values } = parseArgs({
    options: {
      players: { type: 'string', default: '1' },
      messages: { type: 'string', default: '100000' },
      warmup: { type: 'string', default: '20000' },
      batch: { type: 'string', default: '64' },
      repeats: { type: 'string', default: '5' },
    },
    strict: true,
  });
  return {
    players: Math.max(1, Number(values.players)),
    messages: Number(values.messages),
    warmup: Number(values.warmup),
    batch: Math.max(1, Number(values.batch)),
    repeats: Math.max(1, Number(values.repeats)),
  };
}

/** A player that counts the media messages it receives. */
class CountingPlayer {
  readonly nc = new NetConnection({ connectTimeoutMs: 20_000 });
  count = 0;
  /** Called on every message (the bench re-checks its wait condition; no polling loop competes for CPU). */
  static onMessage: () => void = () => {};

  async start(url: string): Promise<void> {
    await this.nc.connect(url);
    const ns = await this.nc.createStream();
    this.nc.connection!.on('media', () => {
      this.count++;
      CountingPlayer.onMessage();
    });
    ns.play(STREAM);
  }
}

/** Audio/video tags of the test file, looped with continuous timestamps. */
class TagSource {
  readonly #tags = readFlvTags(readFileSync(testFlv(20, 2500))).filter((t) => t.type === MessageType.Audio || t.type === MessageType.Video);
  readonly #loopMs = this.#tags[this.#tags.length - 1]!.timestamp + 40;
  #index = 0;

  next(): { type: 8 | 9; timestamp: number; payload: Buffer } {
    const i = this.#index++;
    const tag = this.#tags[i % this.#tags.length]!;
    const loop = Math.floor(i / this.#tags.length);
    return { type: tag.type as 8 | 9, timestamp: (tag.timestamp + loop * this.#loopMs) >>> 0, payload: tag.payload };
  }
}

function waitFor(done: () => boolean, what: () => string): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      CountingPlayer.onMessage = () => {};
      reject(new Error(`timed out waiting for ${what()}`));
    }, BATCH_TIMEOUT_MS);
    CountingPlayer.onMessage = () => {
      if (!done()) return;
      clearTimeout(timer);
      CountingPlayer.onMessage = () => {};
      resolve();
    };
  });
}

interface Run {
  aUsPerMessage: number;
  bUsPerMessage: number;
  /** Young-generation collections of A per 1000 messages: allocation volume, independent of load. */
  aScavengesPerK: number;
}

async function run(pair: RelayPair, opts: ReturnType<typeof options>): Promise<Run> {
  const publisherNc = new NetConnection({ connectTimeoutMs: 20_000 });
  // The relayer app republishes to the URI in the publish query string (see relay-servers.ts).
  const target = pair.publishTarget(STREAM);
  await publisherNc.connect(target.url);
  const ns: NetStream = await publisherNc.createStream();
  await ns.publish(target.name);
  const source = new TagSource();
  const aPlayers = Array.from({ length: opts.players }, () => new CountingPlayer());
  await Promise.all(aPlayers.map((p) => p.start(pair.aPlayUrl(STREAM))));
  const bPlayer = new CountingPlayer();
  await bPlayer.start(pair.bPlayUrl(STREAM));
  const connection = publisherNc.connection!;

  /** Sends n messages in lockstep batches; every player must receive each batch before the next. */
  const send = async (n: number) => {
    for (let sent = 0; sent < n; ) {
      const batch = Math.min(opts.batch, n - sent);
      const aTargets = aPlayers.map((p) => p.count + batch);
      const bTarget = bPlayer.count + batch;
      for (let i = 0; i < batch; i++) {
        const tag = source.next();
        ns.sendMedia(tag.type, tag.timestamp, tag.payload);
      }
      sent += batch;
      await waitFor(() => aPlayers.every((p, i) => p.count >= aTargets[i]!) && bPlayer.count >= bTarget, () => `batch delivery (${connection.bufferedBytes} bytes queued)`);
    }
  };

  try {
    // Warm-up: the relay waits for a keyframe, so B is awaited only once it receives. Not awaiting B
    // at all let the relay's backlog pass media.playerMaxBufferedBytes (B shares A's CPU): the relay
    // then dropped up to the next keyframe, into the measured batches, which never completed.
    for (let sent = 0; sent < opts.warmup; sent += opts.batch) {
      const targets = aPlayers.map((p) => p.count + opts.batch);
      const bTarget = bPlayer.count > 0 ? bPlayer.count + opts.batch : 0;
      for (let i = 0; i < opts.batch; i++) {
        const tag = source.next();
        ns.sendMedia(tag.type, tag.timestamp, tag.payload);
      }
      await waitFor(() => aPlayers.every((p, i) => p.count >= targets[i]!) && bPlayer.count >= bTarget, () => 'warm-up delivery');
    }
    const gc0 = await gcCounts(pair.aPid);
    const a0 = cpuMs(pair.aPid);
    const b0 = cpuMs(pair.bPid);
    await send(opts.messages);
    const a1 = cpuMs(pair.aPid);
    const b1 = cpuMs(pair.bPid);
    const gc1 = await gcCounts(pair.aPid);
    return {
      aUsPerMessage: ((a1 - a0) * 1000) / opts.messages,
      bUsPerMessage: ((b1 - b0) * 1000) / opts.messages,
      aScavengesPerK: ((gc1.scavenges - gc0.scavenges) * 1000) / opts.messages,
    };
  } finally {
    for (const p of aPlayers) p.nc.close();
    bPlayer.nc.close();
    publisherNc.close();
  }
}

async function main(): Promise<void> {
  const opts = options();
  process.stdout.write(
    `bench:media-path on ${os.cpus().length} CPU(s), node ${process.version}: relayer A → B, ${opts.players} player(s) on A, 1 on B; ` +
      `${opts.messages} messages measured after ${opts.warmup} warm-up, batches of ${opts.batch}\n`,
  );
  const runs: Run[] = [];
  // A 1 MB young generation (default 16 MB) makes scavenges frequent enough to count allocation
  // per message with some resolution; both sides of an A/B comparison run with it.
  ensureBuilt();
  const pair = await startRelayPair('ours', { aNodeArgs: ['--max-semi-space-size=1', '--import', GC_COUNTER] });
  try {
    for (let r = 0; r < opts.repeats; r++) {
      const result = await run(pair, opts);
      runs.push(result);
      process.stdout.write(`  run ${r + 1}/${opts.repeats}: A ${fmt(result.aUsPerMessage, 1)} µs/msg (${fmt(result.aScavengesPerK, 2)} scavenges/1000 msg), B ${fmt(result.bUsPerMessage, 1)} µs/msg\n`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  } finally {
    await pair.stop();
  }
  process.stdout.write(
    `median: A ${fmt(median(runs.map((r) => r.aUsPerMessage)), 1)} µs/msg, ${fmt(median(runs.map((r) => r.aScavengesPerK)), 2)} scavenges/1000 msg; B ${fmt(median(runs.map((r) => r.bUsPerMessage)), 1)} µs/msg ` +
      `(CPU µs per published message; A = ingest + relay out + ${opts.players} player(s), B = relay in + 1 player)\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:media-path failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);

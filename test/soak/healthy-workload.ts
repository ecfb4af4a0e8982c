/**
 * The healthy workload of the soak: what real users do, with churn. Every unexpected failure is an
 * error (the soak's exit status): a call that fails or answers wrongly, a shared-object change that
 * does not reach a subscriber, video frames lost between a publisher and a player, a player that
 * stalls while its stream is published, a hot reload or an unload that does not complete.
 *
 * Actors (each its own loop):
 * - callers: connect to soak/_definst_, make 3–15 calls (echo, and bump: a server-side SO write), leave;
 * - shared objects: one writer and three subscribers of a persistent SO, reconnecting every minute;
 * - publishers: two streams (one relayed by the script to server B), each published 30–60 s, stopped,
 *   restarted; players: one watcher per stream on A for the whole run (and one on B for the relayed
 *   stream), plus players joining and leaving;
 * - hot reload: a new soak/main.asc every ~30 s, then a new client must see the new version;
 * - unload cycle: two clients on soak/cycle, admin unload (they get AppShutdown), reconnect.
 */
import { readFileSync } from 'node:fs';
import { NetConnection, type InfoObject } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { PacedPublisher } from '../../bench/lib/paced-publisher.ts';
import { testFlv } from '../helpers/media-tools.ts';
import { FramePlayer } from './frame-player.ts';
import { writeSoakVersion, type SoakServer } from './soak-servers.ts';
import { messageOf, randomBetween, sleep, Tally, within } from './tally.ts';

const CALLERS = 8;
const SO_SUBSCRIBERS = 3;
const CHURN_PLAYERS_PER_STREAM = 2;
const RELOAD_EVERY_MS = 30_000;
const UNLOAD_EVERY_MS = 60_000;
const OP_TIMEOUT_MS = 10_000;
/** How far behind the writer an SO subscriber may be (its view is checked against the writer's acked value this long ago). */
const SO_LAG_MS = 3000;
/** A watcher with no video for this long while its stream is published (and past its start) is stalled. */
const STALL_MS = 5000;
/** After a hot reload, the script's relay to B restarts: B's watcher may miss frames this long. */
const RELOAD_RELAY_WINDOW_MS = 15_000;

interface StreamState {
  name: string;
  query: string;
  publishingSinceMs: number | null;
}

export class HealthyWorkload {
  readonly errors: Tally;
  /** What was done (calls, frames, cycles): printed with the figures. */
  readonly done = new Tally();
  readonly #a: SoakServer;
  readonly #b: SoakServer;
  #running = true;
  readonly #loops: Promise<void>[] = [];
  readonly #frameMs: number;
  readonly #flv = testFlv();
  readonly #streams: StreamState[] = [
    { name: 'cam1', query: '', publishingSinceMs: null },
    { name: 'cam2', query: '?relay=1', publishingSinceMs: null },
  ];
  readonly #watchers: { player: FramePlayer; stream: StreamState; onB: boolean }[] = [];
  readonly #reloadsAtMs: number[] = [];
  #version = 1;

  constructor(a: SoakServer, b: SoakServer, errors: Tally) {
    this.#a = a;
    this.#b = b;
    this.errors = errors;
    const video = readFlvTags(readFileSync(this.#flv)).filter((t) => t.type === MessageType.Video);
    this.#frameMs = (video.at(-1)!.timestamp - video[0]!.timestamp) / (video.length - 1);
  }

  start(): void {
    for (let i = 0; i < CALLERS; i++) this.#spawn(() => this.#caller(i));
    this.#spawn(() => this.#sharedObjects());
    for (const stream of this.#streams) {
      this.#spawn(() => this.#publisher(stream));
      this.#spawn(() => this.#watcher(stream, false));
      for (let i = 0; i < CHURN_PLAYERS_PER_STREAM; i++) this.#spawn(() => this.#churnPlayer(stream));
    }
    this.#spawn(() => this.#watcher(this.#streams[1]!, true));
    this.#spawn(() => this.#stallCheck());
    this.#spawn(() => this.#hotReloads());
    this.#spawn(() => this.#unloadCycles());
  }

  /** Stops every actor (what is in flight then is no error) and waits for them. */
  async stop(): Promise<void> {
    this.#running = false;
    await within(Promise.all(this.#loops), 30_000, 'stopping the workload').catch((error: unknown) => this.errors.add('workload-stop', messageOf(error)));
    for (const { player, onB } of this.#watchers) {
      this.done.add(onB ? 'frames received on B' : 'frames received on A', '', player.frames);
      player.close();
    }
  }

  /** Frames lost on B's watcher right after hot reloads (the script relay restarts with its generation). */
  relayRestartFrames = 0;

  #spawn(loop: () => Promise<void>): void {
    this.#loops.push(
      loop().catch((error: unknown) => {
        if (this.#running) this.errors.add('actor-crashed', messageOf(error));
      }),
    );
  }

  /** Sleeps up to `ms`, waking early when the workload stops. */
  async #pause(ms: number): Promise<void> {
    const until = performance.now() + ms;
    while (this.#running && performance.now() < until) await sleep(Math.max(0, Math.min(250, until - performance.now())));
  }

  #fail(kind: string, error: unknown): void {
    if (this.#running) this.errors.add(kind, messageOf(error));
  }

  async #caller(index: number): Promise<void> {
    while (this.#running) {
      const nc = new NetConnection({ connectTimeoutMs: OP_TIMEOUT_MS });
      try {
        await nc.connect(this.#a.url('soak'));
        const calls = Math.floor(randomBetween(3, 16));
        for (let k = 0; k < calls && this.#running; k++) {
          const value = `${index}-${k}-${Math.random()}`;
          const answer = await within(nc.call('echo', value), OP_TIMEOUT_MS, 'echo');
          if (answer !== value) this.errors.add('call-wrong-answer', `${String(answer)} for ${value}`);
          if (k % 4 === 0) {
            const count = await within(nc.call('bump'), OP_TIMEOUT_MS, 'bump');
            if (typeof count !== 'number') this.errors.add('call-wrong-answer', `bump → ${String(count)}`);
          }
          this.done.add('calls');
          await sleep(100);
        }
      } catch (error) {
        this.#fail('call-failed', error);
      } finally {
        nc.close();
      }
      await this.#pause(randomBetween(0, 500));
    }
  }

  async #sharedObjects(): Promise<void> {
    while (this.#running) {
      const connections: NetConnection[] = [];
      try {
        const open = async () => {
          const nc = new NetConnection({ connectTimeoutMs: OP_TIMEOUT_MS });
          connections.push(nc);
          await nc.connect(this.#a.url('soak'));
          const so = SharedObject.getRemote(nc, 'room', true);
          await within(so.connect(), OP_TIMEOUT_MS, 'SO connect');
          return so;
        };
        const writer = await open();
        const subscribers = await Promise.all(Array.from({ length: SO_SUBSCRIBERS }, open));
        const acked: { value: number; atMs: number }[] = [];
        writer.on('sync', (list) => {
          for (const item of list) if (item.code === 'success' && item.name === 'counter') acked.push({ value: Number(writer.data['counter']), atMs: performance.now() });
        });
        let value = Number(writer.data['counter'] ?? 0);
        const sessionEnds = performance.now() + randomBetween(45_000, 75_000);
        while (this.#running && performance.now() < sessionEnds) {
          writer.setProperty('counter', ++value);
          this.done.add('SO changes');
          await sleep(250);
          const due = acked.filter((a) => a.atMs <= performance.now() - SO_LAG_MS).at(-1);
          if (due === undefined) continue;
          for (const [i, so] of subscribers.entries()) {
            const seen = Number(so.data['counter'] ?? 0);
            if (seen < due.value) this.errors.add('so-change-not-received', `subscriber ${i} has ${seen}, writer had ${due.value} acked ${SO_LAG_MS} ms ago`);
          }
          acked.splice(0, acked.indexOf(due));
        }
      } catch (error) {
        this.#fail('so-failed', error);
      } finally {
        for (const nc of connections) nc.close();
      }
      await this.#pause(500);
    }
  }

  async #publisher(stream: StreamState): Promise<void> {
    while (this.#running) {
      const publisher = new PacedPublisher(this.#flv);
      try {
        await within(publisher.start(this.#a.url('soak'), stream.name + stream.query), OP_TIMEOUT_MS, 'publish');
        stream.publishingSinceMs = performance.now();
        this.done.add('publish sessions');
        await this.#pause(randomBetween(30_000, 60_000));
        if (!publisher.nc.isConnected) this.#fail('publisher-disconnected', stream.name);
      } catch (error) {
        this.#fail('publish-failed', error);
      } finally {
        stream.publishingSinceMs = null;
        await publisher.stop();
      }
      await this.#pause(randomBetween(1000, 3000));
    }
  }

  /** One player for the whole run; reconnects only if its connection fails (an error). */
  async #watcher(stream: StreamState, onB: boolean): Promise<void> {
    while (this.#running) {
      const player = new FramePlayer(this.#frameMs);
      this.#watchers.push({ player, stream, onB });
      try {
        await player.play((onB ? this.#b : this.#a).url(onB ? 'live' : 'soak'), stream.name);
        while (this.#running && !player.closed) await sleep(250);
        if (player.closed && this.#running) this.errors.add('watcher-disconnected', `${stream.name}${onB ? ' on B' : ''}`);
      } catch (error) {
        this.#fail('watcher-failed', error);
      } finally {
        player.close();
        player.closed = true;
        this.#countGaps(player, onB, stream.name);
      }
      await this.#pause(1000);
    }
  }

  async #churnPlayer(stream: StreamState): Promise<void> {
    while (this.#running) {
      const player = new FramePlayer(this.#frameMs);
      try {
        await player.play(this.#a.url('soak'), stream.name);
        await this.#pause(randomBetween(5000, 20_000));
        if (player.closed && this.#running) this.errors.add('player-disconnected', stream.name);
        this.done.add('player sessions');
        this.done.add('frames received on A', '', player.frames);
      } catch (error) {
        this.#fail('player-failed', error);
      } finally {
        player.close();
        this.#countGaps(player, false, stream.name);
      }
      await this.#pause(randomBetween(500, 3000));
    }
  }

  /** Lost frames are errors, except on B right after a hot reload (the script relay restarts). */
  #countGaps(player: FramePlayer, onB: boolean, name: string): void {
    for (const gap of player.gaps.splice(0)) {
      const afterReload = this.#reloadsAtMs.some((at) => gap.atMs >= at && gap.atMs - at < RELOAD_RELAY_WINDOW_MS);
      if (onB && afterReload) this.relayRestartFrames += gap.frames;
      else this.errors.add('frames-lost', `${gap.frames} frames of ${name}${onB ? ' on B' : ''} (timestamp ${gap.fromTs} → ${gap.toTs}, ${gap.wallMs} ms apart)`, gap.frames);
    }
  }

  /** A watcher must keep getting video while its stream is published. */
  async #stallCheck(): Promise<void> {
    const reported = new Set<FramePlayer>();
    while (this.#running) {
      await sleep(1000);
      const now = performance.now();
      for (const { player, stream, onB } of this.#watchers) {
        this.#countGaps(player, onB, stream.name);
        if (player.closed || stream.publishingSinceMs === null || now - stream.publishingSinceMs < STALL_MS) continue;
        const afterReload = this.#reloadsAtMs.some((at) => now - at < RELOAD_RELAY_WINDOW_MS);
        const silentMs = now - Math.max(player.lastFrameAtMs, stream.publishingSinceMs);
        if (silentMs < STALL_MS || (onB && afterReload)) {
          reported.delete(player);
          continue;
        }
        if (reported.has(player)) continue;
        reported.add(player);
        this.errors.add('player-stalled', `${stream.name}${onB ? ' on B' : ''}: no video for ${(silentMs / 1000).toFixed(1)} s`);
      }
    }
  }

  async #hotReloads(): Promise<void> {
    while (this.#running) {
      await this.#pause(RELOAD_EVERY_MS);
      if (!this.#running) return;
      const version = ++this.#version;
      this.#reloadsAtMs.push(performance.now());
      writeSoakVersion(this.#a, version, this.#b);
      const deadline = performance.now() + 20_000;
      let seen: unknown;
      while (this.#running && performance.now() < deadline) {
        const nc = new NetConnection({ connectTimeoutMs: OP_TIMEOUT_MS });
        try {
          await nc.connect(this.#a.url('soak'));
          seen = await within(nc.call('version'), OP_TIMEOUT_MS, 'version');
        } catch (error) {
          this.#fail('call-failed', error);
        } finally {
          nc.close();
        }
        if (seen === version) break;
        await sleep(500);
      }
      if (seen === version) this.done.add('hot reloads');
      else if (this.#running) this.errors.add('hot-reload-not-seen', `version ${version}, a new client saw ${String(seen)}`);
    }
  }

  async #unloadCycles(): Promise<void> {
    await this.#pause(UNLOAD_EVERY_MS / 3);
    while (this.#running) {
      const clients: { nc: NetConnection; statuses: string[]; closed: Promise<void> }[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const nc = new NetConnection({ connectTimeoutMs: OP_TIMEOUT_MS });
          const statuses: string[] = [];
          nc.on('status', (info: InfoObject) => statuses.push(info.code));
          const closed = new Promise<void>((resolve) => nc.once('close', () => resolve()));
          clients.push({ nc, statuses, closed });
          await nc.connect(this.#a.url('soak/cycle'));
        }
        const response = await fetch(this.#a.adminUrl('/api/instances/soak/cycle/unload'), { method: 'POST', signal: AbortSignal.timeout(OP_TIMEOUT_MS) });
        if (response.status !== 200) this.errors.add('unload-failed', `HTTP ${response.status}`);
        await within(Promise.all(clients.map((c) => c.closed)), OP_TIMEOUT_MS, 'clients closed by unload');
        for (const c of clients) if (!c.statuses.includes('NetConnection.Connect.AppShutdown')) this.errors.add('unload-no-appshutdown', c.statuses.join(','));
        // Reloaded by the next connect.
        const again = new NetConnection({ connectTimeoutMs: OP_TIMEOUT_MS });
        try {
          await again.connect(this.#a.url('soak/cycle'));
          if ((await within(again.call('echo', 'back'), OP_TIMEOUT_MS, 'echo after unload')) !== 'back') this.errors.add('call-wrong-answer', 'echo after unload');
        } finally {
          again.close();
        }
        this.done.add('unload cycles');
      } catch (error) {
        this.#fail('unload-cycle-failed', error);
      } finally {
        for (const c of clients) c.nc.close();
      }
      await this.#pause(UNLOAD_EVERY_MS);
    }
  }
}

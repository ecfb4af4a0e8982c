/**
 * The server pairs bench:relay compares, each server its own process so /proc attributes CPU and
 * memory to it alone, all started the same way (servers.ts; pinned to the server CPU when the bench pins):
 * - ours: A runs test/fixtures/apps/relayer (a main.asc that republishes each stream to the URIs in
 *   the publisher's `?to=`, through server-side NetConnection/NetStream) on the compiled build; B is a
 *   script-less app `live`.
 * - nginx: A's application `live` has `push` to B's `live`, the module's native relay.
 * - nms: node-media-server A republishes every stream to B with its own push relay (nms-server.mjs --push-to).
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Pinning } from './pinning.ts';
import { REPO_ROOT, startNginx, startNms, startOurs, tempDir, type ServerKind, type StartOptions } from './servers.ts';

export type RelayKind = ServerKind;
export const RELAY_LABEL: Record<RelayKind, string> = { ours: 'fms-runtime (relayer main.asc, compiled)', nginx: 'nginx-rtmp 1.22 (push)', nms: 'node-media-server 4.4.3 (push relay)' };

export interface RelayPair {
  kind: RelayKind;
  aPid: number;
  bPid: number;
  /** Where the publisher of `stream` connects (on A), and the name it publishes. */
  publishTarget(stream: string): { url: string; name: string };
  /** NetConnection URLs a player of `stream` on A / on B connects to (then plays the stream name). */
  aPlayUrl(stream: string): string;
  bPlayUrl(stream: string): string;
  stop(): Promise<void>;
}

export interface PairOptions {
  pinning?: Pinning;
  /** ours only: node flags for server A (e.g. --cpu-prof), and more server arguments for A. */
  aNodeArgs?: string[];
  aArgs?: string[];
  /** ours only: node flags for server B (when it is ours). */
  bNodeArgs?: string[];
  /**
   * ours only: every stream in an application instance of its own on A (relayer/<stream>), so that
   * process distribution (A with --processes n) spreads them over its workers.
   */
  instancePerStream?: boolean;
  /** ours only: B is nginx-rtmp (a destination that is never the bottleneck) instead of our server. */
  nginxB?: boolean;
}

/** Both or neither: a half-started pair would outlive the bench (process.exit does not end children). */
async function both<T extends { stop(): Promise<void> }>(a: Promise<T>, b: Promise<T>): Promise<[T, T]> {
  const started = await Promise.allSettled([a, b]);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<T>).value) as [T, T];
}

async function startOursPair(dir: string, options: PairOptions): Promise<RelayPair> {
  const appsA = path.join(dir, 'a');
  const appsB = path.join(dir, 'b');
  cpSync(path.join(REPO_ROOT, 'test/fixtures/apps/relayer'), path.join(appsA, 'relayer'), { recursive: true });
  mkdirSync(path.join(appsB, 'live'), { recursive: true }); // no main.asc: accepts everyone
  const common: StartOptions = { logLevel: 'info', ...(options.pinning ? { pinning: options.pinning } : {}) };
  const startB = async () => {
    if (!options.nginxB) return startOurs(appsB, { ...common, nodeArgs: options.bNodeArgs ?? [] });
    const nginx = await startNginx(dir, [], options.pinning);
    return { pid: nginx.pid, rtmpPort: nginx.port, stop: nginx.stop };
  };
  const [a, b] = await both(startOurs(appsA, { ...common, nodeArgs: options.aNodeArgs ?? [], extraArgs: options.aArgs ?? [] }), startB());
  const destination = encodeURIComponent(`rtmp://127.0.0.1:${b.rtmpPort}/live`);
  const aApp = (stream: string) => `rtmp://127.0.0.1:${a.rtmpPort}/relayer${options.instancePerStream ? `/${stream}` : ''}`;
  return {
    kind: 'ours',
    aPid: a.pid,
    bPid: b.pid,
    publishTarget: (stream) => ({ url: aApp(stream), name: `${stream}?to=${destination}` }),
    aPlayUrl: aApp,
    bPlayUrl: () => `rtmp://127.0.0.1:${b.rtmpPort}/live`,
    stop: async () => {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

/** A started server of a pair: its pid, RTMP port and stop. */
interface PairMember {
  pid: number;
  rtmpPort: number;
  stop(): Promise<void>;
}

/** A pair whose A pushes every stream of its `live` application to B's `live` (the server's own relay). */
async function pushPair(kind: RelayKind, startB: () => Promise<PairMember>, startA: (pushTo: string) => Promise<PairMember>): Promise<RelayPair> {
  const b = await startB();
  const a = await startA(`rtmp://127.0.0.1:${b.rtmpPort}/live`).catch(async (error: unknown) => {
    await b.stop(); // would outlive the bench otherwise
    throw error;
  });
  return {
    kind,
    aPid: a.pid,
    bPid: b.pid,
    publishTarget: (stream) => ({ url: `rtmp://127.0.0.1:${a.rtmpPort}/live`, name: stream }),
    aPlayUrl: () => `rtmp://127.0.0.1:${a.rtmpPort}/live`,
    bPlayUrl: () => `rtmp://127.0.0.1:${b.rtmpPort}/live`,
    stop: async () => {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

function startNginxPair(dir: string, options: PairOptions): Promise<RelayPair> {
  const nginx = async (directives: string[]): Promise<PairMember> => {
    const server = await startNginx(dir, directives, options.pinning);
    return { pid: server.pid, rtmpPort: server.port, stop: server.stop };
  };
  return pushPair('nginx', () => nginx([]), (pushTo) => nginx([`push ${pushTo};`]));
}

function startNmsPair(dir: string, options: PairOptions): Promise<RelayPair> {
  mkdirSync(path.join(dir, 'a'));
  mkdirSync(path.join(dir, 'b'));
  const pinning = options.pinning ? { pinning: options.pinning } : {};
  return pushPair('nms', () => startNms(path.join(dir, 'b'), pinning), (pushTo) => startNms(path.join(dir, 'a'), { ...pinning, pushTo }));
}

const STARTERS: Record<RelayKind, (dir: string, options: PairOptions) => Promise<RelayPair>> = { ours: startOursPair, nginx: startNginxPair, nms: startNmsPair };

export async function startRelayPair(kind: RelayKind, options: PairOptions = {}): Promise<RelayPair> {
  const dir = tempDir(`relay-${kind}`);
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  try {
    const pair = await STARTERS[kind](dir, options);
    return { ...pair, stop: () => pair.stop().finally(cleanUp) };
  } catch (error) {
    cleanUp();
    throw error;
  }
}

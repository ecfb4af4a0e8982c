/**
 * Sandbox bench parts (a) and (c): how long a client waits for an answer that has to go through an
 * instance's isolate, against the same request to a script-less app (NoScript answers at once),
 * over real RTMP to an in-process server. Client and server share one event loop, which is the
 * same for both paths, so the difference is what the sandbox adds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CallError, NetConnection } from '../../runtime/client/net-connection.ts';
import { Sandbox } from '../../runtime/sandbox/sandbox.ts';
import { RecordingHooks, clientInfo } from '../../test/sandbox/helpers.ts';
import { APPS, SMALL_ES3_SCRIPT, startInProcessServer, type InProcessServer } from './bench-apps.ts';

/** Connects before the measured ones: JIT of the RTMP path on both sides, host-api bundle build and code cache. */
const WARMUP_CONNECTS = 5;

async function timedConnect(srv: InProcessServer, pathPart: string, open: NetConnection[]): Promise<number> {
  const nc = new NetConnection();
  const started = performance.now();
  await nc.connect(srv.url(pathPart));
  const ms = performance.now() - started;
  // Kept open until the run ends: a disconnect now would queue onDisconnect into the isolate
  // while the next measured connect is in flight.
  open.push(nc);
  return ms;
}

function closeAll(open: NetConnection[]): void {
  for (const nc of open.splice(0)) nc.close();
}

export interface ColdStarts {
  scripted: number[];
  plain: number[];
  /** The very first scripted instance of this server (includes one-time costs the warm-up hides). */
  firstScriptedMs: number;
}

/** (a) first connect to `count` fresh instances of each app, alternating which app goes first. */
export async function measureColdStarts(appsDir: string, count: number): Promise<ColdStarts> {
  const srv = await startInProcessServer(appsDir);
  const open: NetConnection[] = [];
  const result: ColdStarts = { scripted: [], plain: [], firstScriptedMs: Number.NaN };
  try {
    for (let i = 0; i < WARMUP_CONNECTS; i++) {
      const ms = await timedConnect(srv, `${APPS.scripted}/warm-${i}`, open);
      if (i === 0) result.firstScriptedMs = ms;
      await timedConnect(srv, `${APPS.plain}/warm-${i}`, open);
    }
    for (let i = 0; i < count; i++) {
      const order = i % 2 === 0 ? ([APPS.scripted, APPS.plain] as const) : ([APPS.plain, APPS.scripted] as const);
      for (const app of order) (app === APPS.scripted ? result.scripted : result.plain).push(await timedConnect(srv, `${app}/inst-${i}`, open));
    }
    return result;
  } finally {
    closeAll(open);
    await srv.close();
  }
}

export interface RoundTrips {
  connect: { scripted: number[]; plain: number[] };
  call: { scripted: number[]; plain: number[] };
  /** Scripted calls whose answer was not 3 (would mean the bench measured something else). */
  wrongAnswers: number;
}

/** (c) connect to an instance that is already running, and nc.call('add', 1, 2), each app in turn. */
export async function measureRoundTrips(appsDir: string, connects: number, calls: number): Promise<RoundTrips> {
  const srv = await startInProcessServer(appsDir);
  const open: NetConnection[] = [];
  const result: RoundTrips = { connect: { scripted: [], plain: [] }, call: { scripted: [], plain: [] }, wrongAnswers: 0 };
  try {
    for (let i = 0; i < WARMUP_CONNECTS; i++) {
      await timedConnect(srv, `${APPS.scripted}/rt`, open);
      await timedConnect(srv, `${APPS.plain}/rt`, open);
    }
    for (let i = 0; i < connects; i++) {
      result.connect.scripted.push(await timedConnect(srv, `${APPS.scripted}/rt`, open));
      result.connect.plain.push(await timedConnect(srv, `${APPS.plain}/rt`, open));
    }
    const [scriptedNc, plainNc] = [open[0]!, open[1]!];
    for (let i = 0; i < calls; i++) {
      let started = performance.now();
      const answer = await scriptedNc.call('add', 1, 2);
      result.call.scripted.push(performance.now() - started);
      if (answer !== 3) result.wrongAnswers++;
      started = performance.now();
      // The script-less app answers `_error` (Method not found): the same RTMP round trip, no isolate.
      await plainNc.call('add', 1, 2).catch((error: unknown) => {
        if (!(error instanceof CallError)) throw error;
      });
      result.call.plain.push(performance.now() - started);
    }
    return result;
  } finally {
    closeAll(open);
    await srv.close();
  }
}

/** The isolate hop alone: Sandbox.call() without RTMP or the instance layer (test/sandbox's RecordingHooks). */
export async function measureDirectCalls(calls: number): Promise<number[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fms-bench-direct-'));
  writeFileSync(path.join(dir, 'main.asc'), SMALL_ES3_SCRIPT);
  const sandbox = new Sandbox({
    appName: APPS.scripted,
    instanceName: 'direct',
    appDir: dir,
    scriptPath: path.join(dir, 'main.asc'),
    scriptLibPaths: [],
    memoryLimitMb: 64,
    handlerTimeoutMs: 5000,
    hooks: new RecordingHooks(),
    onScriptError: (error) => process.stderr.write(`direct sandbox script error: ${error.message}\n`),
    onFatal: (error) => process.stderr.write(`direct sandbox failed: ${error.message}\n`),
  });
  try {
    await sandbox.start();
    await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] });
    const times: number[] = [];
    for (let i = 0; i < calls + WARMUP_CONNECTS; i++) {
      const started = performance.now();
      await sandbox.dispatch('call', { clientId: 'c1', method: 'add', args: [1, 2] });
      if (i >= WARMUP_CONNECTS) times.push(performance.now() - started);
    }
    return times;
  } finally {
    sandbox.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Test helpers for the sandbox: a recording InstanceHooks, fixture apps written to a temp folder,
 * a healthy neighbour instance, and an event-loop stall monitor. Real isolated-vm throughout.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ScriptError } from '../../runtime/errors.ts';
import { HOST_ARGUMENTS, type CallResultRecord, type ClientRecord, type InstanceHooks, type RejectRecord } from '../../host-api/protocol.ts';
import { scriptErrorInfo } from '../../runtime/sandbox/isolate-errors.ts';
import { Sandbox } from '../../runtime/sandbox/sandbox.ts';
import type { SandboxLogger, SandboxOptions } from '../../runtime/sandbox/sandbox-options.ts';

export interface RecordedCall {
  clientId: string;
  method: string;
  args: unknown[];
  onResult?: ((result: CallResultRecord) => void) | undefined;
}

type ScriptErrorInfo = ReturnType<typeof scriptErrorInfo>;
type Recorded = [op: string, ...args: unknown[]];

/**
 * The instance's half of the bridge, recording: every operation the sandbox hands on — also any
 * added to the contract later, without a change here — lands in `ops` as [operation, ...arguments]
 * and answers from `answers` (true when it has none). The views below read `ops`. `waitFor`
 * resolves when a condition becomes true (no sleeping).
 */
export interface RecordingHooks extends InstanceHooks {}
export class RecordingHooks {
  readonly ops: Recorded[] = [];
  readonly traces: string[] = [];
  readonly scriptErrors: ScriptErrorInfo[] = [];
  /** What an operation answers, by name; the others answer true. */
  readonly answers: Record<string, (...args: unknown[]) => unknown> = {
    streamGet: (name) => name,
    streamLength: () => 0,
    soOp: () => undefined,
    clientStats: (clientId) => ({ bytes_in: 1, bytes_out: 2, client_id_length: String(clientId).length }),
    applicationStats: () => ({ total_connects: 3, total_disconnects: 1 }),
    // 1,250,000 — FMS's default — before any setBandwidthLimit.
    getBandwidthLimit: (clientId, direction) => {
      const set = this.bandwidth.filter((b) => b.clientId === clientId).map((b) => (direction === 1 ? b.serverToClient : b.clientToServer)).filter((v) => v > 0);
      return set.at(-1) ?? 1_250_000;
    },
    setBandwidthLimit: () => undefined,
  };
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor() {
    // Any operation of the contract not defined on the object is recorded and answered generically.
    return new Proxy(this, {
      get: (target, op, receiver) => {
        if (typeof op !== 'string' || op in target || !Object.hasOwn(HOST_ARGUMENTS, op)) return Reflect.get(target, op, receiver);
        return (...args: unknown[]) => {
          target.ops.push([op, ...args]);
          target.notify();
          const answer = target.answers[op];
          return answer ? answer(...args) : true;
        };
      },
    });
  }

  trace(text: string): void {
    this.traces.push(text);
    this.ops.push(['trace', text]);
    this.notify();
  }

  /** Sandbox onScriptError, as the instance gets it. */
  scriptError(error: ScriptError): void {
    this.scriptErrors.push(scriptErrorInfo(error));
    this.notify();
  }

  /** The arguments of every call of `op`, in order. */
  argsOf(op: string): unknown[][] {
    return this.ops.filter(([name]) => name === op).map(([, ...args]) => args);
  }

  get accepted(): string[] {
    return this.argsOf('acceptConnection').map(([clientId]) => clientId as string);
  }
  get rejected(): { clientId: string; info: RejectRecord }[] {
    return this.argsOf('rejectConnection').map(([clientId, info]) => ({ clientId: clientId as string, info: info as RejectRecord }));
  }
  get disconnected(): string[] {
    return this.argsOf('disconnect').map(([clientId]) => clientId as string);
  }
  get calls(): RecordedCall[] {
    return this.argsOf('clientCall').map(([clientId, method, args, onResult]) => ({
      clientId: clientId as string,
      method: method as string,
      args: args as unknown[],
      ...(onResult === undefined ? {} : { onResult: onResult as RecordedCall['onResult'] }),
    }));
  }
  get broadcasts(): { method: string; args: unknown[] }[] {
    return this.argsOf('broadcastMsg').map(([method, args]) => ({ method: method as string, args: args as unknown[] }));
  }
  get access(): { clientId: string; field: string; value: string }[] {
    return this.argsOf('setClientAccess').map(([clientId, field, value]) => ({ clientId: clientId as string, field: field as string, value: value as string }));
  }
  get shutdowns(): number {
    return this.argsOf('shutdown').length;
  }
  get pings(): string[] {
    return this.argsOf('clientPing').map(([clientId]) => clientId as string);
  }
  /** client.setBandwidthLimit calls; getBandwidthLimit answers from them. */
  get bandwidth(): { clientId: string; serverToClient: number; clientToServer: number }[] {
    return this.argsOf('setBandwidthLimit').map(([clientId, serverToClient, clientToServer]) => ({
      clientId: clientId as string,
      serverToClient: serverToClient as number,
      clientToServer: clientToServer as number,
    }));
  }

  waitFor(check: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  notify(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i];
      if (waiter !== undefined && waiter.check()) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}

/** Records warn/info/error calls of the optional logger. */
export class RecordingLogger implements SandboxLogger {
  readonly records: { level: string; fields: object; message?: string }[] = [];
  info(fields: object, message?: string): void {
    this.records.push({ level: 'info', fields, ...(message === undefined ? {} : { message }) });
  }
  warn(fields: object, message?: string): void {
    this.records.push({ level: 'warn', fields, ...(message === undefined ? {} : { message }) });
  }
  error(fields: object, message?: string): void {
    this.records.push({ level: 'error', fields, ...(message === undefined ? {} : { message }) });
  }
}

const tempRoots: string[] = [];

/** Writes an app folder (file name → text or bytes) and returns its path; removed by cleanupApps(). */
export function writeApp(files: Record<string, string | Uint8Array>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fms-sandbox-'));
  tempRoots.push(root);
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return root;
}

export function cleanupApps(): void {
  for (const root of tempRoots.splice(0)) rmSync(root, { recursive: true, force: true });
}

export interface TestInstance {
  sandbox: Sandbox;
  hooks: RecordingHooks;
  logger: RecordingLogger;
  fatals: ScriptError[];
  /** Resolves with the first fatal error. */
  fatal: Promise<ScriptError>;
}

const live: Sandbox[] = [];

/** A Sandbox on `main.asc` (plus any extra files); call disposeAll() in afterEach. */
export function createInstance(
  mainAsc: string,
  options: Partial<SandboxOptions> & { files?: Record<string, string | Uint8Array> } = {},
): TestInstance {
  const { files, ...overrides } = options;
  const appDir = writeApp({ 'main.asc': mainAsc, ...files });
  const hooks = new RecordingHooks();
  const logger = new RecordingLogger();
  const fatals: ScriptError[] = [];
  let resolveFatal: (error: ScriptError) => void = () => undefined;
  const fatal = new Promise<ScriptError>((resolve) => {
    resolveFatal = resolve;
  });
  const sandbox = new Sandbox({
    appName: 'testapp',
    instanceName: '_definst_',
    appDir,
    scriptPath: path.join(appDir, 'main.asc'),
    scriptLibPaths: [],
    memoryLimitMb: 32,
    handlerTimeoutMs: 1000,
    hooks,
    onScriptError: (error) => hooks.scriptError(error),
    logger,
    onFatal: (error) => {
      fatals.push(error);
      resolveFatal(error);
    },
    ...overrides,
  });
  live.push(sandbox);
  return { sandbox, hooks, logger, fatals, fatal };
}

export function disposeAll(): void {
  for (const sandbox of live.splice(0)) sandbox.dispose();
}

export function clientInfo(id: string, overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    id,
    ip: '127.0.0.1',
    agent: 'WIN 9,0,124,2',
    protocol: 'rtmp',
    secure: false,
    referrer: 'http://example.com/app.swf',
    pageUrl: 'http://example.com/index.html',
    uri: 'rtmp://localhost/testapp',
    objectEncoding: 0,
    virtualKey: '',
    readAccess: '/',
    writeAccess: '/',
    audioSampleAccess: '',
    videoSampleAccess: '',
    ...overrides,
  };
}

/** A started instance with one accepted client "h1" whose echo(x) returns x. */
export async function startNeighbour(): Promise<{ ask: (value: number) => Promise<void>; instance: TestInstance }> {
  const instance = createInstance('Client.prototype.echo = function (x) { return x; };\n', { handlerTimeoutMs: 1000 });
  await instance.sandbox.start();
  assert.equal(await instance.sandbox.dispatch('connect', { client: clientInfo('h1'), args: [] }), 'accept');
  const ask = async (value: number): Promise<void> => {
    assert.deepEqual(await instance.sandbox.dispatch('call', { clientId: 'h1', method: 'echo', args: [value] }), { ok: true, value });
  };
  return { ask, instance };
}

/**
 * Keeps asking the neighbour while `work` is pending; returns how many answers came back and the
 * largest gap between 5 ms ticks of this process's event loop meanwhile.
 */
export async function whileRunning(
  work: Promise<unknown>,
  ask: (value: number) => Promise<void>,
): Promise<{ answers: number; maxGapMs: number }> {
  let settled = false;
  const watched = work.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  let last = performance.now();
  let maxGapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 5);
  let answers = 0;
  try {
    while (!settled) {
      await ask(answers);
      answers++;
    }
    await watched;
  } finally {
    clearInterval(ticker);
  }
  // The gap still open at the end counts too: a loop blocked for the whole run never ticks at all.
  maxGapMs = Math.max(maxGapMs, performance.now() - last);
  return { answers, maxGapMs };
}

/**
 * Largest event-loop gap the hazard tests accept while a script runs away. The runaways there are
 * cut at handler timeouts of 200 ms or more, so a blocked loop would show ≥ 200 ms; 150 leaves
 * room for a 2-core machine busy with other work (gaps of 106–129 ms were seen under load).
 */
export const STALL_LIMIT_MS = 150;

/**
 * Calls `method` of a fresh instance running `mainAsc` while a neighbour instance keeps answering,
 * and waits for the runaway to be ended. Asserts what every runaway must give: the neutral call
 * answer, one fatal error through onFatal, the neighbour answering meanwhile, no event-loop stall.
 */
export async function runAway(
  mainAsc: string,
  method: string,
  options: Partial<SandboxOptions>,
): Promise<{ error: ScriptError; elapsedMs: number; broken: TestInstance; neighbour: Awaited<ReturnType<typeof startNeighbour>> }> {
  const neighbour = await startNeighbour();
  const broken = createInstance(mainAsc, options);
  await broken.sandbox.start();
  assert.equal(await broken.sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
  const startedAt = performance.now();
  const call = broken.sandbox.dispatch('call', { clientId: 'c1', method, args: [] });
  const { answers, maxGapMs } = await whileRunning(call, neighbour.ask);
  const elapsedMs = performance.now() - startedAt;
  assert.deepEqual(await call, { ok: false, code: 'NetConnection.Call.Failed', description: `Method not found (${method}).` });
  const error = await broken.fatal;
  assert.equal(broken.fatals.length, 1, 'onFatal once');
  assert.ok(answers > 0, 'the neighbour answered while the script ran away');
  assert.ok(maxGapMs < STALL_LIMIT_MS, `event loop stalled for ${maxGapMs.toFixed(0)} ms`);
  return { error, elapsedMs, broken, neighbour };
}

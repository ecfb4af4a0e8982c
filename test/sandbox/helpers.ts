/**
 * Test helpers for the sandbox: a recording InstanceHooks, fixture apps written to a temp folder,
 * a healthy neighbour instance, and an event-loop stall monitor. Real isolated-vm throughout.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ScriptError } from '../../runtime/errors.ts';
import type { ClientCallResult, ClientInfo, InstanceHooks, RejectInfo } from '../../runtime/instances/script-contract.ts';
import { Sandbox, type SandboxLogger, type SandboxOptions } from '../../runtime/sandbox/sandbox.ts';

export interface RecordedCall {
  clientId: string;
  method: string;
  args: unknown[];
  onResult?: (result: ClientCallResult) => void;
}

type MediaHooks = InstanceHooks['media'];
type ScriptErrorInfo = Parameters<InstanceHooks['scriptError']>[0];

/** Records every hook call; `waitFor` resolves when a condition becomes true (no sleeping). */
export class RecordingHooks implements InstanceHooks {
  readonly traces: string[] = [];
  readonly scriptErrors: ScriptErrorInfo[] = [];
  readonly accepted: string[] = [];
  readonly rejected: { clientId: string; info: RejectInfo }[] = [];
  readonly disconnected: string[] = [];
  readonly calls: RecordedCall[] = [];
  readonly broadcasts: { method: string; args: unknown[] }[] = [];
  readonly access: { clientId: string; field: string; value: string }[] = [];
  shutdowns = 0;
  /** Server-side NetConnection/NetStream/Stream operations, recorded as [operation, ...args]. */
  readonly mediaOps: unknown[][] = [];
  readonly media: MediaHooks = new Proxy({} as MediaHooks, {
    get: (_target, op) => (...args: unknown[]) => {
      this.mediaOps.push([op, ...args]);
      this.notify();
      return op === 'streamGet' ? args[0] : op === 'streamLength' ? 0 : true;
    },
  });
  /** SharedObject operations, recorded as [operation, name, ...args]; get always succeeds. */
  readonly soOps: unknown[][] = [];
  readonly sharedObjects: InstanceHooks['sharedObjects'] = {
    get: (name, persistent) => {
      this.soOps.push(['get', name, persistent]);
      return true;
    },
    op: (name, op, args) => {
      this.soOps.push([op, name, ...args]);
      this.notify();
      return undefined;
    },
    getProxied: (key, ncId, name, persistent) => {
      this.soOps.push(['getProxied', key, ncId, name, persistent]);
      return true;
    },
    clearSharedObjects: (soPath) => {
      this.soOps.push(['clearSharedObjects', soPath]);
      this.notify();
      return true;
    },
  };
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];

  trace(text: string): void {
    this.traces.push(text);
    this.notify();
  }
  scriptError(info: ScriptErrorInfo): void {
    this.scriptErrors.push(info);
    this.notify();
  }
  acceptConnection(clientId: string): void {
    this.accepted.push(clientId);
    this.notify();
  }
  rejectConnection(clientId: string, info: RejectInfo): void {
    this.rejected.push({ clientId, info });
    this.notify();
  }
  disconnect(clientId: string): boolean {
    this.disconnected.push(clientId);
    this.notify();
    return true;
  }
  clientCall(clientId: string, method: string, args: unknown[], onResult?: (result: ClientCallResult) => void): boolean {
    this.calls.push({ clientId, method, args, ...(onResult === undefined ? {} : { onResult }) });
    this.notify();
    return true;
  }
  broadcastMsg(method: string, args: unknown[]): void {
    this.broadcasts.push({ method, args });
    this.notify();
  }
  setClientAccess(clientId: string, field: string, value: string): void {
    this.access.push({ clientId, field, value });
    this.notify();
  }
  clientStats(clientId: string): Record<string, number> {
    return { bytes_in: 1, bytes_out: 2, client_id_length: clientId.length };
  }
  readonly pings: string[] = [];
  clientPing(clientId: string): boolean {
    this.pings.push(clientId);
    return true;
  }
  applicationStats(): Record<string, number> {
    return { total_connects: 3, total_disconnects: 1 };
  }
  shutdown(): void {
    this.shutdowns++;
    this.notify();
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

  private notify(): void {
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

export function clientInfo(id: string, overrides: Partial<ClientInfo> = {}): ClientInfo {
  return {
    id,
    ip: '127.0.0.1',
    agent: 'WIN 9,0,124,2',
    protocol: 'rtmp',
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
  assert.equal(await instance.sandbox.connect(clientInfo('h1'), []), 'accept');
  const ask = async (value: number): Promise<void> => {
    assert.deepEqual(await instance.sandbox.call('h1', 'echo', [value]), { ok: true, value });
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
  assert.equal(await broken.sandbox.connect(clientInfo('c1'), []), 'accept');
  const startedAt = performance.now();
  const call = broken.sandbox.call('c1', method, []);
  const { answers, maxGapMs } = await whileRunning(call, neighbour.ask);
  const elapsedMs = performance.now() - startedAt;
  assert.deepEqual(await call, { ok: false, code: 'NetConnection.Call.Failed', description: `Method not found (${method}).` });
  const error = await broken.fatal;
  assert.equal(broken.fatals.length, 1, 'onFatal once');
  assert.ok(answers > 0, 'the neighbour answered while the script ran away');
  assert.ok(maxGapMs < STALL_LIMIT_MS, `event loop stalled for ${maxGapMs.toFixed(0)} ms`);
  return { error, elapsedMs, broken, neighbour };
}

/**
 * One application instance's script, in its own isolated-vm isolate (one isolate, one context).
 *
 * Every event goes through a per-instance FIFO and into the isolate asynchronously with a timeout,
 * so handlers run to completion in order while a runaway script never blocks the Node event loop
 * that moves media for other instances. The isolate calls back through one synchronous host
 * function (host-api/protocol.ts HostCalls); only plain data crosses.
 *
 * Every script failure reaches the owner through exactly ONE channel (so it is logged once):
 * - start() rejects with the ScriptError when main.asc, a load()ed file, onAppStart's time or
 *   memory budget, or the isolate itself fails during start. Nothing else is called.
 * - onFatal(error), once: a timeout or out-of-memory after start poisons the isolate (disposed,
 *   timers cleared). The call that was running and every later one resolve with neutral values.
 * - hooks.scriptError: an exception thrown by a handler (or a failed load() inside one). The
 *   instance keeps running; application.onStatus receives Application.Script.Error as in FMS.
 * Neutral values (after a fatal error or dispose()): connect 'reject', call Call.Failed, stop true.
 * retire() (a hot reload's swap) lets the running handler finish, then disposes; a call whose turn
 * comes after it answers with `notRun` so the instance can hand it to the new generation.
 *
 * The handler timeout is isolated-vm's and, for time spent in host calls, the host's own
 * (dispatch-deadline.ts): a loop of host calls ends like a pure-JS loop.
 */
import os from 'node:os';
import ivm from 'isolated-vm';
import { ErrorCode, ScriptError } from '../errors.ts';
import type {
  ApplicationScript,
  CallOutcome,
  ClientCallResult,
  ClientInfo,
  ConnectOutcome,
  InstanceHooks,
  MediaEvent,
  RejectInfo,
  StreamInfo,
} from '../instances/script-contract.ts';
import { FMS_VERSION, status } from '../instances/status-codes.ts';
import type {
  AccessField,
  BootOptions,
  DispatchFunction,
  DispatchReply,
  HostCalls,
  HostOp,
  HostReply,
  InfoRecord,
  LoadReply,
  SandboxEventName,
  SandboxEvents,
  ThrownRecord,
} from '../../host-api/protocol.ts';
import { classifyCatastrophe, classifyFailure, classifyThrown, isFatal, locateStack, scriptErrorInfo, timeoutError, type FailureContext } from './isolate-errors.ts';
import { DispatchDeadline } from './dispatch-deadline.ts';
import { HOST_API_FILENAME, ScriptLoader, hostApiBundle, type ScriptSource } from './script-loader.ts';
import { BridgeArgumentError, count, list, text } from './bridge-arguments.ts';
import { createMediaHostCalls } from './media-bridge.ts';
import { createIoHostCalls } from './io-bridge.ts';
import { AmfClassTags } from './amf-class-tags.ts';
import { ScriptFiles } from './script-files.ts';
import { ScriptHttp } from './script-http.ts';

/** Installing host-api is our own code; it gets a fixed allowance, not the script's. */
const BOOT_TIMEOUT_MS = 5000;
/** Like browsers' clamping: a 0 ms interval must not become a storm of dispatches. */
const MIN_TIMER_MS = 10;
/** Node turns larger delays into 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_TIMERS = 10000;
const ACCESS_FIELDS: readonly AccessField[] = ['readAccess', 'writeAccess', 'audioSampleAccess', 'videoSampleAccess'];

let lostIsolateThreads = 0;

/**
 * How many isolate threads isolated-vm has parked for good after a catastrophic error (V8 heap
 * OOM inside a GC, or a script that would not terminate). While this is > 0, `process.exit()`
 * hangs (isolated-vm joins its thread pool at exit): the process must end itself with
 * `process.kill(process.pid, 'SIGKILL')` after flushing logs.
 */
export function lostIsolateThreadCount(): number {
  return lostIsolateThreads;
}

let liveIsolates = 0;

/** Isolates created and not yet torn down, process-wide (hot-reload leak test, /metrics). */
export function liveIsolateCount(): number {
  return liveIsolates;
}

/** V8 code cache of the host-api bundle, shared by every isolate of the process (cheaper cold starts). */
let bundleCodeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;

function rejectInfo(value: unknown): RejectInfo {
  const source = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const info: RejectInfo = {};
  if ('application' in source) info.application = source.application;
  if (typeof source.redirect === 'string') info.redirect = source.redirect;
  if (typeof source.description === 'string') info.description = source.description;
  return info;
}

export interface SandboxLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export interface SandboxOptions {
  appName: string;
  instanceName: string;
  appDir: string;
  scriptPath: string;
  scriptLibPaths: string[];
  memoryLimitMb: number;
  /** Longest a single handler (or main.asc's top level) may run. */
  handlerTimeoutMs: number;
  exposeJson?: boolean;
  exposeSetTimeout?: boolean;
  hooks: InstanceHooks;
  onFatal: (error: ScriptError) => void;
  hostname?: string;
  config?: Record<string, string>;
  logger?: SandboxLogger;
  /** FMS VirtualDirectory entries for File, "/virtual;/native/dir" (config scripts.fileVirtualDirectories). */
  fileVirtualDirectories?: readonly string[];
  /** LoadVars / XML limits (config scripts.http); default: loopback only, 10 s, 1 MiB. */
  http?: { allowHosts: readonly string[]; timeoutMs: number; maxBytes: number };
  /** This server's HTTP port(s): refused to scripts even on loopback (the admin API trusts loopback). */
  refusedHttpPorts?: () => readonly number[];
  /** Told how long each event dispatch into the isolate took (metrics); must not throw. */
  onDispatch?: (event: SandboxEventName, seconds: number) => void;
}

type Payload<K extends SandboxEventName> = SandboxEvents[K]['payload'];
type Result<K extends SandboxEventName> = SandboxEvents[K]['result'];

export class Sandbox implements ApplicationScript {
  readonly name: string;
  private readonly loader: ScriptLoader;
  private readonly failure: FailureContext;
  private isolate: ivm.Isolate | undefined;
  private context: ivm.Context | undefined;
  private dispatchRef: ivm.Reference<DispatchFunction> | undefined;
  /** 'loading' while main.asc's top level and queued load()s run: load() only queues then. */
  private phase: 'idle' | 'loading' | 'running' = 'idle';
  private readonly deferredLoads: string[] = [];
  private dead: ScriptError | undefined;
  private disposed = false;
  /** retire() was called: nothing new starts; disposed when the running job ends. */
  private retiring = false;
  /** A FIFO job is running now (retire() waits for it). */
  private jobRunning = false;
  /** start() resolved: from now on fatal errors go to onFatal instead of start()'s rejection. */
  private started = false;
  private loading: Promise<void> | undefined;
  /** This sandbox's isolate is counted in liveIsolates (until teardown). */
  private counted = false;
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * The rejecters of the calls into the isolate now in flight: when the isolate is poisoned they are
   * rejected, so a call whose isolate thread is lost still settles. (Not one Promise.race against a
   * long-lived "fatal" promise: each race leaves a reaction on it for as long as it is pending, and a
   * healthy instance's never settles — that kept every dispatch's promise alive, ~1 MB a minute in the
   * soak.)
   */
  private readonly inFlight = new Set<(error: ScriptError) => void>();
  /** > 0 while the isolate waits in a host call: disposing then must wait for the call to return. */
  private hostCallDepth = 0;
  /** The handler timeout as the host keeps it (host calls included): see dispatch-deadline.ts. */
  private readonly deadline: DispatchDeadline;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /** Timers with a tick waiting in the FIFO: further ticks are dropped, not piled up. */
  private readonly ticking = new Set<number>();
  private nextTimerId = 1;
  private readonly hostCalls: HostCalls;
  /** application.registerClass: class aliases across the bridge (idle until a script registers one). */
  private readonly amfClasses = new AmfClassTags();
  /** The script's open files and HTTP requests: closed / aborted when the isolate goes. */
  private readonly files: ScriptFiles;
  private readonly http: ScriptHttp;

  constructor(private readonly options: SandboxOptions) {
    this.name = `${options.appName}/${options.instanceName}`;
    this.loader = new ScriptLoader(options);
    this.failure = { sources: this.loader, handlerTimeoutMs: options.handlerTimeoutMs, memoryLimitMb: options.memoryLimitMb };
    this.files = new ScriptFiles(options.appDir, options.fileVirtualDirectories ?? [], (input, reason) =>
      this.log('warn', { code: ErrorCode.ScriptFileRefused, path: input, reason }, `File access refused: ${reason}`),
    );
    this.http = new ScriptHttp({
      ...(options.http ?? { allowHosts: [], timeoutMs: 10_000, maxBytes: 1024 * 1024 }),
      ...(options.refusedHttpPorts ? { refusedLoopbackPorts: options.refusedHttpPorts } : {}),
      onProblem: (url, reason) => this.log('warn', { code: ErrorCode.ScriptHttpFailed, url, reason }, `HTTP request failed: ${reason}`),
    });
    this.hostCalls = this.createHostCalls();
    this.deadline = new DispatchDeadline(options.handlerTimeoutMs, () => this.timedOut(undefined));
  }

  /**
   * Compiles and runs main.asc's top level and its load()ed files, without onAppStart: a hot
   * reload's trial run while the previous generation keeps serving. Rejects like start().
   */
  load(): Promise<void> {
    if (this.loading === undefined) {
      this.loading = this.enqueue(() => this.boot());
      this.loading.catch(() => undefined); // observed by whoever awaits load() or start()
    }
    return this.loading;
  }

  /** load() (unless a trial run already did), then onAppStart. */
  start(): Promise<void> {
    const loaded = this.load();
    return this.enqueue(async () => {
      await loaded;
      await this.appStart();
    });
  }

  connect(client: ClientInfo, args: unknown[]): Promise<ConnectOutcome> {
    return this.event('connect', { client: { ...client }, args }, 'reject');
  }

  async disconnect(clientId: string): Promise<void> {
    await this.event('disconnect', { clientId }, null);
  }

  call(clientId: string, method: string, args: unknown[]): Promise<CallOutcome> {
    const unloaded: CallOutcome = { ok: false, code: 'NetConnection.Call.Failed', description: `Method not found (${method}).` };
    return this.enqueue(async () => {
      // Its turn came after a hot reload retired this script (or after it died): the owner may ask the next one.
      if (!this.accepting()) return this.retiring ? { ...unloaded, notRun: true } : unloaded;
      return this.runEvent('call', { clientId, method, args }, unloaded);
    });
  }

  async publish(clientId: string, stream: StreamInfo): Promise<void> {
    await this.event('publish', { clientId, stream: { name: stream.name, publishQueryString: stream.publishQueryString } }, null);
  }

  async unpublish(clientId: string, stream: StreamInfo): Promise<void> {
    await this.event('unpublish', { clientId, stream: { name: stream.name, publishQueryString: stream.publishQueryString } }, null);
  }

  async mediaEvent(event: MediaEvent): Promise<void> {
    if (event.kind === 'ncStatus') await this.event('ncStatus', { ncId: event.ncId, info: event.info as InfoRecord }, null);
    else if (event.kind === 'nsStatus') await this.event('nsStatus', { nsId: event.nsId, info: event.info as InfoRecord }, null);
    else if (event.kind === 'streamStatus') await this.event('streamStatus', { name: event.name, info: event.info as InfoRecord }, null);
    else if (event.kind === 'soSync') await this.event('soSync', { name: event.name, list: event.list }, null);
    else if (event.kind === 'soStatus') await this.event('soStatus', { name: event.name, info: event.info as InfoRecord }, null);
    else await this.event('soSend', { name: event.name, handler: event.handler, args: event.args }, null);
  }

  ncCall(ncId: number, method: string, args: unknown[]): Promise<CallOutcome> {
    const unloaded: CallOutcome = { ok: false, code: 'NetConnection.Call.Failed', description: `Method not found (${method}).` };
    return this.event('ncCall', { ncId, method, args }, unloaded);
  }

  stop(code: 'Application.GC' | 'Application.Shutdown'): Promise<boolean> {
    const info = code === 'Application.GC' ? status.appGc() : status.appShutdown();
    return this.event('appStop', { info }, true);
  }

  sourceFiles(): string[] {
    return this.loader.filesRead;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.teardown(false);
  }

  retire(): void {
    if (this.disposed || this.retiring) return;
    this.retiring = true;
    // No more ticks; queued events settle as not run (runEvent). A job running now ends first.
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (!this.jobRunning) this.dispose();
  }

  // ---- start ---------------------------------------------------------------------------------

  private async boot(): Promise<void> {
    if (this.isolate !== undefined || this.dead !== undefined) throw new Error(`${this.name}: start() was already called`);
    if (this.disposed) throw new ScriptError(ErrorCode.ScriptLoadFailed, `${this.name} was disposed before it started`);
    // A failure to build host-api is the host's problem, not the script's: it stays unclassified.
    const code = await hostApiBundle();
    // Disposed while the (first) bundle build was awaited: creating the isolate now would leak it.
    if (this.disposed) throw new ScriptError(ErrorCode.ScriptLoadFailed, `${this.name} was disposed before it started`);
    try {
      const main = this.loader.readMain();
      this.isolate = new ivm.Isolate({
        memoryLimit: this.options.memoryLimitMb,
        // Without this handler isolated-vm aborts the whole process on a V8 heap OOM.
        onCatastrophicError: (message) => this.onCatastrophe(message),
      });
      liveIsolates++;
      this.counted = true;
      this.context = await this.isolate.createContext();
      this.dispatchRef = await this.install(code);
      this.phase = 'loading';
      await this.runFile(main);
      // The queue grows while it runs: a queued file may load() more.
      for (let i = 0; i < this.deferredLoads.length; i++) await this.runFile(this.loader.loadFile(this.deferredLoads[i] as string));
      this.deferredLoads.length = 0;
      this.phase = 'running';
    } catch (error) {
      throw this.startFailed(error);
    }
  }

  private async appStart(): Promise<void> {
    // Poisoned or disposed between a trial load() and now (a timer's runaway loop, say).
    if (this.dead !== undefined) throw this.dead;
    if (this.disposed || this.retiring) throw new ScriptError(ErrorCode.ScriptLoadFailed, `${this.name} was disposed before it started`);
    try {
      await this.send('appStart', {});
    } catch (error) {
      throw this.startFailed(error);
    }
    this.started = true;
  }

  /** Evaluates the bundle and calls its install(host, options); keeps only the dispatch Reference. */
  private async install(code: string): Promise<ivm.Reference<DispatchFunction>> {
    const isolate = this.isolate as ivm.Isolate;
    const cache = bundleCodeCache === undefined ? { produceCachedData: true } : { cachedData: bundleCodeCache };
    const script = await isolate.compileScript(code, { filename: HOST_API_FILENAME, ...cache });
    bundleCodeCache ??= (script as ivm.Script & ivm.CachedDataResult).cachedData;
    const install = (await script.run(this.context as ivm.Context, { reference: true, release: true, timeout: BOOT_TIMEOUT_MS })) as ivm.Reference;
    const boot: BootOptions = {
      name: this.name,
      hostname: this.options.hostname ?? os.hostname(),
      server: FMS_VERSION,
      config: { ...this.options.config },
      exposeJson: this.options.exposeJson === true,
      exposeSetTimeout: this.options.exposeSetTimeout === true,
      amfClassKey: this.amfClasses.key,
    };
    const host = new ivm.Callback((op: unknown, args: unknown) => this.onHostCall(op, args));
    try {
      return (await install.apply(undefined, [host, new ivm.ExternalCopy(boot).copyInto()], {
        result: { reference: true },
        timeout: BOOT_TIMEOUT_MS,
      })) as ivm.Reference<DispatchFunction>;
    } finally {
      install.release();
    }
  }

  private async runFile(file: ScriptSource): Promise<void> {
    if (file.encoding !== 'utf-8') this.log('warn', { file: file.filename, encoding: file.encoding }, 'script is not valid UTF-8');
    const isolate = this.isolate as ivm.Isolate;
    const script = await this.race(isolate.compileScript(file.source, { filename: file.filename }));
    await this.timed(() => script.run(this.context as ivm.Context, { timeout: this.options.handlerTimeoutMs, release: true }));
  }

  private startFailed(error: unknown): ScriptError {
    if (this.dead !== undefined) return this.dead;
    if (this.disposed) return new ScriptError(ErrorCode.ScriptLoadFailed, `${this.name} was disposed while starting`, {}, { cause: error });
    const scriptError = this.classify(error);
    this.poison(scriptError, false);
    return scriptError;
  }

  // ---- events --------------------------------------------------------------------------------

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      this.jobRunning = true;
      try {
        return await job();
      } finally {
        this.jobRunning = false;
        if (this.retiring) this.dispose();
      }
    });
    // The chain only orders jobs; each caller sees its own job's outcome through `run`.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private event<K extends SandboxEventName>(event: K, payload: Payload<K>, whenUnloaded: Result<K>): Promise<Result<K>> {
    return this.enqueue(() => this.runEvent(event, payload, whenUnloaded));
  }

  private async runEvent<K extends SandboxEventName>(event: K, payload: Payload<K>, whenUnloaded: Result<K>): Promise<Result<K>> {
    if (!this.accepting()) return whenUnloaded;
    try {
      return await this.send(event, payload);
    } catch (error) {
      // A fatal error was already handed to onFatal; disposal was the owner's decision.
      if (!this.isLive()) return whenUnloaded;
      throw error;
    }
  }

  private isLive(): boolean {
    return this.dead === undefined && !this.disposed;
  }

  /** Live, installed and not retired: a queued event may still start. */
  private accepting(): boolean {
    return this.isLive() && !this.retiring && this.dispatchRef !== undefined;
  }

  /** One dispatch into the isolate; must run inside a FIFO job. */
  private async send<K extends SandboxEventName>(event: K, payload: Payload<K>): Promise<Result<K>> {
    const dispatch = this.dispatchRef as ivm.Reference<DispatchFunction>;
    let reply: DispatchReply<Result<K>>;
    const startedAt = performance.now();
    try {
      reply = (await this.timed(() =>
        dispatch.apply(undefined, [event, (this.amfClasses.active ? this.amfClasses.toIsolate(payload) : payload) as never], {
          arguments: { copy: true },
          result: { copy: true },
          timeout: this.options.handlerTimeoutMs,
        }),
      )) as DispatchReply<Result<K>>;
    } catch (error) {
      throw this.failed(error);
    } finally {
      this.options.onDispatch?.(event, (performance.now() - startedAt) / 1000);
    }
    // A call's _result (or any reply value) holding registered-class instances goes out typed.
    if (this.amfClasses.active) this.amfClasses.fromIsolate(reply.value);
    // A retired script's onStatus is not run for it: its handlers are done.
    if (reply.error !== undefined) await this.reportThrown(reply.error, event !== 'status' && !this.retiring);
    return reply.value;
  }

  /** `work` (a call into the isolate), or the poisoning error if the isolate dies first. */
  private race<T>(work: Promise<T>): Promise<T> {
    if (this.dead !== undefined) {
      work.catch(() => undefined); // settles with the disposal; its outcome no longer matters
      return Promise.reject(this.dead);
    }
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      work.then(resolve, reject).finally(() => this.inFlight.delete(reject));
    });
  }

  /** Script code running under the handler timeout: isolated-vm's, and the host's own deadline. */
  private async timed<T>(run: () => Promise<T>): Promise<T> {
    this.deadline.begin(this.isolate as ivm.Isolate);
    try {
      return await this.race(run());
    } finally {
      this.deadline.end();
    }
  }

  /**
   * The running handler is past its time and the isolate is still busy (a loop of host calls, or
   * isolated-vm's interrupt got lost): end it as isolated-vm ends a pure-JS timeout. `stack` is
   * where host-api found the script when told of the deadline (undefined from the backstop).
   */
  private timedOut(stack: string | undefined): void {
    if (!this.isLive()) return;
    const where = locateStack(stack, this.loader);
    const cause = new Error('handler timeout reached during host calls', stack === undefined ? {} : { cause: stack });
    this.poison(timeoutError(this.failure, cause, where), false);
  }

  /** A script error caught in the isolate: logged once, then application.onStatus hears of it. */
  private async reportThrown(record: ThrownRecord, toOnStatus: boolean): Promise<void> {
    const error = classifyThrown(record, this.loader);
    this.report(error);
    if (!toOnStatus) return;
    const { description, ...where } = scriptErrorInfo(error);
    await this.send('status', { info: status.scriptError(description, where) });
  }

  /**
   * A rejected dispatch: timeout / out-of-memory poison the isolate. Anything else means the bridge
   * itself broke (a payload that cannot be copied…): a host bug, rethrown as it is.
   */
  private failed(error: unknown): unknown {
    if (!this.isLive()) return error;
    const scriptError = this.classify(error);
    if (!isFatal(scriptError)) return error;
    this.poison(scriptError, false);
    return scriptError;
  }

  private classify(error: unknown): ScriptError {
    const lostIsolate = this.isolate?.isDisposed === true && !this.disposed;
    return classifyFailure(error, this.failure, lostIsolate);
  }

  // ---- failure and teardown ------------------------------------------------------------------

  private onCatastrophe(message: string): void {
    lostIsolateThreads++;
    // Not seen on isolated-vm 7 with the bombs of docs/v8-failures.md; kept as the safety net it is.
    this.log(
      'error',
      { code: ErrorCode.ScriptIsolateLost, message, lostIsolates: lostIsolateThreads },
      'isolate lost (isolated-vm catastrophic error); its thread and heap stay parked until the process restarts',
    );
    if (!this.isLive()) return;
    // Disposal must not happen inside isolated-vm's error callback (it blocks there).
    this.poison(classifyCatastrophe(message, this.failure), true);
  }

  /** The isolate is unusable (or never got going): free it; tell onFatal if start() had resolved. */
  private poison(error: ScriptError, deferDispose: boolean): void {
    if (!this.isLive()) return;
    this.dead = error;
    for (const reject of this.inFlight) reject(error);
    this.inFlight.clear();
    this.teardown(deferDispose);
    if (!this.started) return; // start() rejects with it instead
    try {
      this.options.onFatal(error);
    } catch (listenerError) {
      this.log('error', { err: listenerError }, 'onFatal listener threw');
    }
  }

  private teardown(deferDispose: boolean): void {
    this.deadline.end();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.ticking.clear();
    this.files.closeAll();
    this.http.abortAll();
    if (this.counted) {
      this.counted = false;
      liveIsolates--;
    }
    const isolate = this.isolate;
    if (isolate === undefined) return;
    const dispose = (): void => {
      if (!isolate.isDisposed) isolate.dispose();
    };
    if (deferDispose || this.hostCallDepth > 0) setImmediate(dispose);
    else dispose();
  }

  private report(error: ScriptError): void {
    try {
      this.options.hooks.scriptError(scriptErrorInfo(error));
    } catch (hookError) {
      this.log('error', { err: hookError }, 'scriptError hook threw');
    }
  }

  private log(level: 'info' | 'warn' | 'error', fields: object, message: string): void {
    this.options.logger?.[level]({ app: this.name, ...fields }, message);
  }

  // ---- the bridge: isolate -> host --------------------------------------------------------

  /** The one synchronous callback the isolate has. Every argument is checked: it is script data. */
  private onHostCall(op: unknown, args: unknown): HostReply<unknown> {
    if (!this.isLive()) return [false, 'the application instance is unloaded'];
    if (typeof op !== 'string' || !Object.hasOwn(this.hostCalls, op) || !Array.isArray(args)) {
      return [false, 'unknown host operation'];
    }
    // Past the handler's time: no more work for this script; host-api answers with timedOut.
    if (op !== 'timedOut' && this.deadline.passed()) return ['deadline'];
    this.hostCallDepth++;
    try {
      const call = this.hostCalls[op as HostOp] as (...values: unknown[]) => unknown;
      // registerClass in use: script values leave as typed objects, host values enter tagged.
      if (!this.amfClasses.active) return [true, call(...args)];
      this.amfClasses.fromIsolate(args);
      return [true, this.amfClasses.toIsolate(call(...args))];
    } catch (error) {
      if (error instanceof BridgeArgumentError) return [false, `${op}: ${error.message}`];
      // A hook (instance code) failed: log it, never let it break the script.
      this.log('error', { err: error, op }, 'host call failed');
      return [true, undefined];
    } finally {
      this.hostCallDepth--;
    }
  }

  private createHostCalls(): HostCalls {
    const hooks = this.options.hooks;
    return {
      trace: (message) => hooks.trace(text(message, 'text')),
      timedOut: (stack) => {
        // Only host-api sends it, after a deadline reply; anything else is ignored.
        if (this.deadline.passed()) this.timedOut(text(stack, 'stack'));
      },
      unsupported: (member) => this.log('warn', { member }, `unsupported: ${text(member, 'member')}`),
      load: (name) => this.loadFile(text(name, 'name')),
      acceptConnection: (clientId) => hooks.acceptConnection(text(clientId, 'clientId')),
      rejectConnection: (clientId, info) => hooks.rejectConnection(text(clientId, 'clientId'), rejectInfo(info)),
      disconnect: (clientId) => hooks.disconnect(text(clientId, 'clientId')) === true,
      clientCall: (clientId, method, args, responderId) => {
        const id = count(responderId, 'responderId');
        const onResult =
          id > 0 ? (result: ClientCallResult) => this.background(this.event('callResult', { responderId: id, result }, null)) : undefined;
        return hooks.clientCall(text(clientId, 'clientId'), text(method, 'method'), list(args, 'args'), onResult) === true;
      },
      broadcastMsg: (method, args) => hooks.broadcastMsg(text(method, 'method'), list(args, 'args')),
      setClientAccess: (clientId, field, value) => {
        if (!ACCESS_FIELDS.includes(field)) throw new BridgeArgumentError('unknown access field');
        hooks.setClientAccess(text(clientId, 'clientId'), field, text(value, 'value'));
      },
      clientStats: (clientId) => hooks.clientStats(text(clientId, 'clientId')),
      clientPing: (clientId) => hooks.clientPing(text(clientId, 'clientId')),
      applicationStats: () => hooks.applicationStats(),
      shutdown: () => hooks.shutdown(),
      setTimer: (ms, repeat) => this.startTimer(count(ms, 'ms'), repeat === true),
      clearTimer: (timerId) => this.stopTimer(count(timerId, 'timerId')),
      registerClass: (alias, registered) => this.amfClasses.register(text(alias, 'alias'), registered === true),
      ...createMediaHostCalls(hooks.media, hooks.sharedObjects, (responderId, result) => this.background(this.event('callResult', { responderId, result }, null))),
      ...createIoHostCalls(this.files, this.http, (requestId, result) => this.background(this.event('httpResult', { requestId, result }, null))),
    };
  }

  /** load(): queued while main.asc loads (see script-loader.ts), run at once afterwards. */
  private loadFile(name: string): LoadReply {
    if (this.phase === 'loading') {
      this.deferredLoads.push(name);
      return { kind: 'deferred' };
    }
    let file: ScriptSource;
    try {
      file = this.loader.loadFile(name);
    } catch (error) {
      if (!(error instanceof ScriptError)) throw error;
      return { kind: 'failed', error: { name: 'Error', message: error.message, load: true } };
    }
    if (file.encoding !== 'utf-8') this.log('warn', { file: file.filename, encoding: file.encoding }, 'script is not valid UTF-8');
    const syntax = this.loader.checkSyntax(file);
    return syntax === undefined ? { kind: 'run', filename: file.filename, source: file.source } : { kind: 'failed', error: syntax };
  }

  /** Timers live here, not in the isolate: disposing the instance clears them all. */
  private startTimer(ms: number, repeat: boolean): number {
    if (this.timers.size >= MAX_TIMERS) throw new BridgeArgumentError(`more than ${MAX_TIMERS} timers`);
    const timerId = this.nextTimerId++;
    const tick = (): void => {
      if (!repeat) this.timers.delete(timerId);
      if (this.ticking.has(timerId)) return;
      this.ticking.add(timerId);
      const job = this.enqueue(() => {
        this.ticking.delete(timerId);
        return this.runEvent('timer', { timerId }, null);
      });
      this.background(job);
    };
    const delay = Math.min(MAX_TIMER_MS, Math.max(MIN_TIMER_MS, ms));
    const timer = repeat ? setInterval(tick, delay) : setTimeout(tick, delay);
    timer.unref();
    this.timers.set(timerId, timer);
    return timerId;
  }

  private stopTimer(timerId: number): void {
    clearTimeout(this.timers.get(timerId));
    this.timers.delete(timerId);
  }

  /** Jobs nobody awaits (timer ticks, call results): a failure there is a host bug worth a log line. */
  private background(job: Promise<unknown>): void {
    job.catch((error: unknown) => this.log('error', { err: error }, 'sandbox job failed'));
  }
}

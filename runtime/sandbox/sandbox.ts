/**
 * One application instance's script, in its own isolated-vm isolate (one isolate, one context):
 * the isolate's life cycle. The bridge into it is host-bridge.ts (isolate → host, generic over
 * host-api/protocol.ts), the sandbox's own services script-services.ts, timers script-timers.ts.
 *
 * Every event goes through a per-instance FIFO and into the isolate asynchronously with a timeout,
 * so handlers run to completion in order while a runaway script never blocks the Node event loop
 * that moves media for other instances. Only plain data crosses.
 *
 * Every script failure reaches the owner through exactly ONE channel (so it is logged once):
 * - start() rejects with the ScriptError when main.asc, a load()ed file, onAppStart's time or
 *   memory budget, or the isolate itself fails during start. Nothing else is called.
 * - onFatal(error), once: a timeout or out-of-memory after start poisons the isolate (disposed,
 *   timers cleared). The call that was running and every later one resolve with neutral values.
 * - onScriptError(error): an exception thrown by a handler (or a failed load() inside one). The
 *   instance keeps running; application.onStatus receives Application.Script.Error as in FMS.
 * Neutral values (after a fatal error or dispose()): connect 'reject', call Call.Failed, appStop true.
 * retire() (a hot reload's swap) lets the running handler finish, then disposes; a call whose turn
 * comes after it answers with `notRun` so the instance can hand it to the new generation.
 *
 * The handler timeout is isolated-vm's and, for time spent in host calls and host waits, the host's
 * own (dispatch-deadline.ts): a loop of host calls or waits ends like a pure-JS loop.
 */
import os from 'node:os';
import ivm from 'isolated-vm';
import { ErrorCode, ScriptError } from '../errors.ts';
import { FMS_VERSION, status } from '../common/status-codes.ts';
import type { BootOptions, DispatchFunction, DispatchReply, SandboxEventName, SandboxEvents, ThrownRecord } from '../../host-api/protocol.ts';
import { DEFAULT_CONFIG } from '../config.ts';
import { DEFAULT_LOG_LIMITS, type Logger } from '../log/logger.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import { AmfClassTags } from './amf-class-tags.ts';
import { HostBridge, type SandboxServices } from './host-bridge.ts';
import { hostApiBundle } from './host-api-bundle.ts';
import { isolateCreated, isolateFreed, isolateThreadLost } from './isolate-counters.ts';
import { DispatchDeadline } from './dispatch-deadline.ts';
import { classifyCatastrophe, classifyFailure, classifyThrown, isFatal, locateStack, scriptErrorInfo, timeoutError, type FailureContext } from './isolate-errors.ts';
import { ScriptFileGuard } from './script-file-guard.ts';
import { ScriptFiles } from './script-files.ts';
import { ScriptHttp } from './script-http.ts';
import { HOST_API_FILENAME, ScriptLoader, type ScriptSource } from './script-loader.ts';
import { ScriptLoads } from './script-loads.ts';
import { ScriptRemoting } from './script-remoting.ts';
import { remotingRoutes, scriptServices } from './script-services.ts';
import { ScriptTimers } from './script-timers.ts';
import { DEFAULT_BUDGETS, type SandboxOptions } from './sandbox-options.ts';

/** Installing host-api is our own code; it gets a fixed allowance, not the script's. */
const BOOT_TIMEOUT_MS = 5000;

/** V8 code cache of the host-api bundle, shared by every isolate of the process (cheaper cold starts). */
let bundleCodeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;

type Payload<K extends SandboxEventName> = SandboxEvents[K]['payload'];
type Result<K extends SandboxEventName> = SandboxEvents[K]['result'];

/** What an event answers when the script is gone (poisoned, disposed, not installed). */
function neutralReply<K extends SandboxEventName>(event: K, payload: Payload<K>): Result<K> {
  switch (event) {
    case 'connect':
      return 'reject' as Result<K>;
    case 'call':
    case 'ncCall':
      return { ok: false, code: 'NetConnection.Call.Failed', description: `Method not found (${(payload as { method: string }).method}).` } as Result<K>;
    case 'appStop':
      return true as Result<K>;
    default:
      return null as Result<K>;
  }
}

export class Sandbox {
  readonly name: string;
  private readonly loader: ScriptLoader;
  private readonly loads: ScriptLoads;
  private readonly failure: FailureContext;
  private isolate: ivm.Isolate | undefined;
  private context: ivm.Context | undefined;
  private dispatchRef: ivm.Reference<DispatchFunction> | undefined;
  private dead: ScriptError | undefined;
  private disposed = false;
  /** retire() was called: nothing new starts; disposed when the running job ends. */
  private retiring = false;
  /** A FIFO job is running now (retire() waits for it). */
  private jobRunning = false;
  /** start() resolved: from now on fatal errors go to onFatal instead of start()'s rejection. */
  private started = false;
  private loading: Promise<void> | undefined;
  /** This sandbox's isolate is counted in isolate-counters.ts (until teardown). */
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
  /** The handler timeout as the host keeps it (host calls and waits included): see dispatch-deadline.ts. */
  private readonly deadline: DispatchDeadline;
  private readonly budgets: NonNullable<SandboxOptions['budgets']>;
  /** Budget hits and failed writes: one line per budget per interval. */
  private readonly problems: RateLimitedLog | null;
  /** application.registerClass: class aliases across the bridge (idle until a script registers one). */
  private readonly amfClasses = new AmfClassTags();
  /** The script's timers, open files and HTTP requests: cleared / closed / aborted when the isolate goes. */
  private readonly timers: ScriptTimers;
  private readonly files: ScriptFiles;
  private readonly http: ScriptHttp;
  /** Server-side NetConnections to http(s):// gateways; a turn's calls leave when the turn ends. */
  private readonly remoting: ScriptRemoting;
  private readonly bridge: HostBridge;

  constructor(private readonly options: SandboxOptions) {
    this.name = `${options.appName}/${options.instanceName}`;
    this.budgets = options.budgets ?? DEFAULT_BUDGETS;
    // RateLimitedLog calls only warn/error(fields, message), which every SandboxLogger has.
    this.problems = options.logger ? new RateLimitedLog(options.logger as unknown as Logger) : null;
    this.loader = new ScriptLoader({ ...options, maxScriptBytes: this.budgets.maxScriptBytes });
    this.loads = new ScriptLoads(this.loader, (file) => this.warnEncoding(file));
    this.failure = {
      sources: this.loader,
      handlerTimeoutMs: options.handlerTimeoutMs,
      memoryLimitMb: options.memoryLimitMb,
      maxTextChars: options.maxTextChars ?? DEFAULT_LOG_LIMITS.maxMessageChars,
    };
    this.deadline = new DispatchDeadline(options.handlerTimeoutMs, () => this.timedOut(undefined));
    this.timers = new ScriptTimers((timerId, taken) =>
      this.background(
        this.enqueue(() => {
          taken();
          return this.runEvent('timer', { timerId });
        }),
      ),
    );
    this.files = new ScriptFiles({
      appDir: options.appDir,
      virtualDirectories: options.fileVirtualDirectories ?? [],
      onRefused: (input, reason) => this.log('warn', { code: ErrorCode.ScriptFileRefused, path: input, reason }, `File access refused: ${reason}`),
      onProblem: (code, budget, input, reason) => {
        const fields = { app: this.name, code, path: input, reason };
        if (code === ErrorCode.StorageWriteFailed) this.problems?.warn(budget, fields, `File: ${reason}`);
        else this.problems?.exceeded(budget, fields, `File: ${reason}`);
      },
      // main.asc and every load()ed file: never renamed, removed or overwritten by the script.
      guard: new ScriptFileGuard(() => this.loader.filesRead),
      maxIoBytes: this.budgets.fileMaxIoBytes,
      maxListEntries: this.budgets.fileMaxListEntries,
    });
    this.http = new ScriptHttp({
      ...(options.http ?? { allowHosts: [], timeoutMs: 10_000, maxBytes: 1024 * 1024 }),
      ...(options.refusedHttpPorts ? { refusedLoopbackPorts: options.refusedHttpPorts } : {}),
      onProblem: (url, reason) => this.log('warn', { code: ErrorCode.ScriptHttpFailed, url, reason }, `HTTP request failed: ${reason}`),
    });
    this.remoting = new ScriptRemoting(this.http, options.remoting ?? DEFAULT_CONFIG.scripts.remoting, {
      status: (ncId, info) => this.background(this.event('ncStatus', { ncId, info })),
      problem: (fields, message) => this.log('warn', fields, message),
      exchanged: (fields) => this.options.logger?.debug?.({ app: this.name, ...fields }, 'remoting exchange'),
    });
    this.bridge = new HostBridge({
      instance: options.hooks,
      services: this.services(),
      respond: (responderId) => (result) => this.background(this.event('callResult', { responderId, result })),
      live: () => this.isLive(),
      // Past the handler's time: no more work for this script (host-api then reports with timedOut).
      overdue: (op) => op !== 'timedOut' && this.deadline.passed(),
      amfClasses: this.amfClasses,
      ioWaitMs: this.budgets.ioWaitMs,
      log: (level, fields, message) => this.log(level, fields, message),
    });
  }

  /** The sandbox's own services, and its routing of server-side NetConnections to Flash Remoting. */
  private services(): SandboxServices {
    const services = scriptServices({
      files: this.files,
      http: this.http,
      remoting: this.remoting,
      timers: this.timers,
      amfClasses: this.amfClasses,
      load: (name, callerStack) => this.loads.request(name, callerStack),
      httpResult: (requestId, result) => this.background(this.event('httpResult', { requestId, result })),
      unsupported: (member) => this.log('warn', { member }, `unsupported: ${member}`),
      timedOut: (stack) => {
        // Only host-api sends it, after a deadline reply; anything else is ignored.
        if (this.deadline.passed()) this.timedOut(stack);
      },
      trace: (text) => this.onTrace(text),
    });
    return { ...services, ...remotingRoutes(this.remoting, this.options.hooks) };
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

  /** One event into the isolate after those before it; its neutral value when the script is gone. */
  dispatch<K extends SandboxEventName>(event: K, payload: Payload<K>): Promise<Result<K>> {
    return this.event(event, payload);
  }

  sourceFiles(): string[] {
    return this.loader.filesRead;
  }

  /** Host memory this script holds outside its isolate: open-file buffers and timers. */
  hostBytes(): number {
    return this.files.bufferedBytes + this.timers.bytes;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.teardown(false);
  }

  /**
   * A hot reload replaced this script: events still queued settle as not run (a call with
   * `notRun`), a handler already running finishes (under its timeout), then dispose(). Idempotent.
   */
  retire(): void {
    if (this.disposed || this.retiring) return;
    this.retiring = true;
    // No more ticks; queued events settle as not run (runEvent). A job running now ends first.
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
      isolateCreated();
      this.counted = true;
      this.context = await this.isolate.createContext();
      this.dispatchRef = await this.install(code);
      await this.runFile(main);
      for (const file of this.loads.queued()) await this.runFile(file);
      this.loads.running();
      this.remoting.flush(); // remoting calls of the top level leave together
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

  /** Evaluates the bundle and calls its install(host, options, trace, hostWait); keeps only the dispatch Reference. */
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
      maxTextChars: this.failure.maxTextChars,
    };
    const host = new ivm.Callback((op: unknown, args: unknown) => this.bridge.call(op, args));
    // trace() does not wait for Node's thread (protocol.ts TraceFunction); runs in call order with the rest.
    const trace = new ivm.Callback((text: unknown) => this.onTrace(text), { ignored: true });
    const hostWait = new ivm.Reference((op: unknown, args: unknown) =>
      this.bridge.wait(op, args, (reply) => new ivm.ExternalCopy(reply).copyInto({ release: true })),
    );
    try {
      return (await install.apply(undefined, [host, new ivm.ExternalCopy(boot).copyInto(), trace, hostWait], {
        result: { reference: true },
        timeout: BOOT_TIMEOUT_MS,
      })) as ivm.Reference<DispatchFunction>;
    } finally {
      install.release();
    }
  }

  /** trace() text, from the trace callback or traceWait (host-api cut it already; the logger bounds it again). */
  private onTrace(text: unknown): void {
    if (!this.isLive() || typeof text !== 'string') return;
    try {
      this.options.hooks.trace(text);
    } catch (error) {
      this.log('error', { err: error }, 'trace hook failed');
    }
  }

  private async runFile(file: ScriptSource): Promise<void> {
    this.warnEncoding(file);
    const isolate = this.isolate as ivm.Isolate;
    const script = await this.race(isolate.compileScript(file.source, { filename: file.filename }));
    await this.timed(() => script.run(this.context as ivm.Context, { timeout: this.options.handlerTimeoutMs, release: true }));
  }

  private warnEncoding(file: ScriptSource): void {
    if (file.encoding !== 'utf-8') this.log('warn', { file: file.filename, encoding: file.encoding }, 'script is not valid UTF-8');
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

  private event<K extends SandboxEventName>(event: K, payload: Payload<K>): Promise<Result<K>> {
    return this.enqueue(() => this.runEvent(event, payload));
  }

  private async runEvent<K extends SandboxEventName>(event: K, payload: Payload<K>): Promise<Result<K>> {
    if (!this.isLive() || this.retiring || this.dispatchRef === undefined) {
      const neutral = neutralReply(event, payload);
      // Its turn came after a hot reload retired this script: the owner may hand a call to the next one.
      return this.retiring && event === 'call' ? ({ ...(neutral as object), notRun: true } as Result<K>) : neutral;
    }
    try {
      return await this.send(event, payload);
    } catch (error) {
      // A fatal error was already handed to onFatal; disposal was the owner's decision.
      if (!this.isLive()) return neutralReply(event, payload);
      throw error;
    }
  }

  private isLive(): boolean {
    return this.dead === undefined && !this.disposed;
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
      this.remoting.flush(); // the handler's turn is over: its remoting calls leave in one packet per connection
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
   * The running handler is past its time and the isolate is still busy (a loop of host calls or
   * waits, or isolated-vm's interrupt got lost): end it as isolated-vm ends a pure-JS timeout.
   * `stack` is where host-api found the script when told of the deadline (undefined from the backstop).
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
    try {
      this.options.onScriptError(error);
    } catch (listenerError) {
      this.log('error', { err: listenerError }, 'onScriptError listener threw');
    }
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
    const lostIsolates = isolateThreadLost();
    // Not seen on isolated-vm 7 with the bombs of docs/v8-failures.md; kept as the safety net it is.
    this.log(
      'error',
      { code: ErrorCode.ScriptIsolateLost, message, lostIsolates },
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
    this.timers.clear();
    this.files.closeAll();
    this.remoting.close();
    this.http.abortAll();
    if (this.counted) {
      this.counted = false;
      isolateFreed();
    }
    const isolate = this.isolate;
    if (isolate === undefined) return;
    const dispose = (): void => {
      if (!isolate.isDisposed) isolate.dispose();
    };
    // The isolate waits in a host call: disposing then must wait for the call to return.
    if (deferDispose || this.bridge.depth > 0) setImmediate(dispose);
    else dispose();
  }

  private log(level: 'info' | 'warn' | 'error', fields: object, message: string): void {
    this.options.logger?.[level]({ app: this.name, ...fields }, message);
  }

  /** Jobs nobody awaits (timer ticks, call results): a failure there is a host bug worth a log line. */
  private background(job: Promise<unknown>): void {
    job.catch((error: unknown) => this.log('error', { err: error }, 'sandbox job failed'));
  }
}

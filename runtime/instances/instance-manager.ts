import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { RateLimitedLog } from '../log/rate-limited-log.ts';
import type { RtmpConnection } from '../rtmp/connection.ts';
import type { AppCatalog, AppDefinition } from './app-catalog.ts';
import { AppInstance, type AppInstanceOptions } from './app-instance.ts';
import type { ScriptFactory } from './script-generation.ts';
import type { ArgumentLimits } from '../sessions/argument-budget.ts';
import { ClientSession, type SessionLimits } from '../sessions/client-session.ts';
import { refused } from '../sessions/connect-request.ts';
import { status } from '../common/status-codes.ts';

/** What the manager enforces before routing a connect (config `rtmp.*`, `instances.*`). */
export interface ConnectBudgets {
  arguments: ArgumentLimits;
  /** rtmp.connectTimeoutMs: from the end of the handshake to the application's decision. */
  connectTimeoutMs: number;
  /** rtmp.idleTimeoutSec in ms. */
  idleTimeoutMs: number;
  /** Loaded (starting or running) instances of one app, and of all apps. */
  maxInstancesPerApp: number;
  maxInstancesTotal: number;
  budgetLog: RateLimitedLog;
}

/**
 * Routes each new connection to its application instance, creating instances lazily on the first
 * connect (FMS semantics) and forgetting them when they close. Every connect is checked against the
 * argument budgets first, and a new instance against the instance caps.
 */
export class InstanceManager {
  readonly #catalog: AppCatalog;
  readonly #options: AppInstanceOptions;
  readonly #budgets: ConnectBudgets;
  readonly #sessionLimits: SessionLimits;
  readonly #createScript: ScriptFactory;
  readonly #log: Logger;
  readonly #instances = new Map<string, AppInstance>();
  /** The reload of each app now running (reloadApp), which the next reload of that app waits for. */
  readonly #reloads = new Map<string, Promise<void>>();

  constructor(catalog: AppCatalog, options: AppInstanceOptions, budgets: ConnectBudgets, createScript: ScriptFactory, log: Logger) {
    this.#catalog = catalog;
    this.#options = options;
    this.#budgets = budgets;
    this.#sessionLimits = { arguments: budgets.arguments, connectTimeoutMs: budgets.connectTimeoutMs, idleTimeoutMs: budgets.idleTimeoutMs, budgetLog: budgets.budgetLog };
    this.#createScript = createScript;
    this.#log = log;
  }

  get instances(): AppInstance[] {
    return [...this.#instances.values()];
  }

  /** Whether `name` ("app/instance") is a loaded instance (the live log keeps a ring only for those). */
  has(name: string): boolean {
    return this.#instances.has(name);
  }

  /**
   * A connection whose handshake completed becomes a client session, which routes its connect here
   * — or, in the primary of process distribution, `elsewhere`: to the worker process that owns the
   * instance (the connect was read and checked here first, as in one process).
   */
  adopt(connection: RtmpConnection, elsewhere?: (session: ClientSession) => void): ClientSession {
    return new ClientSession(connection, this.#sessionLimits, this.#log.child({ ip: connection.remoteAddress }), elsewhere ?? ((session) => this.#route(session)));
  }

  /** A connect to `app/instance`: to its instance, created on the first connect (within the instance caps). */
  #route(session: ClientSession): void {
    const target = session.target!;
    const def = this.#catalog.lookup(target.app);
    if (!def) {
      session.decide(refused(status.connectInvalidApp(target.app), 'unknown application'));
      return;
    }
    const key = `${def.name}/${target.instance}`;
    let instance = this.#instances.get(key);
    if (!instance || instance.state === 'closed' || instance.state === 'stopping') {
      if (def.scriptMissing) {
        // Fail closed: without its script the app's onConnect checks are gone; never accept everyone.
        session.decide(refused(status.connectRejected(`Application (${def.name}) script is missing.`), 'application script missing', 'warn'));
        return;
      }
      const full = this.#makeRoom(def.name);
      if (full) {
        this.#budgets.budgetLog.exceeded(full, { code: ErrorCode.InstanceLimit, ip: session.info.ip, app: def.name, loaded: this.#loadedCount() }, 'instance limit reached; connect rejected');
        session.decide(refused(status.connectRejected(`Resource limit reached: no more instances of application ${def.name} can be loaded.`), `over budget: ${full}`, 'debug'));
        return;
      }
      instance = this.#create(def, target.instance, key);
      this.#instances.set(key, instance);
    }
    void instance.connect(session);
  }

  #loadedCount(appName?: string): number {
    let count = 0;
    for (const instance of this.#instances.values()) {
      if ((instance.state === 'starting' || instance.state === 'running') && (appName === undefined || instance.def.name === appName)) count++;
    }
    return count;
  }

  /**
   * Room for one more instance of `appName` under instances.maxPerApp and instances.maxTotal. At a
   * cap, the instance idle the longest (no clients, waiting for its idle unload) in the cap's scope
   * is unloaded now with Application.GC, as its idle time would later — so instances someone left
   * cannot keep out the clients of new ones. Returns null when there is room, else the cap's key.
   */
  #makeRoom(appName: string): string | null {
    for (;;) {
      const full =
        this.#loadedCount(appName) >= this.#budgets.maxInstancesPerApp ? 'instances.maxPerApp' : this.#loadedCount() >= this.#budgets.maxInstancesTotal ? 'instances.maxTotal' : null;
      if (!full) return null;
      let victim: AppInstance | null = null;
      for (const instance of this.#instances.values()) {
        if (instance.idleSince === null || (full === 'instances.maxPerApp' && instance.def.name !== appName)) continue;
        if (victim === null || instance.idleSince < victim.idleSince!) victim = instance;
      }
      if (!victim) return full;
      victim.log.info('unloaded early to make room for a new instance');
      void victim.unload('Application.GC'); // stopping at once: no longer counted
      if (victim.state === 'running') return full; // cannot happen (unload marks it stopping first); never loop on it
    }
  }

  /**
   * Hot reload of one app; other apps are never touched. In either mode the new version's top level
   * runs in a fresh isolate first and a failure leaves the old version serving (its error is already
   * logged with file:line).
   * - 'carry': each instance swaps in the new script and replays connects and publishes to it
   *   (AppInstance.reload): clients and live streams stay.
   * - 'restart' (FMS-style): the new instance starts (top level + onAppStart) beside the old one,
   *   then replaces it; the old one's clients get NetConnection.Connect.AppShutdown.
   * A removed app folder unloads its instances; a removed script does not (fail closed: the loaded
   * version keeps serving). `onlyInstance` limits it to one instance (admin console).
   */
  reloadApp(appName: string, mode: 'carry' | 'restart', onlyInstance?: string): Promise<{ reloaded: string[]; failed: string[] }> {
    // One reload of an app at a time: the watcher, the library watcher and the admin routes can
    // each ask while one is running. Two overlapping restarts would both replace the
    // same old instance and orphan the first new one (an unlisted instance with its own isolate and
    // shared-object store, which would flush stale persistent data when it finally idles out).
    const run = (this.#reloads.get(appName) ?? Promise.resolve()).then(() => this.#reloadApp(appName, mode, onlyInstance));
    const settled = run.then(() => undefined, () => undefined);
    this.#reloads.set(appName, settled);
    void settled.then(() => {
      if (this.#reloads.get(appName) === settled) this.#reloads.delete(appName);
    });
    return run;
  }

  async #reloadApp(appName: string, mode: 'carry' | 'restart', onlyInstance?: string): Promise<{ reloaded: string[]; failed: string[] }> {
    const result = { reloaded: [] as string[], failed: [] as string[] };
    const def = this.#catalog.lookup(appName);
    const old = this.instances.filter((i) => i.def.name === appName && i.state === 'running' && (onlyInstance === undefined || i.instanceName === onlyInstance));
    if (def?.scriptMissing && old.length > 0) {
      this.#log.warn({ appName }, 'application script disappeared; the loaded version keeps serving, new instances are refused');
      result.failed.push(...old.map((instance) => instance.name));
      return result;
    }
    for (const instance of old) {
      if (!def) {
        await instance.unload('Application.Shutdown');
        continue;
      }
      const key = instance.name;
      const ok = mode === 'carry' ? await instance.reload(def) : await this.#restart(instance, def);
      if (!ok) {
        this.#log.error({ app: key }, 'reload failed; the previous version keeps serving');
        result.failed.push(key);
        continue;
      }
      result.reloaded.push(key);
    }
    return result;
  }

  /** Apps with a loaded instance whose script has run `file` (a library outside the app folder). */
  appsUsing(file: string): string[] {
    return [...new Set(this.instances.filter((i) => i.state === 'running' && i.sourceFiles().includes(file)).map((i) => i.def.name))];
  }

  async #restart(instance: AppInstance, def: AppDefinition): Promise<boolean> {
    const next = this.#create(def, instance.instanceName, instance.name);
    if (!(await next.started)) return false;
    this.#instances.set(instance.name, next);
    await instance.unload('Application.Shutdown');
    next.log.info({ mode: 'restart' }, 'instance reloaded');
    return true;
  }

  /**
   * Application.xml LoadOnStartup: starts an app's default instance without a client (it then
   * idles like any instance no one uses). Resolves false when the app or its start failed.
   */
  async loadOnStartup(appName: string, instanceName = '_definst_'): Promise<boolean> {
    const def = this.#catalog.lookup(appName);
    if (!def || def.scriptMissing) return false;
    const key = `${def.name}/${instanceName}`;
    let instance = this.#instances.get(key);
    if (!instance || instance.state === 'closed' || instance.state === 'stopping') {
      instance = this.#create(def, instanceName, key);
      this.#instances.set(key, instance);
    }
    return instance.started;
  }

  #create(def: AppDefinition, instanceName: string, key: string): AppInstance {
    return new AppInstance(def, instanceName, this.#options, this.#createScript, this.#log, (closed) => {
      if (this.#instances.get(key) === closed) this.#instances.delete(key);
    });
  }

  /** Server stop: every instance gets onAppStop(Application.Shutdown). */
  async closeAll(): Promise<void> {
    await Promise.all(this.instances.map((instance) => instance.unload('Application.Shutdown')));
  }
}

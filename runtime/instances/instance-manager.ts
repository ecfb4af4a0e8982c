import type { Logger } from '../log/logger.ts';
import type { RtmpCommand, RtmpConnection } from '../rtmp/connection.ts';
import type { AppCatalog, AppDefinition } from './app-catalog.ts';
import { AppInstance, type AppInstanceOptions, type ScriptFactory } from './app-instance.ts';
import { ClientSession } from './client-session.ts';
import { status } from './status-codes.ts';
import { parseConnectTarget } from './tc-url.ts';

/**
 * Routes each new connection to its application instance, creating instances lazily on the first
 * connect (FMS semantics) and forgetting them when they close.
 */
export class InstanceManager {
  readonly #catalog: AppCatalog;
  readonly #options: AppInstanceOptions;
  readonly #createScript: ScriptFactory;
  readonly #log: Logger;
  readonly #instances = new Map<string, AppInstance>();
  /** The reload of each app now running (reloadApp), which the next reload of that app waits for. */
  readonly #reloads = new Map<string, Promise<void>>();

  constructor(catalog: AppCatalog, options: AppInstanceOptions, createScript: ScriptFactory, log: Logger) {
    this.#catalog = catalog;
    this.#options = options;
    this.#createScript = createScript;
    this.#log = log;
  }

  get instances(): AppInstance[] {
    return [...this.#instances.values()];
  }

  /** Handles a connection whose handshake completed: waits for its connect command. */
  adopt(connection: RtmpConnection, connectTimeoutMs: number): void {
    const timer = setTimeout(() => {
      this.#log.warn({ ip: connection.remoteAddress }, 'no connect command in time; closing');
      connection.close('no connect command in time');
    }, connectTimeoutMs);
    let handled = false;
    const onCommand = (command: RtmpCommand) => {
      handled = true;
      clearTimeout(timer);
      connection.off('command', onCommand);
      this.#onConnect(connection, command);
    };
    connection.on('command', onCommand);
    connection.once('close', (reason, error) => {
      clearTimeout(timer);
      // After connect the session logs its own end; before it, this is the one line.
      if (!handled && error) this.#log.warn({ ip: connection.remoteAddress, reason, code: (error as { code?: string }).code }, 'connection closed before connect');
    });
  }

  #onConnect(connection: RtmpConnection, command: RtmpCommand): void {
    const log = this.#log.child({ ip: connection.remoteAddress });
    if (command.name !== 'connect') {
      log.warn({ command: command.name }, 'first command is not connect; closing');
      connection.close('protocol: first command is not connect');
      return;
    }
    const props = command.commandObject as Record<string, unknown> | null;
    const target = parseConnectTarget(props?.['tcUrl'], props?.['app']);
    if (!target) {
      log.warn('connect without tcUrl or app; closing');
      connection.sendCommand(0, '_error', command.transactionId, null, [status.connectRejected('Connect needs a tcUrl or app.')]);
      connection.close('connect without tcUrl');
      return;
    }
    const session = new ClientSession(connection, command, target, log);
    const def = this.#catalog.lookup(target.app);
    if (!def) {
      log.info({ app: target.app }, 'connect to unknown application rejected');
      session.rejectWith(status.connectInvalidApp(target.app));
      return;
    }
    const key = `${def.name}/${target.instance}`;
    let instance = this.#instances.get(key);
    if (!instance || instance.state === 'closed' || instance.state === 'stopping') {
      if (def.scriptMissing) {
        // Fail closed: without its script the app's onConnect checks are gone; never accept everyone.
        log.warn({ app: def.name }, 'connect refused: the application script is missing');
        session.rejectWith(status.connectRejected(`Application (${def.name}) script is missing.`));
        return;
      }
      instance = this.#create(def, target.instance, key);
      this.#instances.set(key, instance);
    }
    void instance.connect(session);
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

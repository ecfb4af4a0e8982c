import type { Config } from '../config.ts';
import type { ScriptFactory } from '../instances/script-generation.ts';
import { NoScript } from '../instances/no-script.ts';
import type { Logger } from '../log/logger.ts';
import { Sandbox } from '../sandbox/sandbox.ts';
import type { SandboxOptions } from '../sandbox/sandbox-options.ts';

/** What a sandbox needs from the server besides config: its HTTP port(s) and the dispatch metric. */
export interface ScriptFactoryDeps {
  config: Config;
  log: Logger;
  refusedHttpPorts: () => readonly number[];
  onDispatch: (instance: string, ...rest: Parameters<NonNullable<SandboxOptions['onDispatch']>>) => void;
}

/**
 * Wires the sandbox into the instances: an app folder with a script gets a Sandbox with the
 * server-wide scripts.* values, Application.xml winning per app; one without gets NoScript.
 */
export function scriptFactory({ config, log, refusedHttpPorts, onDispatch }: ScriptFactoryDeps): ScriptFactory {
  return (def, instanceName, { hooks, onScriptError, onFatal }) => {
    if (!def.scriptPath) return new NoScript();
    const { scripts } = config;
    const app = def.settings; // Application.xml wins over the server-wide scripts.* values
    const name = `${def.name}/${instanceName}`;
    return new Sandbox({
      appName: def.name,
      instanceName,
      appDir: def.dir,
      scriptPath: def.scriptPath,
      scriptLibPaths: app?.libPaths ?? scripts.libPaths,
      memoryLimitMb: app?.memoryLimitMb ?? scripts.memoryLimitMb,
      handlerTimeoutMs: app?.handlerTimeoutMs ?? scripts.handlerTimeoutMs,
      ...(app ? { config: app.config } : {}),
      exposeJson: scripts.exposeJson,
      exposeSetTimeout: scripts.exposeSetTimeout,
      // Application.xml JSEngine/FileObject first: on the same prefix the app's own mapping wins.
      fileVirtualDirectories: [...(app?.fileDirs ?? []), ...scripts.fileVirtualDirectories],
      http: scripts.http,
      remoting: scripts.remoting,
      refusedHttpPorts,
      budgets: { ioWaitMs: scripts.ioWaitMs, maxScriptBytes: scripts.maxScriptBytes, fileMaxIoBytes: scripts.fileMaxIoBytes, fileMaxListEntries: scripts.fileMaxListEntries },
      hooks,
      onScriptError,
      onFatal,
      logger: log.child({ app: name }),
      maxTextChars: config.log.maxMessageChars,
      onDispatch: (event, seconds) => onDispatch(name, event, seconds),
    });
  };
}

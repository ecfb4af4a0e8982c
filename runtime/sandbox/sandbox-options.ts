import type { InstanceHooks, SandboxEventName } from '../../host-api/protocol.ts';
import type { ScriptError } from '../errors.ts';
import type { RemotingBudgets } from './script-remoting.ts';

/** What a Sandbox is made of: the app's script, its limits and budgets, and its owner's half of the bridge. */

export interface SandboxLogger {
  debug?(fields: object, message?: string): void;
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
  /** The instance's half of the bridge (protocol.ts InstanceHooks). */
  hooks: InstanceHooks;
  /** A handler threw: logged once by the owner; the instance keeps running. */
  onScriptError: (error: ScriptError) => void;
  onFatal: (error: ScriptError) => void;
  hostname?: string;
  config?: Record<string, string>;
  logger?: SandboxLogger;
  /** FMS VirtualDirectory entries for File, "/virtual;/native/dir" (config scripts.fileVirtualDirectories). */
  fileVirtualDirectories?: readonly string[];
  /** LoadVars / XML limits (config scripts.http); default: loopback only, 10 s, 1 MiB. */
  http?: { allowHosts: readonly string[]; timeoutMs: number; maxBytes: number };
  /** Flash Remoting budgets (config scripts.remoting); the HTTP rules are `http`'s. */
  remoting?: RemotingBudgets;
  /** This server's HTTP port(s): refused to scripts even on loopback (the admin API trusts loopback). */
  refusedHttpPorts?: () => readonly number[];
  /** Told how long each event dispatch into the isolate took (metrics); must not throw. */
  onDispatch?: (event: SandboxEventName, seconds: number) => void;
  /**
   * Budgets of the host work a script asks for (config scripts.*): the longest a script waits for
   * work done off the event loop, script file size, File I/O per call, File.list entries.
   */
  budgets?: { ioWaitMs: number; maxScriptBytes: number; fileMaxIoBytes: number; fileMaxListEntries: number };
  /**
   * trace() text and script error messages are cut to this many characters where they leave the
   * isolate (config log.maxMessageChars), so a 40 MB string is never copied to the host. Default 8192.
   */
  maxTextChars?: number;
}

export const DEFAULT_BUDGETS: NonNullable<SandboxOptions['budgets']> = { ioWaitMs: 3000, maxScriptBytes: 8 * 1024 * 1024, fileMaxIoBytes: 16 * 1024 * 1024, fileMaxListEntries: 10_000 };

/**
 * The isolate → host half of the bridge, generic over the contract: every host call and wait of
 * host-api/protocol.ts arrives here, has its arguments checked against HOST_ARGUMENTS (responder ids
 * become callbacks), and runs its implementation — the sandbox's own service of that name, else the
 * instance's hook (protocol.ts InstanceHooks and ServiceHooks together implement every operation).
 * No operation is named here: a new host call needs its declaration in protocol.ts and its
 * implementation, nothing in this file.
 */
import type ivm from 'isolated-vm';
import {
  HOST_ARGUMENTS,
  type CallHooks,
  type CallResultRecord,
  type HostReply,
  type HostWaitOp,
  type HostWaits,
  type InstanceCalls,
  type InstanceHooks,
  type ServiceHooks,
} from '../../host-api/protocol.ts';
import type { AmfClassTags } from './amf-class-tags.ts';
import { BridgeArgumentError, readArguments } from './bridge-arguments.ts';

/** The sandbox's services, and the instance hooks it serves differently (http(s):// NetConnections). */
export type SandboxServices = ServiceHooks & Partial<CallHooks<InstanceCalls>>;

/** The answer of each waiting operation when it did not finish within scripts.ioWaitMs (or failed). */
const WAIT_FAILURE: { [K in HostWaitOp]: (wanted: string) => ReturnType<HostWaits[K]> } = {
  load: (wanted) => ({ kind: 'failed', error: { name: 'Error', message: `load(${wanted}): not read within scripts.ioWaitMs`, load: true } }),
  soGet: () => false,
  soFlush: () => false,
  fileList: () => null,
  fileChange: () => false,
  fileFlush: () => false,
  traceWait: () => true,
};

const WAIT_OPS = new Set<string>(Object.keys(WAIT_FAILURE));

export interface HostBridgeOptions {
  /** The instance's half of the bridge; looked up at each call (an owner may swap a hook). */
  instance: InstanceHooks;
  services: SandboxServices;
  /** The callback a responder id becomes: its result goes back to the isolate as a `callResult` event. */
  respond(responderId: number): (result: CallResultRecord) => void;
  /** False once the isolate is poisoned or disposed: every call is refused. */
  live(): boolean;
  /**
   * True when the running handler is past its time (host calls and waits included): the call or
   * wait `op` is not run, it gets the deadline reply and the script unwinds (dispatch-deadline.ts).
   */
  overdue(op: string): boolean;
  /** application.registerClass: typed values across the bridge. */
  amfClasses: AmfClassTags;
  /** scripts.ioWaitMs: the longest the isolate waits for host work. */
  ioWaitMs: number;
  log(level: 'warn' | 'error', fields: object, message: string): void;
}

type Implementation = (...values: unknown[]) => unknown;

export class HostBridge {
  readonly #options: HostBridgeOptions;
  /** > 0 while the isolate waits in a host call: disposing then must wait for the call to return. */
  depth = 0;

  constructor(options: HostBridgeOptions) {
    this.#options = options;
  }

  /** The one synchronous callback the isolate has. Every argument is checked: it is script data. */
  call(op: unknown, args: unknown): HostReply<unknown> {
    if (!this.#options.live()) return [false, 'the application instance is unloaded'];
    if (typeof op !== 'string' || WAIT_OPS.has(op) || !Object.hasOwn(HOST_ARGUMENTS, op) || !Array.isArray(args)) {
      return [false, 'unknown host operation'];
    }
    if (this.#options.overdue(op)) return ['deadline'];
    const { amfClasses } = this.#options;
    this.depth++;
    try {
      // registerClass in use: script values leave as typed objects, host values enter tagged.
      if (amfClasses.active) amfClasses.fromIsolate(args);
      const value = this.#run(op, args);
      return [true, amfClasses.active ? amfClasses.toIsolate(value) : value];
    } catch (error) {
      if (error instanceof BridgeArgumentError) return [false, `${op}: ${error.message}`];
      // An implementation (instance code) failed: log it, never let it break the script.
      this.#options.log('error', { err: error, op }, 'host call failed');
      return [true, undefined];
    } finally {
      this.depth--;
    }
  }

  /**
   * The waiting channel (protocol.ts HostWaits): the isolate's thread waits in applySyncPromise
   * while the work runs here asynchronously. Always resolves (never rejects: a rejection would be
   * an exception in the script) with a copy the isolate can take, within scripts.ioWaitMs.
   */
  async wait(op: unknown, args: unknown, copy: (reply: HostReply<unknown>) => ivm.Copy<HostReply<unknown>>): Promise<ivm.Copy<HostReply<unknown>>> {
    return copy(await this.#waitReply(op, args));
  }

  async #waitReply(op: unknown, args: unknown): Promise<HostReply<unknown>> {
    if (!this.#options.live()) return [false, 'the application instance is unloaded'];
    if (typeof op !== 'string' || !WAIT_OPS.has(op) || !Array.isArray(args)) return [false, 'unknown host operation'];
    if (this.#options.overdue(op)) return ['deadline'];
    const waitOp = op as HostWaitOp;
    const { ioWaitMs, log } = this.#options;
    this.depth++;
    const stop = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = Promise.resolve(this.#run(waitOp, args, stop.signal));
      const late = new Promise<unknown>((resolve) => {
        timer = setTimeout(() => {
          stop.abort();
          log('warn', { op, waitMs: ioWaitMs }, 'host work not done within scripts.ioWaitMs; the script gets the failure value');
          resolve(WAIT_FAILURE[waitOp](String(args[0])));
        }, ioWaitMs);
      });
      return [true, await Promise.race([work, late])];
    } catch (error) {
      if (error instanceof BridgeArgumentError) return [false, `${op}: ${error.message}`];
      log('error', { err: error, op }, 'host call failed');
      return [true, WAIT_FAILURE[waitOp](String(args[0]))];
    } finally {
      clearTimeout(timer);
      this.depth--;
    }
  }

  /** Checks the arguments of `op` and runs its implementation (a wait gets the abort signal last). */
  #run(op: string, args: unknown[], signal?: AbortSignal): unknown {
    const specs = HOST_ARGUMENTS[op as keyof typeof HOST_ARGUMENTS];
    const values = readArguments(specs, args, this.#options.respond);
    const { services, instance } = this.#options;
    const owner = (Object.hasOwn(services, op) ? services : instance) as unknown as Record<string, Implementation>;
    return signal === undefined ? owner[op]!(...values) : owner[op]!(...values, signal);
  }
}

/**
 * Entry of the host-api bundle. The host evaluates the bundle inside a function (so its own
 * top-level names are locals, never globals), calls `install(host, options, trace, hostWait)` once and keeps only
 * the returned `dispatch` (as an isolated-vm Reference, on the host side).
 *
 * What a script can reach afterwards: the standard built-ins minus the ones removed below, and the
 * FMS globals installed here. The host callback and the waiting channel's Reference exist only in
 * host.ts's closure; nothing from isolated-vm (no `ivm`, no Reference, no `$0` argument) is on the
 * global object or any object reachable from it. The bundle is strict-mode code, so `fn.caller`,
 * `arguments.callee.caller` and stack-frame `getFunction()` cannot walk from a script handler into
 * host-api frames.
 */
import {
  createApplication,
  onAppStartEvent,
  onAppStopEvent,
  onConnectEvent,
  onDisconnectEvent,
  onPublishEvent,
  onStatusEvent,
} from './application.ts';
import { Client, callMethod, onCallResult } from './client.ts';
import { clearInterval, clearTimeout, load, onTimerEvent, setInterval, setTimeout, trace } from './globals.ts';
import { bindHost, defineProperty, globalObject, setMaxTextChars } from './host.ts';
import type {
  BootOptions,
  CallReply,
  DispatchFunction,
  DispatchReply,
  HostFunction,
  HostWaitReference,
  TraceFunction,
  SandboxEventName,
  SandboxEvents,
} from './protocol.ts';
import { NetConnection, NetStream, onNcCallEvent, onNcStatusEvent, onNsStatusEvent } from './net-connection.ts';
import { onSoSendEvent, onSoStatusEvent, onSoSyncEvent, SharedObject } from './shared-object.ts';
import { onStreamStatusEvent, Stream } from './stream.ts';
import { File } from './file.ts';
import { onHttpResultEvent } from './http-loader.ts';
import { LoadVars } from './load-vars.ts';
import { XML, XMLNode } from './xml.ts';
import { WebService, XMLSocket } from './xml-socket.ts';
import { recordCaught, takeCaught } from './values.ts';
import { restoreClasses, setAmfClassKey } from './amf-classes.ts';

/**
 * V8 built-ins FMS never had. JSON is removed unless configured on because scripts feature-test it
 * and ship their own; console is not FMS; WebAssembly, SharedArrayBuffer and Atomics are removed to
 * keep memory and blocking waits where the isolate's limits see them.
 */
const REMOVED_GLOBALS = ['console', 'WebAssembly', 'SharedArrayBuffer', 'Atomics'];

function defineGlobal(name: string, value: unknown): void {
  defineProperty(globalObject, name, { value, writable: true, enumerable: false, configurable: true });
}

type Payload<K extends SandboxEventName> = SandboxEvents[K]['payload'];

function run(event: SandboxEventName, payload: unknown): unknown {
  switch (event) {
    case 'connect': {
      const p = payload as Payload<'connect'>;
      return onConnectEvent(p.client, p.args);
    }
    case 'call': {
      const p = payload as Payload<'call'>;
      return callMethod(p.clientId, p.method, p.args);
    }
    case 'appStop':
      return onAppStopEvent((payload as Payload<'appStop'>).info);
    case 'appStart':
      onAppStartEvent();
      return null;
    case 'disconnect':
      onDisconnectEvent((payload as Payload<'disconnect'>).clientId);
      return null;
    case 'publish':
    case 'unpublish': {
      const p = payload as Payload<'publish'>;
      onPublishEvent(p.clientId, p.stream, event === 'publish');
      return null;
    }
    case 'timer':
      onTimerEvent((payload as Payload<'timer'>).timerId);
      return null;
    case 'callResult': {
      const p = payload as Payload<'callResult'>;
      onCallResult(p.responderId, p.result);
      return null;
    }
    case 'status':
      onStatusEvent((payload as Payload<'status'>).info);
      return null;
    case 'ncStatus': {
      const p = payload as Payload<'ncStatus'>;
      onNcStatusEvent(p.ncId, p.info);
      return null;
    }
    case 'ncCall': {
      const p = payload as Payload<'ncCall'>;
      return onNcCallEvent(p.ncId, p.method, p.args);
    }
    case 'nsStatus': {
      const p = payload as Payload<'nsStatus'>;
      onNsStatusEvent(p.nsId, p.info);
      return null;
    }
    case 'soSync': {
      const p = payload as Payload<'soSync'>;
      onSoSyncEvent(p.name, p.list);
      return null;
    }
    case 'soSend': {
      const p = payload as Payload<'soSend'>;
      onSoSendEvent(p.name, p.handler, p.args);
      return null;
    }
    case 'soStatus': {
      const p = payload as Payload<'soStatus'>;
      onSoStatusEvent(p.name, p.info);
      return null;
    }
    case 'streamStatus': {
      const p = payload as Payload<'streamStatus'>;
      onStreamStatusEvent(p.name, p.info);
      return null;
    }
    case 'httpResult': {
      const p = payload as Payload<'httpResult'>;
      onHttpResultEvent(p.requestId, p.result);
      return null;
    }
  }
}

/** The reply when host-api itself threw (e.g. a script broke a built-in it relies on). */
function fallback(event: SandboxEventName, payload: unknown): unknown {
  if (event === 'connect') return 'reject';
  if (event === 'appStop') return true;
  if (event === 'call' || event === 'ncCall') {
    const method = (payload as Payload<'call'>).method;
    return { ok: false, code: 'NetConnection.Call.Failed', description: `Failed to execute method (${method}).` } satisfies CallReply;
  }
  return null;
}

/** Script errors are caught here and travel back as data next to the event's value. */
const dispatch: DispatchFunction = (event, payload) => {
  takeCaught();
  let value: unknown;
  try {
    // Typed objects the host tagged get their registered prototype (a no-op without registerClass).
    value = run(event, restoreClasses(payload));
  } catch (thrown) {
    recordCaught(thrown);
    value = fallback(event, payload);
  }
  const error = takeCaught();
  const reply: DispatchReply<unknown> = error === undefined ? { value } : { value, error };
  return reply as ReturnType<DispatchFunction>;
};

export function install(hostFunction: HostFunction, options: BootOptions, traceFunction: TraceFunction, hostWait: HostWaitReference): DispatchFunction {
  bindHost(hostFunction, traceFunction, hostWait);
  setMaxTextChars(options.maxTextChars);
  setAmfClassKey(options.amfClassKey);
  defineGlobal('application', createApplication(options));
  defineGlobal('Client', Client);
  defineGlobal('Stream', Stream);
  defineGlobal('NetConnection', NetConnection);
  defineGlobal('NetStream', NetStream);
  defineGlobal('SharedObject', SharedObject);
  defineGlobal('File', File);
  defineGlobal('LoadVars', LoadVars);
  defineGlobal('XML', XML);
  defineGlobal('XMLNode', XMLNode);
  defineGlobal('XMLSocket', XMLSocket);
  defineGlobal('WebService', WebService);
  defineGlobal('trace', trace);
  defineGlobal('load', load);
  defineGlobal('setInterval', setInterval);
  defineGlobal('clearInterval', clearInterval);
  if (options.exposeSetTimeout) {
    defineGlobal('setTimeout', setTimeout);
    defineGlobal('clearTimeout', clearTimeout);
  }
  for (let i = 0; i < REMOVED_GLOBALS.length; i++) delete globalObject[REMOVED_GLOBALS[i] as string];
  if (!options.exposeJson) delete globalObject.JSON;
  return dispatch;
}

import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CallHooks, HttpResultRecord, InstanceCalls, InstanceHooks, LoadReply, ServiceHooks } from '../../host-api/protocol.ts';
import type { AmfClassTags } from './amf-class-tags.ts';
import type { ScriptFiles } from './script-files.ts';
import type { ScriptHttp } from './script-http.ts';
import { ScriptRemoting } from './script-remoting.ts';
import type { ScriptTimers } from './script-timers.ts';

/** What the sandbox's own services work with. */
export interface ServiceDeps {
  files: ScriptFiles;
  http: ScriptHttp;
  remoting: ScriptRemoting;
  timers: ScriptTimers;
  amfClasses: AmfClassTags;
  /** load(name) from a handler (or queued during the top level); `callerStack` is where it was called. */
  load(name: string, callerStack: string | undefined): Promise<LoadReply>;
  /** An httpRequest's answer, as an `httpResult` event after the current handler. */
  httpResult(requestId: number, result: HttpResultRecord): void;
  /** "unsupported: <member>", once per member (host-api sends each name once). */
  unsupported(member: string): void;
  /** host-api's report after a deadline reply: where the script was (dispatch-deadline.ts). */
  timedOut(stack: string | undefined): void;
  /** A trace() text to the instance's log, as the trace callback's are. */
  trace(text: string): void;
}

/**
 * The services the sandbox gives the script itself (protocol.ts ServiceCalls / ServiceWaits):
 * timers, File, LoadVars/XML, load(), AMF class tags, Flash Remoting. The arguments arrive checked
 * (host-bridge.ts).
 */
export function scriptServices(deps: ServiceDeps): ServiceHooks {
  const { files, http, remoting, timers, amfClasses } = deps;
  return {
    unsupported: (member) => deps.unsupported(member),
    timedOut: (stack) => deps.timedOut(stack),
    setTimer: (ms, repeat) => timers.start(ms, repeat),
    clearTimer: (timerId) => timers.stop(timerId),
    ncAddHeader: (ncId, name, mustUnderstand, value) => remoting.addHeader(ncId, name, mustUnderstand, value),
    fileInfo: (path) => files.info(path),
    fileOpen: (path, type, mode) => files.open(path, type, mode),
    fileIo: (handle, op, arg) => files.io(handle, op, arg),
    httpRequest: (requestId, request) => {
      const started = http.request(request, (result) => {
        if (requestId > 0) deps.httpResult(requestId, result);
      });
      // Refused (and logged): the target still hears onLoad(false), after the current handler.
      if (!started && requestId > 0) deps.httpResult(requestId, { status: 0, body: null, bytesLoaded: 0, bytesTotal: 0 });
      return started;
    },
    registerClass: (alias, registered) => amfClasses.register(alias, registered),
    load: (name, callerStack) => deps.load(name, callerStack),
    fileList: (path, signal) => files.list(path, signal),
    fileChange: (path, op, arg, signal) => files.change(path, op, arg, signal),
    fileFlush: (handle) => files.flush(handle),
    traceWait: (text) => {
      deps.trace(text);
      // Answered in the check phase: the event loop polls sockets and runs timers before the script goes on.
      return nextTurn(true);
    },
  };
}

/**
 * Server-side NetConnections split by URL: an http(s):// connect makes a Flash Remoting connection
 * served by the sandbox (script-remoting.ts); anything else goes on to the instance's RTMP
 * connections. One NetConnection object may switch between the two by connecting again.
 */
export function remotingRoutes(remoting: ScriptRemoting, rtmp: InstanceHooks): Pick<CallHooks<InstanceCalls>, 'ncConnect' | 'ncCall' | 'ncClose'> {
  return {
    ncConnect: (ncId, uri, args) => {
      if (!ScriptRemoting.isGatewayUri(uri)) {
        remoting.forget(ncId);
        return rtmp.ncConnect(ncId, uri, args);
      }
      rtmp.ncClose(ncId); // an RTMP connection this object had before is closed (no-op when none)
      return remoting.connect(ncId, uri);
    },
    ncCall: (ncId, method, args, onResult) => (remoting.has(ncId) ? remoting.call(ncId, method, args, onResult) : rtmp.ncCall(ncId, method, args, onResult)),
    ncClose: (ncId) => {
      remoting.forget(ncId);
      rtmp.ncClose(ncId);
    },
  };
}

/**
 * The `application` singleton (fms-api §2) and the life-cycle events that reach its handlers:
 * connect (with FMS's onConnect return-value rules), disconnect, publish, unpublish, start, stop,
 * status.
 */
import {
  StringConstructor,
  defineConstant,
  defineMethod,
  emptyMap,
  host,
  objectKeys,
  unsupported,
} from './host.ts';
import {
  type ClientEntry,
  type ClientObject,
  entryById,
  entryOf,
  forgetClient,
  registerClient,
} from './client.ts';
import type { BootOptions, ClientRecord, InfoRecord, RejectRecord, StreamRecord } from './protocol.ts';
import { forgetStream, streamFor } from './stream.ts';
import { invoke, toPlain } from './values.ts';
import { registerClass } from './amf-classes.ts';

type Handler = (...args: unknown[]) => unknown;
export type ApplicationObject = Record<string, unknown>;

/** application.clients: accepted clients only, in accept order. */
const clients: ClientObject[] = [];
const app: ApplicationObject = {};

function handler(name: string): Handler | undefined {
  const value = app[name];
  return typeof value === 'function' ? (value as Handler) : undefined;
}

function markAccepted(entry: ClientEntry): void {
  entry.state = 'accepted';
  clients[clients.length] = entry.client;
  if (handler('onConnectAccept') !== undefined) unsupported('application.onConnectAccept');
}

function dropPending(entry: ClientEntry): void {
  forgetClient(entry);
  if (handler('onConnectReject') !== undefined) unsupported('application.onConnectReject');
}

function removeFromClients(client: ClientObject): void {
  for (let i = 0; i < clients.length; i++) {
    if (clients[i] === client) {
      for (let j = i; j < clients.length - 1; j++) clients[j] = clients[j + 1] as ClientObject;
      clients.length = clients.length - 1;
      return;
    }
  }
}

function pendingEntry(client: unknown): ClientEntry | undefined {
  const entry = entryOf(client);
  return entry !== undefined && entry.state === 'pending' && !entry.decided ? entry : undefined;
}

function acceptConnection(client: unknown): void {
  const entry = pendingEntry(client);
  if (entry === undefined) return;
  entry.decided = true;
  markAccepted(entry);
  host('acceptConnection', entry.id);
}

function reject(client: unknown, info: RejectRecord): void {
  const entry = pendingEntry(client);
  if (entry === undefined) return;
  entry.decided = true;
  dropPending(entry);
  host('rejectConnection', entry.id, info);
}

function rejectConnection(client: unknown, errObj?: unknown): void {
  reject(client, errObj === undefined ? {} : { application: toPlain(errObj) });
}

function redirectConnection(client: unknown, url?: unknown, description?: unknown, errObj?: unknown): void {
  const info: RejectRecord = {};
  if (url !== undefined && url !== null && url !== '') info.redirect = StringConstructor(url);
  if (description !== undefined && description !== null) info.description = StringConstructor(description);
  if (errObj !== undefined) info.application = toPlain(errObj);
  reject(client, info);
}

function disconnect(client: unknown): boolean {
  const entry = entryOf(client);
  return entry === undefined ? false : host('disconnect', entry.id);
}

function broadcastMsg(cmd: unknown, ...args: unknown[]): void {
  const plainArgs: unknown[] = [];
  for (let i = 0; i < args.length; i++) plainArgs[i] = toPlain(args[i]);
  host('broadcastMsg', StringConstructor(cmd), plainArgs);
}

function stub(member: string, result: unknown): () => unknown {
  return function unsupportedMember() {
    unsupported(member);
    return result;
  };
}

export function createApplication(options: BootOptions): ApplicationObject {
  defineConstant(app, 'name', options.name);
  defineConstant(app, 'hostname', options.hostname);
  defineConstant(app, 'server', options.server);
  defineConstant(app, 'clients', clients);
  const config: Record<string, string> = {};
  const keys = objectKeys(options.config);
  for (let i = 0; i < keys.length; i++) config[keys[i] as string] = StringConstructor(options.config[keys[i] as string]);
  app.config = config;
  app.allowDebug = false;
  defineMethod(app, 'acceptConnection', acceptConnection);
  defineMethod(app, 'rejectConnection', rejectConnection);
  defineMethod(app, 'redirectConnection', redirectConnection);
  defineMethod(app, 'disconnect', disconnect);
  defineMethod(app, 'broadcastMsg', broadcastMsg);
  defineMethod(app, 'shutdown', () => host('shutdown'));
  // The isolate collects its own garbage; nothing to ask for.
  defineMethod(app, 'gc', () => undefined);
  defineMethod(app, 'getStats', () => host('applicationStats'));
  defineMethod(app, 'registerClass', registerClass);
  defineMethod(app, 'registerProxy', stub('application.registerProxy', undefined));
  defineMethod(app, 'clearSharedObjects', (soPath: unknown) => host('soClearPath', StringConstructor(soPath)) === true);
  defineMethod(app, 'clearStreams', stub('application.clearStreams', false));
  defineMethod(app, 'denyPeerLookup', stub('application.denyPeerLookup', undefined));
  defineMethod(app, 'sendPeerRedirect', stub('application.sendPeerRedirect', undefined));
  return app;
}

// ---- events ----------------------------------------------------------------------------------

/**
 * onConnect return values (fms-api §2.3): no handler or `true` → accept, `false` → reject, anything
 * else → pending. When the handler called accept/reject/redirect itself, that decision already went
 * to the host and the return value is ignored ('pending': nothing left for the host to do). A
 * handler that throws before deciding rejects the client rather than leaving it hanging.
 */
export function onConnectEvent(record: ClientRecord, args: unknown[]): 'accept' | 'reject' | 'pending' {
  const entry = registerClient(record);
  const onConnect = handler('onConnect');
  if (onConnect === undefined) {
    markAccepted(entry);
    return 'accept';
  }
  const callArgs: unknown[] = [entry.client];
  for (let i = 0; i < args.length; i++) callArgs[i + 1] = args[i];
  const result = invoke(onConnect, app, callArgs);
  if (entry.decided) return 'pending';
  if (!result[0] || result[1] === false) {
    dropPending(entry);
    return 'reject';
  }
  if (result[1] === true) {
    markAccepted(entry);
    return 'accept';
  }
  return 'pending';
}

/** onDisconnect fires for accepted clients only; the client has already left application.clients. */
export function onDisconnectEvent(clientId: string): void {
  const entry = entryById(clientId);
  if (entry === undefined) return;
  forgetClient(entry);
  if (entry.state !== 'accepted') return;
  removeFromClients(entry.client);
  const onDisconnect = handler('onDisconnect');
  if (onDisconnect !== undefined) invoke(onDisconnect, app, [entry.client]);
}

export function onPublishEvent(clientId: string, record: StreamRecord, publishing: boolean): void {
  const entry = entryById(clientId);
  const stream = streamFor(record, publishing);
  if (!publishing) forgetStream(stream);
  if (entry === undefined) return;
  const fn = handler(publishing ? 'onPublish' : 'onUnpublish');
  if (fn !== undefined) invoke(fn, app, [entry.client, stream]);
}

export function onAppStartEvent(): void {
  const fn = handler('onAppStart');
  if (fn !== undefined) invoke(fn, app, []);
}

/** Only an explicit `false` refuses the unload; a throwing handler does not. */
export function onAppStopEvent(info: InfoRecord): boolean {
  const fn = handler('onAppStop');
  if (fn === undefined) return true;
  const result = invoke(fn, app, [info]);
  return !(result[0] && result[1] === false);
}

export function onStatusEvent(info: InfoRecord): void {
  const fn = handler('onStatus');
  if (fn !== undefined) invoke(fn, app, [info]);
}

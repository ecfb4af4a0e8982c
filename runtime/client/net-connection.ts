import type { SecureContext } from 'node:tls';
import { DEFAULT_CONNECTION_OPTIONS, RtmpConnection, type RtmpCommand } from '../rtmp/connection.ts';
import { TypedEmitter } from '../common/typed-emitter.ts';
import { DEFAULT_PORTS, isRtmpe, openClientTransport, schemeOf } from './client-transport.ts';
import { NetStream } from './net-stream.ts';
import { trustedContext } from './tls-trust.ts';

export type InfoObject = { level: string; code: string; description?: string; [field: string]: unknown };

/** A connect that did not succeed; `info` is the server's info object (Rejected, InvalidApp, Failed…). */
export class ConnectError extends Error {
  readonly info: InfoObject;
  constructor(info: InfoObject) {
    super(`${info.code}${info.description ? `: ${info.description}` : ''}`);
    this.info = info;
  }
}

/** A call answered with `_error` (or lost with the connection). */
export class CallError extends Error {
  readonly info: InfoObject;
  constructor(info: InfoObject) {
    super(`${info.code}${info.description ? `: ${info.description}` : ''}`);
    this.info = info;
  }
}

export type NetConnectionEvents = {
  /** Every NetConnection info object (Connect.Success, Closed, AppShutdown, …). */
  status: [info: InfoObject];
  close: [reason: string];
};

export interface NetConnectionOptions {
  objectEncoding?: 0 | 3;
  connectTimeoutMs?: number;
  /** flashVer sent in connect (server scripts see it as client.agent). */
  flashVer?: string;
  swfUrl?: string;
  pageUrl?: string;
  /** Port used when the URL has none (default: the scheme's, 1935 for rtmp/rtmpe, 443 for rtmps/rtmpts, 80 for rtmpt/rtmpte). */
  defaultPort?: number;
  /** CA certificates (PEM) trusted for rtmps/rtmpts besides Node's and the system's. */
  ca?: (string | Buffer)[];
  /** Or the whole TLS trust at once (runtime/client/tls-trust.ts); wins over `ca`. */
  secureContext?: SecureContext;
}

/**
 * The project's public RTMP client, modelled on Flash's NetConnection: connect with arguments,
 * call with results, `client` methods the server may call, status events. Used by tests, by the
 * samples and by server-side NetConnection relays. Speaks rtmp://, rtmps:// (TLS, certificates
 * verified), rtmpt:// and rtmpts:// (HTTP tunnel), rtmpe:// and rtmpte:// (RTMPE).
 */
export class NetConnection extends TypedEmitter<NetConnectionEvents> {
  /** Methods the server may invoke (client.call / broadcastMsg on the server side). */
  client: Record<string, (...args: unknown[]) => unknown> = {};
  uri = '';
  connection: RtmpConnection | null = null;
  readonly options: NetConnectionOptions;
  #connected = false;
  #nextTxn = 2;
  #calls = new Map<number, { resolve: (value: unknown) => void; reject: (error: CallError) => void }>();

  constructor(options: NetConnectionOptions = {}) {
    super();
    this.options = options;
  }

  get isConnected(): boolean {
    return this.#connected;
  }

  /** Resolves with the Connect.Success info; rejects with ConnectError carrying the server's info. */
  connect(uri: string, ...args: unknown[]): Promise<InfoObject> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return Promise.reject(new ConnectError({ level: 'error', code: 'NetConnection.Connect.Failed', description: 'not a URI' }));
    }
    const scheme = schemeOf(url);
    if (!scheme) return Promise.reject(new ConnectError({ level: 'error', code: 'NetConnection.Call.BadVersion', description: `unsupported protocol ${url.protocol}` }));
    this.uri = uri;
    const app = url.pathname.replace(/^\//, '') + (url.search ?? '');
    const port = url.port ? Number(url.port) : (this.options.defaultPort ?? DEFAULT_PORTS[scheme]);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      const secureContext = this.options.secureContext ?? (this.options.ca ? trustedContext(this.options.ca) : undefined);
      const transport = openClientTransport(scheme, host, port, secureContext ? { secureContext } : {});
      const connection = new RtmpConnection(transport, {
        ...DEFAULT_CONNECTION_OPTIONS,
        role: 'client',
        ...(isRtmpe(scheme) ? { clientHandshake: { rtmpe: 6 } } : {}),
      });
      connection.objectEncoding = this.options.objectEncoding ?? 0;
      this.connection = connection;
      let settled = false;
      const fail = (info: InfoObject) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new ConnectError(info));
      };
      const timer = setTimeout(() => {
        fail({ level: 'error', code: 'NetConnection.Connect.Failed', description: 'connect timed out' });
        connection.close('connect timeout');
      }, this.options.connectTimeoutMs ?? 10_000);
      connection.once('ready', () => {
        connection.sendCommand(0, 'connect', 1, {
          app,
          flashVer: this.options.flashVer ?? 'LNX 9,0,124,2',
          swfUrl: this.options.swfUrl ?? '',
          tcUrl: uri,
          fpad: false,
          capabilities: 239,
          audioCodecs: 3575,
          videoCodecs: 252,
          videoFunction: 1,
          pageUrl: this.options.pageUrl ?? '',
          objectEncoding: this.options.objectEncoding ?? 0,
        }, args);
      });
      connection.on('command', (command) => {
        if (!settled && command.transactionId === 1 && (command.name === '_result' || command.name === '_error')) {
          const info = (command.args[0] ?? {}) as InfoObject;
          if (command.name === '_result') {
            settled = true;
            clearTimeout(timer);
            this.#connected = true;
            this.emit('status', info);
            resolve(info);
          } else {
            this.emit('status', info);
            fail(info);
          }
          return;
        }
        this.#onCommand(command);
      });
      connection.once('close', (reason, error) => {
        const wasConnected = this.#connected;
        this.#connected = false;
        fail({ level: 'error', code: 'NetConnection.Connect.Failed', description: error?.message ?? reason });
        for (const call of this.#calls.values()) call.reject(new CallError({ level: 'error', code: 'NetConnection.Call.Failed', description: 'connection closed' }));
        this.#calls.clear();
        if (wasConnected) this.emit('status', { level: 'status', code: 'NetConnection.Connect.Closed', description: reason });
        this.emit('close', reason);
      });
    });
  }

  #onCommand(command: RtmpCommand): void {
    if (command.name === '_result' || command.name === '_error') {
      const call = this.#calls.get(command.transactionId);
      if (!call) return;
      this.#calls.delete(command.transactionId);
      if (command.name === '_result') call.resolve(command.args[0]);
      else call.reject(new CallError((command.args[0] ?? { level: 'error', code: 'NetConnection.Call.Failed' }) as InfoObject));
      return;
    }
    if (command.name === 'onStatus' && command.streamId === 0) {
      this.emit('status', (command.args[0] ?? {}) as InfoObject);
      return;
    }
    if (command.streamId !== 0) return; // NetStream commands are handled by the NetStream
    const handler = this.client[command.name];
    const reply = (name: string, value: unknown) => {
      if (command.transactionId !== 0) this.connection?.sendCommand(0, name, command.transactionId, null, [value]);
    };
    if (typeof handler !== 'function') {
      reply('_error', { level: 'error', code: 'NetConnection.Call.Failed', description: `Method not found (${command.name}).` });
      return;
    }
    Promise.resolve()
      .then(() => handler.apply(this.client, command.args))
      .then(
        (value) => reply('_result', value ?? null),
        (error: unknown) => reply('_error', { level: 'error', code: 'NetConnection.Call.Failed', description: String((error as Error)?.message ?? error) }),
      );
  }

  /** Calls a server method and resolves with its `_result` value (rejects with CallError on `_error`). */
  call(method: string, ...args: unknown[]): Promise<unknown> {
    const connection = this.#requireConnection();
    const txn = this.#nextTxn++;
    return new Promise((resolve, reject) => {
      this.#calls.set(txn, { resolve, reject });
      connection.sendCommand(0, method, txn, null, args);
    });
  }

  /** A call that expects no answer (transaction id 0). */
  send(method: string, ...args: unknown[]): void {
    this.#requireConnection().sendCommand(0, method, 0, null, args);
  }

  async createStream(): Promise<NetStream> {
    const id = await this.call('createStream');
    if (typeof id !== 'number') throw new CallError({ level: 'error', code: 'NetStream.Failed', description: 'createStream returned no id' });
    return new NetStream(this, this.#requireConnection(), id);
  }

  close(): void {
    this.connection?.close('client closed');
  }

  #requireConnection(): RtmpConnection {
    if (!this.connection || !this.#connected) throw new CallError({ level: 'error', code: 'NetConnection.Call.Failed', description: 'not connected' });
    return this.connection;
  }
}

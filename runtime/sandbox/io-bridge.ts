import type { FileChangeOp, FileIoOp, FileType, HostCalls, HostWaits, HttpResultRecord } from '../../host-api/protocol.ts';
import type { ScriptFiles } from './script-files.ts';
import type { HttpRequest, ScriptHttp } from './script-http.ts';
import { BridgeArgumentError, count, list, text } from './bridge-arguments.ts';

type IoHostCalls = Pick<HostCalls, 'fileInfo' | 'fileOpen' | 'fileIo' | 'httpRequest'>;
/**
 * The waiting half (protocol.ts HostWaits): each returns a promise of the script's answer; `signal`
 * aborts when the script's wait ends (scripts.ioWaitMs), and work that can stop does.
 */
export type HostWaitCalls<K extends keyof HostWaits> = { [Op in K]: (signal: AbortSignal, ...args: unknown[]) => Promise<ReturnType<HostWaits[Op]>> };

const FILE_TYPES: readonly FileType[] = ['text', 'binary', 'utf8'];
const CHANGE_OPS: readonly FileChangeOp[] = ['mkdir', 'remove', 'renameTo', 'copyTo'];
const IO_OPS: readonly FileIoOp[] = [
  'read', 'readln', 'readlns', 'readAll', 'readByte', 'write', 'writeByte', 'eof', 'position', 'seek', 'setPosition', 'length', 'close',
];
const MAX_HEADERS = 64;

function oneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (!allowed.includes(value as T)) throw new BridgeArgumentError(`${what} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function httpRequest(value: unknown): HttpRequest {
  if (typeof value !== 'object' || value === null) throw new BridgeArgumentError('request must be an object');
  const source = value as Record<string, unknown>;
  const headers = list(source.headers, 'headers').slice(0, MAX_HEADERS).map((pair) => {
    const [name, headerValue] = list(pair, 'header');
    return [text(name, 'header name'), text(headerValue, 'header value')] as [string, string];
  });
  return {
    method: oneOf(source.method, ['GET', 'POST'] as const, 'method'),
    url: text(source.url, 'url'),
    headers,
    body: source.body === null ? null : text(source.body, 'body'),
    contentType: text(source.contentType, 'contentType'),
  };
}

/**
 * The isolate → host half of File, LoadVars and XML: validates every argument (script data) and
 * forwards to the instance's confined file system and HTTP client.
 */
export function createIoHostCalls(files: ScriptFiles, http: ScriptHttp, deliver: (requestId: number, result: HttpResultRecord) => void): IoHostCalls {
  return {
    fileInfo: (path) => files.info(text(path, 'path')),
    fileOpen: (path, type, mode) => files.open(text(path, 'path'), oneOf(type, FILE_TYPES, 'type'), text(mode, 'mode')),
    fileIo: (handle, op, arg) => {
      const value = arg === null || typeof arg === 'number' ? arg : text(arg, 'arg');
      return files.io(count(handle, 'handle'), oneOf(op, IO_OPS, 'op'), value);
    },
    httpRequest: (requestId, request) => {
      const id = count(requestId, 'requestId');
      const started = http.request(httpRequest(request), (result) => {
        if (id > 0) deliver(id, result);
      });
      // Refused (and logged): the target still hears onLoad(false), after the current handler.
      if (!started && id > 0) deliver(id, { status: 0, body: null, bytesLoaded: 0, bytesTotal: 0 });
      return started;
    },
  };
}

/** File work the script waits for while the host does it off its event loop (HostWaits). */
export function createIoHostWaits(files: ScriptFiles): HostWaitCalls<'fileList' | 'fileChange' | 'fileFlush'> {
  return {
    fileList: (signal, path) => files.list(text(path, 'path'), signal),
    fileChange: (signal, path, op, arg) => files.change(text(path, 'path'), oneOf(op, CHANGE_OPS, 'op'), typeof arg === 'boolean' ? arg : text(arg, 'arg'), signal),
    fileFlush: (_signal, handle) => files.flush(count(handle, 'handle')),
  };
}

/**
 * Every FMS info object the host sends is built here, with the exact codes, levels and description
 * texts of fms-api.md §12 (FMS 3.5-era wording), so clients that compare strings keep working.
 */

export type InfoLevel = 'status' | 'warning' | 'error';
export interface InfoObject {
  level: InfoLevel;
  code: string;
  description?: string;
  [field: string]: unknown;
}

function info(level: InfoLevel, code: string, description: string, extra: Record<string, unknown> = {}): InfoObject {
  return { level, code, description, ...extra };
}

export const FMS_VERSION = 'FMS/3,5,7,7009';
export const CAPABILITIES = 31;
export const MODE = 1;

export const status = {
  connectSuccess: (objectEncoding: number) =>
    info('status', 'NetConnection.Connect.Success', 'Connection succeeded.', {
      objectEncoding,
      data: { version: '3,5,7,7009' },
    }),
  connectRejected: (description = 'Connection failed.', application?: unknown) =>
    info('error', 'NetConnection.Connect.Rejected', description, application === undefined ? {} : { application }),
  connectRedirect: (redirect: string, description = 'Connection failed', application?: unknown) =>
    info('error', 'NetConnection.Connect.Rejected', description, {
      ex: { code: 302, redirect },
      ...(application === undefined ? {} : { application }),
    }),
  connectInvalidApp: (app: string) =>
    info('error', 'NetConnection.Connect.InvalidApp', `Application (${app}) is not defined.`),
  connectFailed: (description = 'Connection failed.') => info('error', 'NetConnection.Connect.Failed', description),
  connectClosed: () => info('status', 'NetConnection.Connect.Closed', 'Connection closed.'),
  connectIdleTimeout: (seconds: number) =>
    info('status', 'NetConnection.Connect.IdleTimeout', `Connection idle for more than ${seconds} seconds; closing.`),
  connectAppShutdown: (app: string) =>
    info('error', 'NetConnection.Connect.AppShutdown', `Application (${app}) is shutting down.`),
  callFailed: (description: string, extra?: Record<string, unknown>) => info('error', 'NetConnection.Call.Failed', description, extra),
  callBadVersion: (description = 'Bad version.', extra?: Record<string, unknown>) => info('error', 'NetConnection.Call.BadVersion', description, extra),

  publishStart: (name: string, clientid: string) =>
    info('status', 'NetStream.Publish.Start', `${name} is now published.`, { details: name, clientid }),
  publishBadName: (name: string, clientid: string, reason = `${name} is already being published.`) =>
    info('error', 'NetStream.Publish.BadName', reason, { details: name, clientid }),
  unpublishSuccess: (name: string, clientid: string) =>
    info('status', 'NetStream.Unpublish.Success', `${name} is now unpublished.`, { details: name, clientid }),
  recordStart: (name: string, clientid: string) =>
    info('status', 'NetStream.Record.Start', `Recording ${name}.`, { details: name, clientid }),
  recordStop: (name: string, clientid: string) =>
    info('status', 'NetStream.Record.Stop', `Stopped recording ${name}.`, { details: name, clientid }),
  recordNoAccess: (name: string, clientid: string) =>
    info('error', 'NetStream.Record.NoAccess', `No access to record ${name}.`, { details: name, clientid }),
  /** A recording reached its size limit (Application.xml Recording/MaxSize, Stream.record's maxSize); Record.Stop follows. */
  recordDiskQuotaExceeded: (name: string, clientid: string) =>
    info('error', 'NetStream.Record.DiskQuotaExceeded', `Recording ${name} reached its size limit.`, { details: name, clientid }),
  recordFailed: (name: string, clientid: string) =>
    info('error', 'NetStream.Record.Failed', `Recording ${name} failed.`, { details: name, clientid }),
  clearSuccess: (name: string) => info('status', 'NetStream.Clear.Success', `Deleted the recorded file of ${name}.`, { details: name }),
  clearFailed: (name: string, reason: string) => info('error', 'NetStream.Clear.Failed', reason, { details: name }),
  playReset: (name: string, clientid: string) =>
    info('status', 'NetStream.Play.Reset', `Playing and resetting ${name}.`, { details: name, clientid }),
  playStart: (name: string, clientid: string) =>
    info('status', 'NetStream.Play.Start', `Started playing ${name}.`, { details: name, clientid }),
  playStop: (name: string, clientid: string) =>
    info('status', 'NetStream.Play.Stop', `Stopped playing ${name}.`, { details: name, clientid }),
  playStreamNotFound: (name: string, clientid: string) =>
    info('error', 'NetStream.Play.StreamNotFound', `Failed to play ${name}; stream not found.`, { details: name, clientid }),
  playFailed: (name: string, clientid: string, description: string) =>
    info('error', 'NetStream.Play.Failed', description, { details: name, clientid }),
  playPublishNotify: (name: string, clientid: string) =>
    info('status', 'NetStream.Play.PublishNotify', `${name} is now published.`, { details: name, clientid }),
  playUnpublishNotify: (name: string, clientid: string) =>
    info('status', 'NetStream.Play.UnpublishNotify', `${name} is now unpublished.`, { details: name, clientid }),
  pauseNotify: (name: string, clientid: string) =>
    info('status', 'NetStream.Pause.Notify', `Pausing ${name}.`, { details: name, clientid }),
  unpauseNotify: (name: string, clientid: string) =>
    info('status', 'NetStream.Unpause.Notify', `Unpausing ${name}.`, { details: name, clientid }),
  seekNotify: (name: string, clientid: string) =>
    info('status', 'NetStream.Seek.Notify', `Seeking ${name}.`, { details: name, clientid }),
  seekFailed: (name: string, clientid: string) =>
    info('error', 'NetStream.Seek.Failed', `Seeking ${name} failed; not a recorded stream.`, { details: name, clientid }),
  dataStart: () => info('status', 'NetStream.Data.Start', 'Data start.'),
  streamFailed: (description: string) => info('error', 'NetStream.Failed', description),

  scriptError: (description: string, where: { filename?: string; lineno?: number; linebuf?: string }) =>
    info('error', 'Application.Script.Error', description, where),
  appShutdown: () => info('status', 'Application.Shutdown', 'Application is shutting down.'),
  appGc: () => info('status', 'Application.GC', 'Application is being garbage collected.'),
} as const;

import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The root logger: JSON lines on stdout (other tools parse them: each trace() is one record with
 * msg = the text and app = the instance name). A sink can be given for tests and the live log.
 */
export function createRootLogger(level: LevelWithSilent, destination?: NodeJS.WritableStream, liveLog?: NodeJS.WritableStream): Logger {
  const main = destination ?? pino.destination({ fd: 1, sync: false });
  // The live log gets the same records; 'trace' so the logger's own level is the only filter.
  const streams = liveLog ? pino.multistream([{ level: 'trace', stream: main }, { level: 'trace', stream: liveLog }]) : main;
  return pino(
    {
      level,
      base: { pid: process.pid },
      // Credentials in URLs never reach the log.
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === 'string' ? stripCredentials(arg) : arg)) as typeof args);
        },
      },
    },
    streams,
  );
}

/** rtmp://user:pass@host/app → rtmp://host/app; also drops password-like query values. */
export function stripCredentials(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1')
    .replace(/([?&](?:pass|password|pwd|token|secret|auth|key)=)[^&\s]*/gi, '$1***');
}

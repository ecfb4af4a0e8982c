import { pino, type Logger, type LevelWithSilent } from 'pino';
import { boundFields, boundText, type LogLimits } from './log-limits.ts';
import { createStdoutSink } from './stdout-sink.ts';

export type { Logger };
export type { LogLimits };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The documented defaults (config.ts `log.*` repeats them for operators). */
export const DEFAULT_LOG_LIMITS: LogLimits = { maxMessageChars: 8192, maxFieldChars: 2048 };
/** Unsent log bytes a pipe/socket stdout may hold before lines are dropped (config log.stdoutMaxBufferedBytes). */
export const DEFAULT_STDOUT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * The root logger: JSON lines on stdout (other tools parse them: each trace() is one record with
 * msg = the text and app = the instance name). A sink can be given for tests and the live log.
 * Every message, field and child binding is bounded and stripped of credentials (log-limits.ts)
 * before pino serialises it, in time linear in what is kept.
 */
/** What takes log lines: a stream, or anything with write(line) (the live log, the stdout sink). */
export interface LineSink {
  write(line: string): unknown;
}

/**
 * pino's multistream has no flush(callback) (only flushSync), so `logger.flush(callback)` called back
 * at once, before stdout had the lines: the last line before the process ends itself (SHUTDOWN_TIMEOUT)
 * was lost. The flush is the main sink's; the live log is in memory.
 */
function withFlush<T extends object>(streams: T, main: LineSink): T & { flush(callback: (error?: Error) => void): void } {
  const flushable = main as LineSink & { flush?: (callback: (error?: Error) => void) => void };
  return Object.assign(streams, {
    flush: (callback: (error?: Error) => void) => (typeof flushable.flush === 'function' ? flushable.flush(callback) : callback()),
  });
}

export function createRootLogger(level: LevelWithSilent, destination?: LineSink, liveLog?: LineSink, limits: LogLimits = DEFAULT_LOG_LIMITS): Logger {
  const main = destination ?? createStdoutSink(DEFAULT_STDOUT_MAX_BUFFERED_BYTES);
  // The live log gets the same records; 'trace' so the logger's own level is the only filter.
  const streams = (liveLog ? withFlush(pino.multistream([{ level: 'trace', stream: main }, { level: 'trace', stream: liveLog }]), main) : main) as pino.DestinationStream;
  const root = pino(
    {
      level,
      base: { pid: process.pid },
      formatters: { log: (fields) => boundFields(fields, limits.maxFieldChars) },
      hooks: {
        logMethod(args, method) {
          // log.error(error) would make error.message the message, unbounded: give it a bounded one.
          const first: unknown = args[0];
          const spelled = first instanceof Error && typeof args[1] !== 'string' ? [{ err: first }, String(first.message), ...args.slice(1)] : args;
          method.apply(this, spelled.map((arg) => (typeof arg === 'string' ? boundText(arg, limits.maxMessageChars) : arg)) as typeof args);
        },
      },
    },
    streams,
  );
  // Child loggers carry client-chosen names (app, instance): bounded once, when the child is made.
  // (pino applies formatters.bindings to the root's base only; children inherit this override.)
  const child = root.child;
  root.child = function boundedChild(this: Logger, bindings, options) {
    return child.call(this, boundFields(bindings, limits.maxFieldChars), options);
  } as typeof root.child;
  return root;
}

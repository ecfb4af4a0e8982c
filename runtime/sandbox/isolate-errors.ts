/**
 * The one place that turns isolate failures into ScriptError: syntax errors (from compiling a
 * file), exceptions a script threw (caught inside the isolate or surfacing from isolated-vm),
 * timeouts and out-of-memory. Each carries filename/lineno/linebuf when they can be found, for the
 * Application.Script.Error record.
 */
import { ErrorCode, ScriptError } from '../errors.ts';
import { cutText } from '../log/log-limits.ts';
import type { ThrownRecord } from '../../host-api/protocol.ts';

export interface ScriptWhere {
  filename?: string;
  lineno?: number;
  linebuf?: string;
}

/** Where script sources are known: only frames in these files count as the script's location. */
export interface SourceLines {
  has(filename: string): boolean;
  lineAt(filename: string, lineno: number): string | undefined;
}

export interface FailureContext {
  sources: SourceLines;
  handlerTimeoutMs: number;
  memoryLimitMb: number;
  /** Script error messages are cut to this (host-api cuts what it reports; this covers what isolated-vm rethrows). */
  maxTextChars: number;
}

// Messages isolated-vm 7 uses; the tests in test/sandbox/ pin them.
const TIMEOUT_MESSAGE = 'Script execution timed out.';
const MEMORY_PATTERNS = [/memory limit/i, /out-of-memory/i, /Array buffer allocation failed/i];
const DISPOSED_PATTERN = /Isolate (was|is already) disposed/i;
const FAILED_TO_TERMINATE = 'Script failed to terminate';
/** V8 compile errors from isolated-vm end with " [file:line:col]". */
const COMPILE_LOCATION = /\s*\[([^\]]+):(\d+):(\d+)\]$/;
const FRAME_LOCATION = /([^\s()]+):(\d+):(\d+)/g;

export function isFatal(error: ScriptError): boolean {
  return error.code === ErrorCode.ScriptTimeout || error.code === ErrorCode.ScriptOutOfMemory;
}

/** The fields of hooks.scriptError / status.scriptError for a classified error. */
export function scriptErrorInfo(error: ScriptError): { description: string } & ScriptWhere {
  return {
    description: error.message,
    ...(error.filename === undefined ? {} : { filename: error.filename }),
    ...(error.lineno === undefined ? {} : { lineno: error.lineno }),
    ...(error.linebuf === undefined ? {} : { linebuf: error.linebuf }),
  };
}

export function timeoutError(context: FailureContext, cause?: unknown, where: ScriptWhere = {}): ScriptError {
  return new ScriptError(
    ErrorCode.ScriptTimeout,
    `Script timed out: a handler ran longer than ${context.handlerTimeoutMs} ms.`,
    where,
    { cause },
  );
}

export function outOfMemoryError(context: FailureContext, cause?: unknown): ScriptError {
  return new ScriptError(
    ErrorCode.ScriptOutOfMemory,
    `Script ran out of memory (limit ${context.memoryLimitMb} MB).`,
    {},
    { cause },
  );
}

/** isolated-vm's onCatastrophicError messages: the isolate's thread is lost for good. */
export function classifyCatastrophe(message: string, context: FailureContext): ScriptError {
  return message.includes(FAILED_TO_TERMINATE) ? timeoutError(context, message) : outOfMemoryError(context, message);
}

/**
 * An error that rejected an isolated-vm call (compile, run, or dispatch apply).
 * `isolateDisposed`: the isolate is gone and not because the owner disposed it.
 */
export function classifyFailure(error: unknown, context: FailureContext, isolateDisposed: boolean): ScriptError {
  if (error instanceof ScriptError) return error;
  // isolated-vm rethrows primitives a script threw (`throw "oops"`) as they are.
  const max = context.maxTextChars;
  if (!(error instanceof Error)) return thrownError({ name: '', message: cutText(String(error), max) }, context.sources, cutText(String(error), max));
  const message = cutText(error.message, max);
  if (message === TIMEOUT_MESSAGE) return timeoutError(context, error, locateStack(error.stack, context.sources));
  if (MEMORY_PATTERNS.some((pattern) => pattern.test(message))) return outOfMemoryError(context, error);
  if (DISPOSED_PATTERN.test(message) && isolateDisposed) return outOfMemoryError(context, error);
  if (error instanceof SyntaxError) return syntaxError(message, context.sources, error);
  return thrownError({ name: error.name, message, ...(error.stack === undefined ? {} : { stack: cutText(error.stack, max) }) }, context.sources, error);
}

/** An exception caught inside the isolate (reported in a dispatch reply). */
export function classifyThrown(record: ThrownRecord, sources: SourceLines): ScriptError {
  if (record.load === true) {
    const where = record.filename === undefined ? {} : withLine(record.filename, record.lineno, sources);
    const code = record.name === 'SyntaxError' ? ErrorCode.ScriptSyntax : ErrorCode.ScriptLoadFailed;
    return new ScriptError(code, describe(record), where);
  }
  return thrownError(record, sources);
}

function syntaxError(message: string, sources: SourceLines, cause: unknown): ScriptError {
  const match = COMPILE_LOCATION.exec(message);
  if (match === null) return new ScriptError(ErrorCode.ScriptSyntax, `SyntaxError: ${message}`, {}, { cause });
  const text = message.slice(0, match.index);
  const where = withLine(match[1] as string, Number(match[2]), sources);
  return new ScriptError(ErrorCode.ScriptSyntax, `SyntaxError: ${text}`, where, { cause });
}

function thrownError(record: ThrownRecord, sources: SourceLines, cause?: unknown): ScriptError {
  const where = locateStack(record.stack, sources);
  return new ScriptError(ErrorCode.ScriptThrown, describe(record), where, cause === undefined ? {} : { cause });
}

/** SpiderMonkey wording for values that are not Error objects: "uncaught exception: oops". */
function describe(record: ThrownRecord): string {
  if (record.name === '') return `uncaught exception: ${record.message}`;
  return record.message === '' ? record.name : `${record.name}: ${record.message}`;
}

/** The first stack frame that points into a script file (host-api frames are skipped). */
export function locateStack(stack: string | undefined, sources: SourceLines): ScriptWhere {
  if (stack === undefined) return {};
  for (const line of stack.split('\n')) {
    if (!line.trimStart().startsWith('at ')) continue;
    for (const match of line.matchAll(FRAME_LOCATION)) {
      const filename = match[1] as string;
      if (sources.has(filename)) return withLine(filename, Number(match[2]), sources);
    }
  }
  return {};
}

function withLine(filename: string, lineno: number | undefined, sources: SourceLines): ScriptWhere {
  if (lineno === undefined) return { filename };
  const linebuf = sources.lineAt(filename, lineno);
  return linebuf === undefined ? { filename, lineno } : { filename, lineno, linebuf };
}

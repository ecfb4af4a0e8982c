/**
 * Global functions (fms-api §1): trace, load, setInterval/clearInterval, and — only when the
 * operator turns it on — setTimeout/clearTimeout. Timers live in the host (so disposing an
 * instance clears them all); the isolate keeps only what to call for each timer id.
 */
import {
  NumberConstructor,
  StringConstructor,
  SyntaxErrorConstructor,
  cutText,
  traceToHost,
  ErrorConstructor,
  TypeErrorConstructor,
  emptyMap,
  globalObject,
  host,
  hostWait,
} from './host.ts';
import { invoke, tagError } from './values.ts';

// Captured before main.asc runs; calling it through a variable makes it an *indirect* eval, so a
// loaded file runs in the global scope like a top-level script.
const indirectEval = eval;

export function trace(value?: unknown): void {
  traceToHost(cutText(StringConstructor(value)));
}

/**
 * load(file): during main.asc's top level (and while queued files run) the host queues the file;
 * it runs after main.asc, in call order, before onAppStart. Called later (from any handler) the
 * file runs at once, so its definitions are usable on the next line. See script-loader.ts.
 */
export function load(name: unknown): void {
  const stack = new ErrorConstructor().stack;
  const reply = hostWait('load', StringConstructor(name), typeof stack === 'string' ? stack : undefined);
  if (reply.kind === 'deferred') return;
  if (reply.kind === 'failed') {
    const { error } = reply;
    const thrown = error.name === 'SyntaxError' ? new SyntaxErrorConstructor(error.message) : new ErrorConstructor(error.message);
    tagError(thrown, { load: true, filename: error.filename, lineno: error.lineno });
    throw thrown;
  }
  // sourceURL gives runtime errors in the loaded file its own file:line in stack traces.
  indirectEval(`${reply.source}\n//# sourceURL=${reply.filename}`);
}

interface TimerEntry {
  fn?: unknown;
  target?: Record<string, unknown>;
  method?: string;
  args: unknown[];
  repeat: boolean;
}

const timers = emptyMap<TimerEntry>();

function startTimer(repeat: boolean, callArgs: unknown[], name: string): number {
  const first = callArgs[0];
  const second = callArgs[1];
  let entry: TimerEntry;
  let ms: unknown;
  const isObject = (typeof first === 'object' && first !== null) || typeof first === 'function';
  if (isObject && typeof second === 'string') {
    // setInterval(obj, "method", ms, ...args): the method is looked up at each tick, this = obj.
    ms = callArgs[2];
    entry = { target: first as Record<string, unknown>, method: second, args: sliceFrom(callArgs, 3), repeat };
  } else if (typeof first === 'function') {
    ms = second;
    entry = { fn: first, args: sliceFrom(callArgs, 2), repeat };
  } else {
    throw new TypeErrorConstructor(`${name}: expected (function, ms, ...args) or (object, "method", ms, ...args)`);
  }
  let delay = NumberConstructor(ms);
  if (!(delay >= 0)) delay = 0;
  const id = host('setTimer', delay, repeat);
  timers[id] = entry;
  return id;
}

function sliceFrom(values: unknown[], start: number): unknown[] {
  const out: unknown[] = [];
  for (let i = start; i < values.length; i++) out[out.length] = values[i];
  return out;
}

function stopTimer(id: unknown): void {
  const key = NumberConstructor(id);
  if (timers[key] === undefined) return;
  delete timers[key];
  host('clearTimer', key);
}

export function setInterval(...callArgs: unknown[]): number {
  return startTimer(true, callArgs, 'setInterval');
}

export function clearInterval(id?: unknown): void {
  stopTimer(id);
}

export function setTimeout(...callArgs: unknown[]): number {
  return startTimer(false, callArgs, 'setTimeout');
}

export function clearTimeout(id?: unknown): void {
  stopTimer(id);
}

/** A host timer ticked. The function form runs with this = the global object (fms-api §13.10). */
export function onTimerEvent(timerId: number): void {
  const entry = timers[timerId];
  if (entry === undefined) return;
  if (!entry.repeat) delete timers[timerId];
  if (entry.target !== undefined && entry.method !== undefined) {
    const method = entry.target[entry.method];
    if (typeof method === 'function') invoke(method, entry.target, entry.args);
    return;
  }
  invoke(entry.fn, globalObject, entry.args);
}

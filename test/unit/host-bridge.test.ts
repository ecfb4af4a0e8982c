/**
 * The generic isolate → host layer (runtime/sandbox/host-bridge.ts): every operation of
 * host-api/protocol.ts is checked by its HOST_ARGUMENTS entry and handed on — responder ids as
 * callbacks — to the sandbox's service of that name, else the instance's hook. The sandbox tests
 * drive the same layer through real isolates; this one goes through each argument kind with bad
 * input, table-driven.
 */
import { strict as assert } from 'node:assert';
import type { ArgumentSpec, CallResultRecord, HostReply, InstanceHooks } from '../../host-api/protocol.ts';
import { AmfClassTags } from '../../runtime/sandbox/amf-class-tags.ts';
import { HostBridge, type SandboxServices } from '../../runtime/sandbox/host-bridge.ts';
import { RecordingHooks } from '../sandbox/helpers.ts';

function bridge(options: { services?: Partial<SandboxServices>; ioWaitMs?: number; overdue?: (op: string) => boolean } = {}) {
  const hooks = new RecordingHooks();
  const results: [number, CallResultRecord][] = [];
  const logs: string[] = [];
  const host = new HostBridge({
    instance: hooks as InstanceHooks,
    services: (options.services ?? {}) as SandboxServices,
    respond: (responderId) => (result) => results.push([responderId, result]),
    live: () => true,
    overdue: options.overdue ?? (() => false),
    amfClasses: new AmfClassTags(),
    ioWaitMs: options.ioWaitMs ?? 1000,
    log: (_level, _fields, message) => logs.push(message),
  });
  return { host, hooks, results, logs };
}

describe('host bridge: one generic layer over host-api/protocol.ts', () => {
  it('hands checked arguments to the instance hook of that name and returns its value', () => {
    const { host, hooks } = bridge();
    assert.deepEqual(host.call('streamGet', ['cam']), [true, 'cam']);
    assert.deepEqual(host.call('nsPublish', [3, 'cam', 'record']), [true, true]);
    assert.deepEqual(hooks.argsOf('nsPublish'), [[3, 'cam', 'record']]);
  });

  it('turns a responder id into a callback whose result goes back with that id; 0 is no callback', () => {
    const { host, hooks, results } = bridge();
    host.call('clientCall', ['c1', 'hello', [1], 7]);
    host.call('clientCall', ['c1', 'quiet', [], 0]);
    const [withResponder, without] = hooks.calls;
    assert.equal(without!.onResult, undefined);
    withResponder!.onResult!({ ok: true, value: 42 });
    assert.deepEqual(results, [[7, { ok: true, value: 42 }]]);
  });

  it('refuses bad arguments of every kind with a TypeError message naming the argument; nothing reaches the hook', () => {
    const cases: [op: string, args: unknown[], message: RegExp][] = [
      ['acceptConnection', [42], /^acceptConnection: clientId must be a string$/],
      ['nsCreate', [1, Number.NaN], /ncId must be a number/],
      ['broadcastMsg', ['m', 'not a list'], /args must be an array/],
      ['setClientAccess', ['c1', 'adminAccess', '/'], /field must be one of readAccess, writeAccess/],
      ['nsPublish', [1, 'cam', 'broadcast'], /type must be one of live, record, append/],
      ['streamRecord', ['s', true, null, null], /mode must be one of record, append, false/],
      ['nsAttach', [1, 5], /streamName must be a string/],
      ['streamPlay', ['s', 7, 0, -1, true, null], /source must be a string/],
      ['streamPlay', ['s', 'src', 0, -1, 'yes', null], /reset must be a number/],
      ['clientCall', ['c1', 'm', [], 'r'], /responderId must be a number/],
      ['httpRequest', [1, { method: 'PUT', url: 'http://x/', headers: [], body: null, contentType: '' }], /method must be one of GET, POST/],
      ['soOp', ['so', 'eval', []], /op must be one of getProperty/],
    ];
    const { host, hooks } = bridge();
    for (const [op, args, message] of cases) {
      const reply = host.call(op, args) as HostReply<unknown>;
      assert.equal(reply[0], false, `${op} accepted ${JSON.stringify(args)}`);
      assert.match(String(reply[1]), message, op);
    }
    assert.deepEqual(hooks.ops, [], 'no refused call reached the instance');
  });

  it('coerces where FMS is lenient: flags, directions, optional numbers, reject records', () => {
    const { host, hooks } = bridge();
    host.call('soGetProxied', ['k', 1, 'so', 'yes']);
    host.call('getBandwidthLimit', ['c1', 5]);
    host.call('streamRecord', ['s', 'record', undefined, 10]);
    host.call('rejectConnection', ['c1', { description: 'no', redirect: 7, extra: 1 }]);
    assert.deepEqual(hooks.argsOf('soGetProxied'), [['k', 1, 'so', false]]);
    assert.deepEqual(hooks.argsOf('getBandwidthLimit'), [['c1', 0]]);
    assert.deepEqual(hooks.argsOf('streamRecord'), [['s', 'record', null, 10]]);
    assert.deepEqual(hooks.argsOf('rejectConnection'), [['c1', { description: 'no' }]]);
  });

  it('unknown operations, waits on the call channel and calls on the wait channel are refused', async () => {
    const { host } = bridge();
    assert.deepEqual(host.call('eval', []), [false, 'unknown host operation']);
    assert.deepEqual(host.call('toString', []), [false, 'unknown host operation']);
    assert.deepEqual(host.call('soGet', ['so', true]), [false, 'unknown host operation']);
    assert.deepEqual(host.call('streamGet', 'cam'), [false, 'unknown host operation']);
    assert.deepEqual(await host.wait('streamGet', ['cam'], (reply) => reply as never), [false, 'unknown host operation']);
  });

  it("a service of the sandbox wins over the instance's hook of the same name", () => {
    const { host, hooks } = bridge({ services: { ncConnect: () => false } });
    assert.deepEqual(host.call('ncConnect', [1, 'http://gateway/', []]), [true, false]);
    assert.deepEqual(hooks.argsOf('ncConnect'), []);
  });

  it('a wait gets the abort signal last and, past scripts.ioWaitMs, answers its failure value', async () => {
    let signal: AbortSignal | undefined;
    const never = new Promise<boolean>(() => undefined);
    const { host, logs } = bridge({ ioWaitMs: 50, services: { fileFlush: (_handle: number, s: AbortSignal) => ((signal = s), never) } as Partial<SandboxServices> });
    assert.deepEqual(await host.wait('fileFlush', [3], (reply) => reply as never), [true, false]);
    assert.equal(signal?.aborted, true, 'the work was told to stop');
    assert.ok(logs.some((m) => m.includes('scripts.ioWaitMs')));
  });

  it('past the handler deadline a call and a wait get the deadline reply and their work is not done', async () => {
    let flushed = 0;
    const asked: string[] = [];
    const { host, hooks } = bridge({
      overdue: (op) => (asked.push(op), op !== 'timedOut'),
      services: { fileFlush: () => (flushed++, true), timedOut: () => undefined } as Partial<SandboxServices>,
    });
    assert.deepEqual(host.call('applicationStats', []), ['deadline']);
    assert.deepEqual(hooks.argsOf('applicationStats'), []);
    assert.deepEqual(await host.wait('fileFlush', [3], (reply) => reply as never), ['deadline']);
    assert.equal(flushed, 0);
    // The report of where the script was still gets through.
    assert.deepEqual(host.call('timedOut', ['at main.asc:3']), [true, undefined]);
    assert.deepEqual(asked, ['applicationStats', 'fileFlush', 'timedOut']);
  });
});

// Checked by `npm run typecheck`, not at run time: the contract's types hold the argument table and
// the implementations to the signatures. Each line below must stay a compile error.
// @ts-expect-error a string parameter cannot be read as a number
export const wrongKind: ArgumentSpec<string> = 'name:number';
// @ts-expect-error a closed set must match the parameter's values
export const wrongValues: ArgumentSpec<'live' | 'record'> = ['type', ['live', 'broadcast']];
// @ts-expect-error an implementation of clientCall gets a result callback, not the responder id
export const wrongHook: InstanceHooks['clientCall'] = (_clientId, _method, _args, responder: number) => responder > 0;

import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { AmfVector, AmfXml, ecmaArray, getClassName, isEcmaArray, typedObject } from '../../runtime/rtmp/amf-values.ts';
import { decodeSharedObjectMessage, type SharedObjectMessageModel, type SoEvent } from '../../runtime/rtmp/shared-object-codec.ts';
import type { OutgoingSoMessage } from '../../runtime/shared-objects/shared-object-outgoing.ts';
import { sharedObjectNameProblem } from '../../runtime/shared-objects/shared-object-names.ts';
import type { SharedObjectSubscriber, SyncEntry } from '../../runtime/shared-objects/shared-object-state.ts';
import { SYNC_BATCH_EVENTS, SharedObjectStore } from '../../runtime/shared-objects/shared-object-store.ts';

/** A subscriber that records what the store sends it (a real participant, not a store mock). */
interface FakeSubscriber extends SharedObjectSubscriber {
  readAccess: string;
  writeAccess: string;
  messages: SharedObjectMessageModel[];
  take(): SharedObjectMessageModel[];
}

function subscriber(id: string, access: { readAccess?: string; writeAccess?: string } = {}): FakeSubscriber {
  const sub: FakeSubscriber = {
    id,
    readAccess: access.readAccess ?? '/',
    writeAccess: access.writeAccess ?? '/',
    messages: [],
    send(message) {
      sub.messages.push(message);
    },
    take() {
      return sub.messages.splice(0);
    },
  };
  return sub;
}

const events = (messages: SharedObjectMessageModel[]): SoEvent[] => messages.flatMap((m) => m.events);

/** A client's Use, answered: a persistent SO with a file answers once the file has loaded (off the event loop). */
async function used(store: SharedObjectStore, sub: SharedObjectSubscriber, name: string, persistent: boolean): Promise<void> {
  store.use(sub, name, persistent);
  await store.objects.get(name)?.ready;
}

describe('SharedObjectStore', () => {
  let dataDir: string;
  let logLines: Array<Record<string, unknown>>;
  const stores: SharedObjectStore[] = [];

  function newStore(flushDelayMs = 100): SharedObjectStore {
    const log = pino({ base: null, level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    const store = new SharedObjectStore({ appDataDir: path.join(dataDir, 'chatapp'), instance: 'room1', log, flushDelayMs });
    stores.push(store);
    return store;
  }

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'fms-so-'));
    logLines = [];
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('use and initial sync', () => {
    it('answers UseSuccess, Clear, then one Change per slot', () => {
      const store = newStore();
      const so = store.get('chat', false)!;
      so.setProperty('topic', 'hello');
      so.setProperty('count', 2);
      const a = subscriber('a');
      assert.ok(store.use(a, 'chat', false));
      const [msg, ...rest] = a.take();
      assert.equal(rest.length, 0);
      assert.equal(msg!.name, 'chat');
      assert.equal(msg!.persistent, false);
      assert.equal(msg!.version, so.version);
      assert.deepStrictEqual(msg!.events, [
        { type: 'useSuccess' },
        { type: 'clear' },
        { type: 'change', name: 'topic', value: 'hello' },
        { type: 'change', name: 'count', value: 2 },
      ]);
    });

    it('splits a large initial sync into several messages', () => {
      const store = newStore();
      const so = store.get('big', false)!;
      for (let i = 0; i < SYNC_BATCH_EVENTS * 2; i++) so.setProperty(`s${i}`, i);
      const a = subscriber('a');
      store.use(a, 'big', false);
      const messages = a.take();
      assert.equal(messages.length, 3);
      assert.ok(messages.every((m) => m.events.length <= SYNC_BATCH_EVENTS));
      assert.equal(events(messages).filter((e) => e.type === 'change').length, SYNC_BATCH_EVENTS * 2);
    });

    it('answers BadPersistence when the SO exists with the other persistence', () => {
      const store = newStore();
      store.use(subscriber('a'), 'x', true);
      const b = subscriber('b');
      assert.equal(store.use(b, 'x', false), null);
      assert.deepStrictEqual(events(b.take()), [{ type: 'status', code: 'SharedObject.BadPersistence', level: 'error' }]);
      assert.equal(store.get('x', false), null, 'the script gets null for a mismatch too');
    });

    it('refuses names that could leave the data dir with ObjectCreationFailed', () => {
      const store = newStore();
      for (const name of ['', '..', '../x', 'a/../../b', '/etc/passwd', 'a\\b', 'C:evil', 'a\u0000b', 'a//b', './a', 'x'.repeat(2000)]) {
        const sub = subscriber('a');
        assert.equal(store.use(sub, name, true), null, JSON.stringify(name));
        assert.deepStrictEqual(events(sub.take()), [{ type: 'status', code: 'SharedObject.ObjectCreationFailed', level: 'error' }]);
        assert.notEqual(sharedObjectNameProblem(name), null);
        assert.equal(store.fileOf(name), null);
      }
      assert.equal(store.fileOf('rooms/lobby'), path.join(store.dir, 'rooms', 'lobby.fso.json'));
      assert.equal(store.objects.size, 0);
    });
  });

  describe('client changes', () => {
    it('applies a change: Success to the requester, Change to the others, version+1', () => {
      const store = newStore();
      const [a, b, c] = [subscriber('a'), subscriber('b'), subscriber('c')];
      for (const s of [a, b, c]) store.use(s, 'chat', false);
      const before = store.objects.get('chat')!.version;
      [a, b, c].forEach((s) => s.take());
      store.requestChange(a, 'chat', 'msg', 'hi');
      const [toA] = a.take();
      assert.deepStrictEqual(toA!.events, [{ type: 'success', name: 'msg' }]);
      assert.equal(toA!.version, before + 1);
      for (const other of [b, c]) assert.deepStrictEqual(events(other.take()), [{ type: 'change', name: 'msg', value: 'hi' }]);
      assert.equal(store.objects.get('chat')!.getProperty('msg'), 'hi');
    });

    it('encodes a fan-out once: every other subscriber gets the same encoded message', () => {
      const store = newStore();
      const subs = ['a', 'b', 'c', 'd'].map((id) => subscriber(id));
      const seen = new Map<string, OutgoingSoMessage[]>();
      for (const s of subs) {
        store.use(s, 'chat', false);
        s.send = (_model, encoded) => void seen.set(s.id, [...(seen.get(s.id) ?? []), encoded]);
      }
      store.requestChange(subs[0]!, 'chat', 'msg', { text: 'hi' });
      const [toA] = seen.get('a')!;
      const toOthers = ['b', 'c', 'd'].map((id) => seen.get(id)!);
      for (const list of toOthers) assert.equal(list.length, 1);
      assert.ok(toOthers.every(([m]) => m === toOthers[0]![0]), 'one OutgoingSoMessage for all receivers of the change');
      assert.notEqual(toA, toOthers[0]![0], 'the requester gets its own Success message');
      // Encoded once per encoding, whoever asks: the same Buffer comes back.
      const shared = toOthers[0]![0]!;
      assert.equal(shared.payload(false), shared.payload(false));
      assert.notEqual(shared.payload(true), shared.payload(false));
      assert.deepStrictEqual(decodeSharedObjectMessage(shared.payload(true), true).events, [{ type: 'change', name: 'msg', value: { text: 'hi' } }]);
    });

    it('removes a slot: Success to the requester, Remove to the others', () => {
      const store = newStore();
      const [a, b] = [subscriber('a'), subscriber('b')];
      store.use(a, 'chat', false);
      store.use(b, 'chat', false);
      store.requestChange(b, 'chat', 'k', 1);
      a.take();
      b.take();
      store.requestRemove(a, 'chat', 'k');
      assert.deepStrictEqual(events(a.take()), [{ type: 'success', name: 'k' }]);
      assert.deepStrictEqual(events(b.take()), [{ type: 'remove', name: 'k' }]);
      store.requestRemove(a, 'chat', 'never-there');
      assert.deepStrictEqual(events(a.take()), [{ type: 'success', name: 'never-there' }]);
      assert.equal(b.messages.length, 0);
    });

    it('reports client changes to onSync only for SOs the script holds', () => {
      const store = newStore();
      const syncs: Array<[string, SyncEntry[]]> = [];
      store.onSync = (name, list) => syncs.push([name, list]);
      const a = subscriber('a');
      store.use(a, 'free', false);
      store.requestChange(a, 'free', 'x', 1);
      assert.equal(syncs.length, 0);
      const held = store.get('held', false)!;
      held.setProperty('x', 'server');
      store.use(a, 'held', false);
      store.requestChange(a, 'held', 'x', 'client');
      store.requestRemove(a, 'held', 'x');
      assert.deepStrictEqual(syncs, [
        ['held', [{ code: 'change', name: 'x', oldValue: 'server' }]],
        ['held', [{ code: 'delete', name: 'x', oldValue: 'client' }]],
      ]);
    });

    it('broadcasts so.send to every subscriber, the sender included, and to onSend', () => {
      const store = newStore();
      const sent: unknown[] = [];
      store.onSend = (name, handler, args) => sent.push([name, handler, args]);
      store.get('chat', false);
      const [a, b] = [subscriber('a'), subscriber('b')];
      store.use(a, 'chat', false);
      store.use(b, 'chat', false);
      a.take();
      b.take();
      store.sendMessage(a, 'chat', 'onMsg', ['hi', 2]);
      for (const s of [a, b]) assert.deepStrictEqual(events(s.take()), [{ type: 'sendMessage', handler: 'onMsg', args: ['hi', 2] }]);
      assert.deepStrictEqual(sent, [['chat', 'onMsg', ['hi', 2]]]);
    });

    it('ignores requests from clients that did not use the SO', () => {
      const store = newStore();
      const [a, stranger] = [subscriber('a'), subscriber('s')];
      store.use(a, 'chat', false);
      a.take();
      store.requestChange(stranger, 'chat', 'x', 1);
      store.sendMessage(stranger, 'chat', 'h', []);
      store.requestChange(stranger, 'nothing', 'x', 1);
      assert.equal(a.messages.length + stranger.messages.length, 0);
      assert.equal(store.objects.get('chat')!.size(), 0);
    });

    it('routes a decoded client message through handleMessage', () => {
      const store = newStore();
      const a = subscriber('a');
      store.handleMessage(a, {
        name: 'chat',
        version: 0,
        persistent: false,
        events: [{ type: 'use' }, { type: 'requestChange', name: 'x', value: 1 }, { type: 'change', name: 'ignored', value: 0 }],
      });
      assert.deepStrictEqual(events(a.take()).map((e) => e.type), ['useSuccess', 'clear', 'success']);
      store.handleMessage(a, { name: 'chat', version: 1, persistent: false, events: [{ type: 'release' }] });
      assert.equal(store.objects.has('chat'), false, 'a temporary SO goes away with its last subscriber');
    });

    it('keeps fanning out when one subscriber throws', () => {
      const store = newStore();
      const bad = subscriber('bad');
      const good = subscriber('good');
      store.use(bad, 'chat', false);
      store.use(good, 'chat', false);
      bad.send = () => {
        throw new Error('socket gone');
      };
      good.take();
      store.requestChange(bad, 'chat', 'x', 1);
      assert.deepStrictEqual(events(good.take()), [{ type: 'change', name: 'x', value: 1 }]);
      assert.ok(logLines.some((l) => l['msg'] === 'shared object subscriber failed'));
    });
  });

  describe('access control', () => {
    it('answers NoReadAccess and does not subscribe', () => {
      const store = newStore();
      const a = subscriber('a', { readAccess: 'public' });
      assert.equal(store.use(a, 'private/chat', false), null);
      assert.deepStrictEqual(events(a.take()), [{ type: 'status', code: 'SharedObject.NoReadAccess', level: 'error' }]);
      assert.ok(store.use(a, 'public/chat', false), 'a prefix grants its sub-paths');
      assert.equal(store.use(subscriber('none', { readAccess: '' }), 'public/chat', false), null);
    });

    it('answers NoWriteAccess with the current value so the client reverts ("reject")', () => {
      const store = newStore();
      const writer = subscriber('w');
      const reader = subscriber('r', { writeAccess: 'other' });
      store.use(writer, 'chat', false);
      store.use(reader, 'chat', false);
      store.requestChange(writer, 'chat', 'x', 'kept');
      writer.take();
      reader.take();
      store.requestChange(reader, 'chat', 'x', 'mine');
      store.requestRemove(reader, 'chat', 'x');
      store.requestChange(reader, 'chat', 'absent', 1);
      assert.deepStrictEqual(events(reader.take()), [
        { type: 'status', code: 'SharedObject.NoWriteAccess', level: 'error' },
        { type: 'change', name: 'x', value: 'kept' },
        { type: 'status', code: 'SharedObject.NoWriteAccess', level: 'error' },
        { type: 'change', name: 'x', value: 'kept' },
        { type: 'status', code: 'SharedObject.NoWriteAccess', level: 'error' },
        { type: 'remove', name: 'absent' },
      ]);
      assert.equal(writer.messages.length, 0);
      assert.equal(store.objects.get('chat')!.getProperty('x'), 'kept');
    });

    it('reads the access lists at request time (scripts change them)', () => {
      const store = newStore();
      const a = subscriber('a');
      store.use(a, 'chat', false);
      a.writeAccess = '';
      a.take();
      store.requestChange(a, 'chat', 'x', 1);
      assert.equal(events(a.take())[0]!.type, 'status');
    });
  });

  describe('script API', () => {
    it('batches setProperty calls into one sync; null deletes; no onSync for own changes', () => {
      const store = newStore();
      let syncs = 0;
      store.onSync = () => syncs++;
      const so = store.get('s', false)!;
      const a = subscriber('a');
      store.use(a, 's', false);
      a.take();
      so.setProperty('a', 1);
      so.setProperty('b', { deep: [1] });
      so.setProperty('a', 2);
      assert.equal(a.messages.length, 0, 'nothing is sent before the sync');
      store.syncPending();
      assert.deepStrictEqual(a.take().map((m) => m.events), [[
        { type: 'change', name: 'a', value: 2 },
        { type: 'change', name: 'b', value: { deep: [1] } },
      ]]);
      so.setProperty('b', null);
      so.setProperty('missing', null);
      store.syncPending();
      assert.deepStrictEqual(events(a.take()), [{ type: 'remove', name: 'b' }]);
      assert.deepStrictEqual(so.getPropertyNames(), ['a']);
      assert.equal(so.size(), 1);
      assert.equal(syncs, 0);
    });

    it('syncs on its own on the next turn of the event loop', async () => {
      const store = newStore();
      const so = store.get('s', false)!;
      const a = subscriber('a');
      store.use(a, 's', false);
      a.take();
      so.setProperty('x', 1);
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.deepStrictEqual(events(a.take()), [{ type: 'change', name: 'x', value: 1 }]);
    });

    it('lock: changes wait for the last unlock and go out as one message; client requests wait too', () => {
      const store = newStore();
      const so = store.get('s', false)!;
      const [a, b] = [subscriber('a'), subscriber('b')];
      store.use(a, 's', false);
      store.use(b, 's', false);
      a.take();
      b.take();
      assert.equal(so.lock(), 1);
      assert.equal(so.lock(), 2);
      so.setProperty('x', 1);
      so.setProperty('y', 2);
      store.requestChange(a, 's', 'x', 'client');
      store.syncPending();
      assert.equal(a.messages.length + b.messages.length, 0, 'nothing while locked');
      assert.equal(so.getProperty('x'), 1, 'the client request is not applied yet');
      assert.equal(so.unlock(), 1);
      assert.equal(a.messages.length, 0);
      assert.equal(so.unlock(), 0);
      assert.equal(so.unlock(), -1, 'unlock without lock');
      assert.deepStrictEqual(b.take().map((m) => m.events), [
        [{ type: 'change', name: 'x', value: 1 }, { type: 'change', name: 'y', value: 2 }],
        [{ type: 'change', name: 'x', value: 'client' }],
      ]);
      assert.deepStrictEqual(a.take().map((m) => m.events), [
        [{ type: 'change', name: 'x', value: 1 }, { type: 'change', name: 'y', value: 2 }],
        [{ type: 'success', name: 'x' }],
      ]);
    });

    it('send goes out after the changes made before it, to every subscriber', () => {
      const store = newStore();
      const so = store.get('s', false)!;
      const a = subscriber('a');
      store.use(a, 's', false);
      a.take();
      so.setProperty('x', 1);
      assert.equal(so.send('onUpdate', 'x', 1), true);
      assert.deepStrictEqual(events(a.take()), [
        { type: 'change', name: 'x', value: 1 },
        { type: 'sendMessage', handler: 'onUpdate', args: ['x', 1] },
      ]);
    });

    it('clear sends Clear and empties the SO; a client change after it arrives after the Clear', () => {
      const store = newStore();
      const so = store.get('s', false)!;
      so.setProperty('x', 1);
      const [a, b] = [subscriber('a'), subscriber('b')];
      store.use(a, 's', false);
      store.use(b, 's', false);
      a.take();
      b.take();
      assert.equal(so.clear(), true);
      store.requestChange(a, 's', 'y', 2);
      assert.deepStrictEqual(events(b.take()), [{ type: 'clear' }, { type: 'change', name: 'y', value: 2 }]);
      assert.deepStrictEqual(so.getPropertyNames(), ['y']);
    });

    it('a temporary SO lives while the script or a client holds it', async () => {
      const store = newStore();
      const so = store.get('t', false)!;
      so.setProperty('x', 1);
      const a = subscriber('a');
      store.use(a, 't', false);
      so.close();
      assert.ok(store.objects.has('t'), 'the client still uses it');
      store.releaseAll(a);
      assert.equal(store.objects.has('t'), false);
      assert.equal(store.get('t', false)!.size(), 0, 'a new, empty SO');
      assert.equal(await so.flush(), false, 'flush is for persistent SOs');
      assert.equal(so.purge(3), true);
    });
  });

  describe('persistence', () => {
    it('round trip: a new store on the same dir sees the slots and the version', async () => {
      const first = newStore();
      const a = subscriber('a');
      first.use(a, 'rooms/lobby', true);
      const so = first.get('rooms/lobby', true)!;
      const values: Record<string, unknown> = {
        text: 'héllo',
        num: 1.5,
        nan: Number.NaN,
        negZero: -0,
        inf: Number.NEGATIVE_INFINITY,
        undef: undefined,
        when: new Date(1_700_000_000_000),
        nested: { list: [1, 'two', { three: true }], empty: {} },
        withTagKey: { $t: 'not a tag', v: 1 },
        proto: JSON.parse('{"__proto__": {"polluted": true}}'),
        typed: typedObject('com.example.User', { name: 'ann' }),
        ecma: ecmaArray({ duration: 10 }),
        map: new Map<unknown, unknown>([['k', 1], [2, 'v']]),
        bytes: Buffer.from([1, 2, 255]),
        xml: new AmfXml('<a/>', 'xml'),
        vector: new AmfVector('int', [1, 2], true),
      };
      for (const [slot, value] of Object.entries(values)) so.setProperty(slot, value);
      first.requestChange(a, 'rooms/lobby', 'byClient', 42);
      const version = so.version;
      await first.close();
      assert.ok(existsSync(path.join(dataDir, 'chatapp', 'room1', 'rooms', 'lobby.fso.json')));

      const second = newStore();
      const b = subscriber('b');
      await used(second, b, 'rooms/lobby', true);
      const [msg] = b.take();
      assert.equal(msg!.version, version);
      assert.equal(msg!.persistent, true);
      const restored = second.objects.get('rooms/lobby')!;
      assert.equal(restored.getProperty('byClient'), 42);
      for (const [slot, value] of Object.entries(values)) {
        assert.deepStrictEqual(restored.getProperty(slot), value, slot);
      }
      assert.ok(Object.is(restored.getProperty('negZero'), -0));
      assert.equal(getClassName(restored.getProperty('typed') as object), 'com.example.User');
      assert.ok(isEcmaArray(restored.getProperty('ecma') as object));
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
      assert.deepStrictEqual(Object.keys(restored.getProperty('proto') as object), ['__proto__']);
    });

    it('writes cycles as null instead of failing', async () => {
      const store = newStore();
      const so = store.get('cyc', true)!;
      const loop: Record<string, unknown> = { a: 1 };
      loop['self'] = loop;
      so.setProperty('loop', loop);
      await store.close();
      const again = (await newStore().open('cyc', true))!;
      assert.deepStrictEqual(again.getProperty('loop'), { a: 1, self: null });
    });

    it('writes at most flushDelayMs after the first change (later changes do not postpone it)', async () => {
      const delayMs = 150;
      const store = newStore(delayMs);
      const so = store.get('timed', true)!;
      const file = store.fileOf('timed')!;
      so.setProperty('x', 1);
      assert.equal(existsSync(file), false, 'not written synchronously');
      await new Promise((resolve) => setTimeout(resolve, delayMs / 2));
      so.setProperty('y', 2);
      assert.equal(so.dirty, true, 'not written before flushDelayMs');
      // Timers fire in order of their due time: by now the write due at delayMs has started (the SO
      // is no longer dirty); one postponed by the second change would be due at 1.5 × delayMs.
      // (When it finishes depends on the disk: it is durable, fsyncs included.)
      await new Promise((resolve) => setTimeout(resolve, delayMs * 0.75));
      assert.equal(so.dirty, false, 'the second change postponed the write');
      await so.settled();
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { slots: unknown[] };
      assert.deepStrictEqual(saved.slots, [['x', 1], ['y', 2]]);
    });

    it('flush() writes at once and resolves true once the file is there; close() writes what is still dirty', async () => {
      const store = newStore(60_000);
      const so = store.get('f', true)!;
      so.setProperty('x', 1);
      assert.equal(await so.flush(), true);
      assert.deepStrictEqual((JSON.parse(readFileSync(store.fileOf('f')!, 'utf8')) as { slots: unknown[] }).slots, [['x', 1]]);
      so.setProperty('x', 2);
      await store.close();
      assert.deepStrictEqual((JSON.parse(readFileSync(store.fileOf('f')!, 'utf8')) as { slots: unknown[] }).slots, [['x', 2]]);
      assert.deepStrictEqual(readdirSync(path.dirname(store.fileOf('f')!)), ['f.fso.json'], 'no temp files left behind');
    });

    it('writes when the last subscriber leaves and keeps serving the same data after', async () => {
      const store = newStore(60_000);
      const a = subscriber('a');
      store.use(a, 'p', true);
      store.requestChange(a, 'p', 'x', 1);
      const state = store.objects.get('p')!;
      store.release(a, 'p');
      await state.settled();
      assert.ok(existsSync(store.fileOf('p')!));
      const b = subscriber('b');
      await used(store, b, 'p', true);
      assert.deepStrictEqual(events(b.take()).slice(2), [{ type: 'change', name: 'x', value: 1 }]);
    });

    it('clear() removes the file', async () => {
      const store = newStore();
      const so = store.get('c', true)!;
      so.setProperty('x', 1);
      so.flush();
      await so.settled();
      so.clear();
      await so.settled();
      assert.equal(existsSync(store.fileOf('c')!), false);
    });

    for (const [label, content] of [
      ['garbage', 'not json at all'],
      ['a truncated file', '{"format":"fms-runtime.shared-object","formatVersion":1,"name":"bad","version":3,"slots":[["a",1],["b",'],
      ['a file of another format', '{"hello":"world"}'],
      ['an unknown tag', '{"format":"fms-runtime.shared-object","formatVersion":1,"name":"bad","version":1,"slots":[["a",{"$t":"weird"}]]}'],
    ] as const) {
      it(`moves ${label} aside with one log line and starts empty`, async () => {
        const store = newStore();
        const file = store.fileOf('bad')!;
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content);
        const a = subscriber('a');
        await used(store, a, 'bad', true);
        assert.deepStrictEqual(events(a.take()), [{ type: 'useSuccess' }, { type: 'clear' }]);
        assert.equal(existsSync(file), false);
        const aside = readdirSync(path.dirname(file)).filter((f) => f.startsWith('bad.fso.json.corrupt-'));
        assert.equal(aside.length, 1);
        assert.equal(readFileSync(path.join(path.dirname(file), aside[0]!), 'utf8'), content);
        const lines = logLines.filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).includes('corrupt'));
        assert.equal(lines.length, 1);
        assert.equal(lines[0]!['level'], 40);
        assert.equal(lines[0]!['so'], 'bad');
      });
    }

    it('refuses instance names that would leave the data dir', () => {
      const log = pino({ level: 'silent' });
      assert.throws(() => new SharedObjectStore({ appDataDir: dataDir, instance: '..', log }));
      assert.throws(() => new SharedObjectStore({ appDataDir: dataDir, instance: '../../etc', log }));
    });
  });
});

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { AmfXml } from '../../runtime/rtmp/amf-values.ts';
import { OBJECT_OVERHEAD_BYTES, SLOT_OVERHEAD_BYTES, SharedObjectBudget } from '../../runtime/shared-objects/shared-object-budget.ts';
import { decodeSoFileInSlices, encodeSlot, measureSlot, SO_FILE_FOOTER, SO_FILE_SEPARATOR, soFileHeader } from '../../runtime/shared-objects/shared-object-file-format.ts';
import type { SharedObjectSubscriber } from '../../runtime/shared-objects/shared-object-state.ts';
import { SharedObjectStore } from '../../runtime/shared-objects/shared-object-store.ts';

const KIB = 1024;

describe('shared-object slot encoding: stored form and budget', () => {
  it('a file assembled from header, encoded slots (one per line) and footer is the JSON of the whole; read back a line at a time it gives the values and the same stored forms', async () => {
    const values: Array<[string, unknown]> = [['s', 'text\nwith a line break'], ['n', 1.5], ['b', true], ['a', [1, 'two']], ['o', { a: { b: [3] } }], ['d', new Date(5)], ['x', new AmfXml('<a/>', 'xml')], ['nan', Number.NaN]];
    const encoded = values.map(([slot, value]) => encodeSlot(slot, value, 1024)!);
    const bytes = Buffer.concat([soFileHeader('doc', 7), ...encoded.flatMap((e, i) => (i === 0 ? [e] : [SO_FILE_SEPARATOR, e])), SO_FILE_FOOTER]);
    const file = bytes.toString('utf8');
    const entries = encoded.map((e) => JSON.parse(e.toString('utf8')) as unknown);
    assert.deepEqual(JSON.parse(file), { format: 'fms-runtime.shared-object', formatVersion: 1, name: 'doc', version: 7, slots: entries });
    assert.equal(file.split('\n').length, values.length + 2, 'one slot per line');
    let pauses = 0;
    const decoded = await decodeSoFileInSlices(bytes, async () => void pauses++);
    assert.equal(decoded.version, 7);
    assert.deepEqual(decoded.slots.slice(0, 6).map(([slot, value]) => [slot, value]), values.slice(0, 6));
    assert.ok(Number.isNaN(decoded.slots[7]![1]));
    assert.deepEqual(decoded.slots.map(([, , stored]) => stored), encoded, 'each line is kept as the stored form');
    // A file written on one line (before this layout) is read whole.
    const legacy = JSON.stringify({ format: 'fms-runtime.shared-object', formatVersion: 1, name: 'doc', version: 3, slots: [['k', 'v']] });
    assert.deepEqual((await decodeSoFileInSlices(Buffer.from(legacy), async () => undefined)).slots, [['k', 'v', null]]);
  });

  it('reading back yields between slices: a large SO is never parsed in one piece', async () => {
    const big = encodeSlot('a', 'x'.repeat(300_000), 1e6)!;
    const file = Buffer.concat([soFileHeader('doc', 1), big, SO_FILE_SEPARATOR, encodeSlot('b', 'y'.repeat(300_000), 1e6)!, SO_FILE_FOOTER]);
    let pauses = 0;
    await decodeSoFileInSlices(file, async () => void pauses++);
    assert.equal(pauses, 2);
  });

  it('a value over the budget is refused by the walk before anything is stringified (a 64 MB string costs no 64 MB encoding)', () => {
    const huge = '\u0001'.repeat(64 * 1024 * 1024); // 384 MB once escaped
    const started = performance.now();
    assert.equal(encodeSlot('k', huge, 4 * 1024 * 1024), null);
    assert.equal(measureSlot('k', huge, 4 * 1024 * 1024), null);
    assert.equal(encodeSlot('k', { nested: [huge] }, 4 * 1024 * 1024), null);
    assert.ok(performance.now() - started < 50, 'refused without encoding');
  });

  it('what escapes to more than the budget is refused even when its characters fit (the stored form counts)', () => {
    const value = '\u0001'.repeat(1000); // 1,000 characters, 6,000 bytes stored
    assert.notEqual(measureSlot('k', value, 2000), null, 'the lower bound fits');
    assert.equal(encodeSlot('k', value, 2000), null, 'the stored form does not');
    assert.equal(encodeSlot('k', value, 7000)!.length, 6000 + '["k",""]'.length);
  });
});

describe('SharedObjectBudget: who holds which bytes', () => {
  it('a slot is charged to whoever wrote it last; growth only is refused', () => {
    const admitted: number[] = [];
    const budget = new SharedObjectBudget({ maxSlotBytes: 10 * KIB, maxObjectBytes: 20 * KIB, maxInstanceBytes: 30 * KIB }, (bytes) => {
      admitted.push(bytes);
      return true;
    });
    const object = { persistent: false, bytes: 0, openedByScript: false, slotCosts: new Map() };
    const byClient = budget.measure(object, 's', 'x'.repeat(1000), false);
    assert.ok(typeof byClient !== 'string');
    assert.equal(budget.refusal(object, 's', byClient, false), null);
    budget.charge(undefined, byClient);
    object.slotCosts.set('s', byClient);
    object.bytes = byClient.bytes;
    assert.equal(budget.clientBytes, byClient.bytes);
    // The script overwrites it: the bytes move to the script's account, which is asked first.
    const byScript = budget.measure(object, 's', 'y'.repeat(2000), true);
    assert.ok(typeof byScript !== 'string');
    assert.equal(budget.refusal(object, 's', byScript, true), null);
    assert.deepEqual(admitted, [byScript.bytes], "the script's whole new cost is its growth");
    budget.charge(byClient, byScript);
    assert.equal(budget.clientBytes, 0);
    assert.equal(budget.scriptBytes, 2000 + 's'.length + 8 + SLOT_OVERHEAD_BYTES);
    // Over the slot budget; over the object's room.
    assert.equal(budget.measure(object, 't', 'z'.repeat(11 * KIB), false), 'slot');
    object.bytes = 19 * KIB;
    assert.equal(budget.measure(object, 't', 'z'.repeat(2 * KIB), false), 'object');
  });
});

describe('SharedObjectStore budgets', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(path.join(os.tmpdir(), 'fms-so-budget-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  function store(admitScriptBytes?: (bytes: number) => boolean) {
    const log = pino({ level: 'silent' });
    return new SharedObjectStore({ appDataDir: path.join(dataDir, 'a'), instance: 'i', log, limits: { maxSlotBytes: 4 * KIB, maxObjectBytes: 16 * KIB, maxInstanceBytes: 32 * KIB }, ...(admitScriptBytes ? { admitScriptBytes } : {}) });
  }

  const sub: SharedObjectSubscriber = { id: 'c', readAccess: '/', writeAccess: '/', send: () => undefined };

  it('the SO file is assembled from the slots as they changed: a round trip through a new store', async () => {
    const first = store();
    const so = first.get('doc', true)!;
    for (let i = 0; i < 10; i++) so.setProperty(`k${i}`, { i, text: 'é'.repeat(i) });
    so.setProperty('k3', null);
    so.setProperty('k4', 'replaced');
    assert.equal(await so.flush(), true);
    const saved = JSON.parse(readFileSync(first.fileOf('doc')!, 'utf8')) as { slots: Array<[string, unknown]>; version: number };
    assert.equal(saved.version, so.version);
    assert.equal(saved.slots.length, 9);
    await first.close();
    const second = store();
    const again = (await second.open('doc', true))!;
    assert.deepEqual(again.getProperty('k4'), 'replaced');
    assert.deepEqual(again.getProperty('k9'), { i: 9, text: 'é'.repeat(9) });
    assert.equal(again.getProperty('k3'), undefined);
    await second.close();
  });

  it('bytes are freed when slots are deleted, the SO is cleared or dropped', async () => {
    const s = store();
    const so = s.get('t', false)!;
    assert.equal(s.scriptBytes, OBJECT_OVERHEAD_BYTES);
    so.setProperty('a', 'x'.repeat(1000));
    assert.ok(s.scriptBytes > OBJECT_OVERHEAD_BYTES + 1000);
    so.setProperty('a', null);
    assert.equal(s.scriptBytes, OBJECT_OVERHEAD_BYTES);
    so.setProperty('b', 'x'.repeat(1000));
    so.clear();
    assert.equal(s.scriptBytes, OBJECT_OVERHEAD_BYTES);
    so.close();
    assert.equal(s.scriptBytes, 0);
    s.use(sub, 'c', false);
    s.requestChange(sub, 'c', 'k', 'v'.repeat(500));
    assert.ok(s.clientBytes > 500);
    s.releaseAll(sub);
    assert.equal(s.clientBytes, 0);
    await s.close();
  });

  it('a persistent SO loads off the event loop: Uses wait for it, a client gone meanwhile is not subscribed, one over the budget is ObjectCreationFailed', async () => {
    const first = store();
    const so = first.get('doc', true)!;
    for (let i = 0; i < 3; i++) so.setProperty(`k${i}`, 'v'.repeat(3 * KIB));
    await first.close();
    const second = store();
    const sent = [] as Array<{ id: string; events: string[] }>;
    const client = (id: string): SharedObjectSubscriber => ({ id, readAccess: '/', writeAccess: '/', send: (m) => void sent.push({ id, events: m.events.map((e) => e.type) }) });
    const stays = client('stays');
    const leaves = client('leaves');
    second.use(stays, 'doc', true);
    second.use(leaves, 'doc', true);
    second.releaseAll(leaves);
    assert.equal(sent.length, 0, 'nothing answered before the file is in');
    const state = second.objects.get('doc')!;
    assert.equal(await state.ready, true);
    assert.deepEqual(sent.map((m) => m.id), ['stays']);
    assert.deepEqual(sent[0]!.events, ['useSuccess', 'clear', 'change', 'change', 'change']);
    assert.deepEqual([...state.subscribers.keys()], ['stays']);
    await second.close();
    // The same file where clients may hold only 8 KiB: it does not fit, the Use is refused.
    const log = pino({ level: 'silent' });
    const tight = new SharedObjectStore({ appDataDir: path.join(dataDir, 'a'), instance: 'i', log, limits: { maxSlotBytes: 4 * KIB, maxObjectBytes: 8 * KIB, maxInstanceBytes: 8 * KIB } });
    const refused: string[] = [];
    tight.use({ id: 'c', readAccess: '/', writeAccess: '/', send: (m) => void refused.push(...m.events.map((e) => (e.type === 'status' ? e.code : e.type))) }, 'doc', true);
    assert.equal(await tight.objects.get('doc')!.ready, false);
    assert.deepEqual(refused, ['SharedObject.ObjectCreationFailed']);
    assert.equal(tight.objects.has('doc'), false);
    await tight.close();
  });

  it("the script's growth asks its owner first (host memory); a refusal changes nothing", async () => {
    let allow = true;
    const s = store(() => allow);
    const so = s.get('t', false)!;
    assert.equal(so.setProperty('a', 'small'), true);
    allow = false;
    assert.equal(so.setProperty('b', 'more'), false);
    assert.equal(so.getProperty('b'), undefined);
    assert.equal(so.setProperty('a', null), true, 'freeing needs no permission');
    await s.close();
  });
});

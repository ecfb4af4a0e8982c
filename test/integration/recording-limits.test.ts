import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { NetStream } from '../../runtime/client/net-stream.ts';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import { publishTags, testFlv } from '../helpers/media-tools.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * Application.xml Recording/MaxDuration, MaxSize (client recordings) and MaxDurationCap, MaxSizeCap
 * (bounds of a script's Stream.record(mode, maxDuration, maxSize)): a recording that reaches its
 * limit stops with FMS's status codes — NetStream.Record.DiskQuotaExceeded for the size, then
 * NetStream.Record.Stop — while publishing goes on.
 */
const SCRIPTED_MAIN = `
// The published name says which limits to ask for: "d<sec>", "s<kb>", "dflt" (no arguments), "d0" (Application.xml MaxDuration).
application.onPublish = function (client, stream) {
  var s = Stream.get(stream.name);
  var name = stream.name;
  s.onStatus = function (info) { trace(name + " " + info.code); };
  if (name == "dflt") s.record("record");
  else if (name.charAt(0) == "d") s.record("record", Number(name.slice(1)));
  else s.record("record", -1, Number(name.slice(1)));
};
`;

function recording(text: string): string {
  return `<Application><Recording>${text}</Recording></Application>`;
}

describe('recording limits (Application.xml Recording, Stream.record maxDuration/maxSize)', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let apps: string;
  const source = testFlv(20);
  const open: NetConnection[] = [];

  before(async () => {
    apps = tempDir('rec-limits');
    for (const [app, xml, main] of [
      ['maxduration', recording('<MaxDuration>2</MaxDuration>'), null],
      ['maxsize', recording('<MaxSize>60</MaxSize>'), null],
      ['scripted', recording('<MaxDuration>2</MaxDuration><MaxDurationCap>3</MaxDurationCap>'), SCRIPTED_MAIN],
      ['sizecap', recording('<MaxSizeCap>100</MaxSizeCap>'), SCRIPTED_MAIN],
      ['nolimits', null, null],
    ] as const) {
      mkdirSync(path.join(apps, app));
      if (xml) writeFileSync(path.join(apps, app, 'Application.xml'), xml);
      if (main) writeFileSync(path.join(apps, app, 'main.asc'), main);
    }
    ts = await startTestServer(apps);
  });
  after(async () => {
    for (const nc of open) nc.close();
    await ts?.close();
  });

  async function publish(app: string, name: string, type: 'record' | 'live'): Promise<{ ns: NetStream; codes: string[] }> {
    const nc = new NetConnection();
    open.push(nc);
    await nc.connect(ts.url(app));
    const ns = await nc.createStream();
    const codes: string[] = [];
    ns.on('status', (info) => codes.push(info.code));
    await ns.publish(name, type);
    return { ns, codes };
  }

  const file = (app: string, name: string) => path.join(apps, app, 'streams', '_definst_', `${name}.flv`);
  const recordedMs = (app: string, name: string) => readFlvTags(readFileSync(file(app, name))).filter((t) => t.type === 9 || t.type === 8).at(-1)!.timestamp;
  /** The recording stopped at `limitMs` (within the last 200 ms: the frame that would pass it is not written). */
  const assertStoppedAt = (app: string, name: string, limitMs: number) => {
    const ms = recordedMs(app, name);
    assert.ok(ms <= limitMs && ms >= limitMs - 200, `${name} recorded ${ms} ms, limit ${limitMs}`);
  };

  it('MaxDuration (s): a client recording stops at 2 s with Record.Stop; publishing continues', async () => {
    const { ns, codes } = await publish('maxduration', 'talk', 'record');
    const stopped = ns.waitStatus('NetStream.Record.Stop');
    await publishTags(ns, source, { realtime: false, limitMs: 6000 });
    await stopped;
    assert.deepEqual(codes, ['NetStream.Publish.Start', 'NetStream.Record.Start', 'NetStream.Record.Stop']);
    assertStoppedAt('maxduration', 'talk', 2000);
    // Still publishing: a player joining now gets the live stream.
    const viewer = new NetConnection();
    open.push(viewer);
    await viewer.connect(ts.url('maxduration'));
    const play = await viewer.createStream();
    const started = play.waitStatus('NetStream.Play.Start');
    play.play('talk', -1);
    await started;
    const unpublished = ns.waitStatus('NetStream.Unpublish.Success');
    ns.command('closeStream');
    await unpublished;
    assert.equal(codes.filter((c) => c === 'NetStream.Record.Stop').length, 1, 'one Record.Stop, not another at unpublish');
  });

  it('MaxSize (KB): Record.DiskQuotaExceeded, then Record.Stop; the file stays within 60 KB', async () => {
    const { ns, codes } = await publish('maxsize', 'big', 'record');
    const stopped = ns.waitStatus('NetStream.Record.Stop');
    await publishTags(ns, source, { realtime: false, limitMs: 6000 });
    await stopped;
    assert.deepEqual(codes, ['NetStream.Publish.Start', 'NetStream.Record.Start', 'NetStream.Record.DiskQuotaExceeded', 'NetStream.Record.Stop']);
    const size = statSync(file('maxsize', 'big')).size;
    assert.ok(size <= 60 * 1024 && size > 40 * 1024, `file is ${size} bytes`);
  });

  it('without Application.xml limits a recording keeps everything', async () => {
    const { ns, codes } = await publish('nolimits', 'all', 'record');
    await publishTags(ns, source, { realtime: false, limitMs: 6000 });
    const unpublished = ns.waitStatus('NetStream.Unpublish.Success');
    ns.command('closeStream');
    await unpublished;
    assert.ok(!codes.includes('NetStream.Record.DiskQuotaExceeded'));
    assert.ok(recordedMs('nolimits', 'all') >= 5900);
  });

  /** Publishes `name` live into a scripted app, whose onPublish records it, and waits for the script's Record.Stop. */
  async function scripted(name: string, app = 'scripted', limitMs = 6000): Promise<string[]> {
    const { ns } = await publish(app, name, 'live');
    const stopLine = `${name} NetStream.Record.Stop`;
    const stopped = ts.logs.waitFor((r) => r['trace'] === true && r.msg === stopLine);
    await ts.logs.waitFor((r) => r['trace'] === true && r.msg === `${name} NetStream.Record.Start`);
    await publishTags(ns, source, { realtime: false, limitMs });
    await stopped;
    return ts.logs.traces(`${app}/_definst_`).filter((t) => t.startsWith(`${name} `)).map((t) => t.slice(name.length + 1));
  }

  it('Stream.record(mode, maxDuration): a value under MaxDurationCap is kept', async () => {
    assert.deepEqual(await scripted('d1'), ['NetStream.Record.Start', 'NetStream.Record.Stop']);
    assertStoppedAt('scripted', 'd1', 1000);
  });

  it('Stream.record(mode, maxDuration): a value over MaxDurationCap is capped; omitted means the cap', async () => {
    await scripted('d10');
    assertStoppedAt('scripted', 'd10', 3000);
    await scripted('dflt');
    assertStoppedAt('scripted', 'dflt', 3000);
  });

  it('Stream.record(mode, 0): Application.xml MaxDuration applies', async () => {
    await scripted('d0');
    assertStoppedAt('scripted', 'd0', 2000);
  });

  it('Stream.record(mode, -1, maxSize): DiskQuotaExceeded then Stop reach stream.onStatus; over MaxSizeCap it is capped', async () => {
    assert.deepEqual(await scripted('s40', 'sizecap'), ['NetStream.Record.Start', 'NetStream.Record.DiskQuotaExceeded', 'NetStream.Record.Stop']);
    const small = statSync(file('sizecap', 's40')).size;
    assert.ok(small <= 40 * 1024 && small > 30 * 1024, `file is ${small} bytes`);
    assert.deepEqual(await scripted('s5000', 'sizecap'), ['NetStream.Record.Start', 'NetStream.Record.DiskQuotaExceeded', 'NetStream.Record.Stop']);
    const capped = statSync(file('sizecap', 's5000')).size;
    assert.ok(capped <= 100 * 1024 && capped > 80 * 1024, `file is ${capped} bytes`);
  });
});

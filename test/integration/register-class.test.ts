import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject, type SyncItem } from '../../runtime/client/shared-object.ts';
import { getClassName, typedObject } from '../../runtime/rtmp/amf-values.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

const ALIAS = 'com.example.Point';

// The constructor overwrites x/y and marks the instance: an incoming object whose fields survive
// and that lacks `built` proves FMS semantics (prototype set, constructor not called).
const SCRIPT = `
function Point(x, y) { this.x = x; this.y = y; this.built = true; }
Point.prototype.length2 = function () { return this.x * this.x + this.y * this.y; };
application.registerClass("${ALIAS}", Point);

application.onConnect = function (client, p) { client.connectPoint = p instanceof Point ? p.length2() : "none"; return true; };
Client.prototype.connectArg = function () { return this.connectPoint; };
Client.prototype.shout = function () { application.broadcastMsg("takePoint", { nested: [new Point(5, 6)] }); return true; };
Client.prototype.makePoint = function () { return { single: new Point(1, 2), list: [new Point(3, 4)], plain: { x: 0 } }; };
Client.prototype.inspect = function (p) {
  var keys = [];
  for (var k in p) if (typeof p[k] != "function") keys.push(k);
  return { isPoint: p instanceof Point, length2: p instanceof Point ? p.length2() : null, built: p.built === true, keys: keys.sort().join(",") };
};
Client.prototype.echo = function (v) { return v; };
Client.prototype.pushPoint = function () { return this.call("takePoint", null, { nested: [new Point(5, 6)] }); };
Client.prototype.soWrite = function () { SharedObject.get("board", false).setProperty("fromScript", new Point(7, 8)); return true; };
Client.prototype.soRead = function (slot) {
  var p = SharedObject.get("board", false).getProperty(slot);
  return p instanceof Point ? p.length2() : "not a Point";
};
Client.prototype.unregister = function () { application.registerClass("${ALIAS}", null); return true; };
`;

function nextSync(so: SharedObject): Promise<SyncItem[]> {
  return new Promise((resolve) => so.once('sync', resolve));
}

describe('application.registerClass: AMF class aliases both ways (fms-api §2, §13)', function () {
  this.timeout(30_000);
  let ts: TestServer;
  before(async () => {
    const apps = tempDir('amfclass');
    for (const app of ['points', 'points3', 'unregister']) {
      mkdirSync(path.join(apps, app));
      writeFileSync(path.join(apps, app, 'main.asc'), SCRIPT);
    }
    ts = await startTestServer(apps);
  });
  after(async () => ts?.close());

  for (const objectEncoding of [0, 3] as const) {
    it(`AMF${objectEncoding}: a returned instance reaches the client as a typed object with the alias`, async () => {
      const nc = new NetConnection({ objectEncoding });
      await nc.connect(ts.url('points'));
      try {
        const result = (await nc.call('makePoint')) as Record<string, Record<string, unknown>>;
        const single = result['single'] as Record<string, unknown>;
        const listed = (result['list'] as unknown as Record<string, unknown>[])[0] as Record<string, unknown>;
        assert.equal(getClassName(single), ALIAS);
        assert.deepEqual({ ...single }, { x: 1, y: 2, built: true }); // fields only: no reserved key leaks
        assert.equal(getClassName(listed), ALIAS);
        assert.deepEqual({ ...listed }, { x: 3, y: 4, built: true });
        assert.equal(getClassName(result['plain'] as object), undefined);
        assert.equal(getClassName(result), undefined);
      } finally {
        nc.close();
      }
    });

    it(`AMF${objectEncoding}: a typed argument with the alias arrives as an instance (prototype set, constructor not run)`, async () => {
      const nc = new NetConnection({ objectEncoding });
      await nc.connect(ts.url('points'));
      try {
        const answer = await nc.call('inspect', typedObject(ALIAS, { x: 3, y: 4 }));
        assert.deepEqual(answer, { isPoint: true, length2: 25, built: false, keys: 'x,y' });
        // Round trip: the instance the script got goes back out typed.
        const echoed = (await nc.call('echo', typedObject(ALIAS, { x: 9, y: 1 }))) as object;
        assert.equal(getClassName(echoed), ALIAS);
        assert.deepEqual({ ...echoed }, { x: 9, y: 1 });
      } finally {
        nc.close();
      }
    });
  }

  it('an unregistered alias stays a plain object, as before', async () => {
    const nc = new NetConnection({ objectEncoding: 3 });
    await nc.connect(ts.url('points'));
    try {
      const other = typedObject('com.example.Other', { x: 3, y: 4 });
      assert.deepEqual(await nc.call('inspect', other), { isPoint: false, length2: null, built: false, keys: 'x,y' });
      const echoed = (await nc.call('echo', other)) as object;
      assert.equal(getClassName(echoed), undefined);
      assert.deepEqual({ ...echoed }, { x: 3, y: 4 });
      // A plain object whose keys look like anything cannot pose as a Point.
      assert.equal((await nc.call('inspect', { __fms_amf_class_: ALIAS, x: 1 }) as { isPoint: boolean }).isPoint, false);
    } finally {
      nc.close();
    }
  });

  for (const method of ['pushPoint', 'shout']) {
    it(`${method === 'shout' ? 'application.broadcastMsg' : 'client.call'} arguments carry instances as typed objects`, async () => {
      const nc = new NetConnection();
      const received = new Promise<unknown>((resolve) => {
        nc.client['takePoint'] = (arg: unknown) => resolve(arg);
      });
      await nc.connect(ts.url('points'));
      try {
        assert.equal(await nc.call(method), true);
        const arg = (await received) as { nested: object[] };
        assert.equal(getClassName(arg.nested[0] as object), ALIAS);
        assert.deepEqual({ ...arg.nested[0] }, { x: 5, y: 6, built: true });
      } finally {
        nc.close();
      }
    });
  }

  it('connect arguments with the alias reach onConnect as instances', async () => {
    const nc = new NetConnection({ objectEncoding: 3 });
    await nc.connect(ts.url('points'), typedObject(ALIAS, { x: 6, y: 8 }));
    try {
      assert.equal(await nc.call('connectArg'), 100);
    } finally {
      nc.close();
    }
  });

  it('shared objects: typed slot values reach other clients (AMF0 and AMF3) typed, and the script as instances', async () => {
    const join = async (objectEncoding: 0 | 3) => {
      const nc = new NetConnection({ objectEncoding });
      await nc.connect(ts.url('points3'));
      const so = SharedObject.getRemote(nc, 'board', false);
      await so.connect();
      return { nc, so };
    };
    const writer = await join(0);
    const readers = [await join(0), await join(3)];
    try {
      // Script → clients.
      let synced = readers.map((r) => nextSync(r.so));
      assert.equal(await writer.nc.call('soWrite'), true);
      for (const [i, r] of readers.entries()) {
        await synced[i];
        const value = r.so.data['fromScript'] as object;
        assert.equal(getClassName(value), ALIAS, `reader ${i}`);
        assert.deepEqual({ ...value }, { x: 7, y: 8, built: true });
      }
      // Client → script and other clients.
      synced = readers.map((r) => nextSync(r.so));
      writer.so.setProperty('fromClient', typedObject(ALIAS, { x: 2, y: 3 }));
      await Promise.all(synced);
      assert.equal(await writer.nc.call('soRead', 'fromClient'), 13);
      for (const r of readers) assert.equal(getClassName(r.so.data['fromClient'] as object), ALIAS);
    } finally {
      for (const x of [writer, ...readers]) x.nc.close();
    }
  });

  it('registerClass(alias, null) unregisters: instances go out as plain objects again', async () => {
    const nc = new NetConnection();
    await nc.connect(ts.url('unregister'));
    try {
      assert.equal(getClassName(((await nc.call('makePoint')) as { single: object }).single), ALIAS);
      assert.equal(await nc.call('unregister'), true);
      const after = (await nc.call('makePoint')) as { single: object };
      assert.equal(getClassName(after.single), undefined);
      assert.deepEqual({ ...after.single }, { x: 1, y: 2, built: true });
      assert.equal(((await nc.call('inspect', typedObject(ALIAS, { x: 1, y: 1 }))) as { isPoint: boolean }).isPoint, false);
    } finally {
      nc.close();
    }
  });
});

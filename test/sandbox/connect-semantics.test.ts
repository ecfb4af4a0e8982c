import assert from 'node:assert/strict';
import { cleanupApps, clientInfo, createInstance, disposeAll } from './helpers.ts';

const SCRIPT = `
application.onConnect = function (client, mode, extra) {
  client.mode = mode;
  if (mode == "true") return true;
  if (mode == "false") return false;
  if (mode == "undefined") return;
  if (mode == "null") return null;
  if (mode == "one") return 1;
  if (mode == "zero") return 0;
  if (mode == "string") return "yes";
  if (mode == "accept-inside") { application.acceptConnection(client); return false; }
  if (mode == "reject-inside") { application.rejectConnection(client, { message: "go away", code: 42 }); return true; }
  if (mode == "redirect") { application.redirectConnection(client, "rtmp://elsewhere.example/app", "Moved", { why: "moved" }); return; }
  if (mode == "redirect-no-url") { application.redirectConnection(client); return; }
  if (mode == "reject-plain") { application.rejectConnection(client); return; }
  if (mode == "later") {
    var id = setInterval(function () {
      clearInterval(id);
      trace("accepting " + client.id + " " + extra.user);
      application.acceptConnection(client);
      application.acceptConnection(client); // a second accept is a no-op
    }, 10);
    return;
  }
  return true;
};
Client.prototype.clients = function () {
  var ids = [];
  for (var i = 0; i < application.clients.length; i++) ids.push(application.clients[i].id + ":" + application.clients[i].mode);
  return ids.join(",");
};
`;

describe('sandbox: onConnect semantics', () => {
  afterEach(disposeAll);
  after(cleanupApps);

  it('return values: true accepts, false rejects, anything else leaves the client pending', async () => {
    const { sandbox, hooks } = createInstance(SCRIPT);
    await sandbox.start();
    const table: [string, string][] = [
      ['true', 'accept'],
      ['false', 'reject'],
      ['undefined', 'pending'],
      ['null', 'pending'],
      ['one', 'pending'],
      ['zero', 'pending'],
      ['string', 'pending'],
    ];
    for (const [mode, expected] of table) {
      assert.equal(await sandbox.dispatch('connect', { client: clientInfo(`id-${mode}`), args: [mode] }), expected, `onConnect returning ${mode}`);
    }
    assert.deepEqual(hooks.accepted, [], 'the host, not a hook, carries return-value decisions');
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'id-true', method: 'clients', args: [] }), { ok: true, value: 'id-true:true' });
  });

  it('with no onConnect handler every client is accepted', async () => {
    const { sandbox } = createInstance('var nothing = 1;\n');
    await sandbox.start();
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('c1'), args: [] }), 'accept');
  });

  it('accept/reject inside the handler wins over the return value (decision already sent: pending)', async () => {
    const { sandbox, hooks } = createInstance(SCRIPT);
    await sandbox.start();
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('a1'), args: ['accept-inside'] }), 'pending');
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('r1'), args: ['reject-inside'] }), 'pending');
    assert.deepEqual(hooks.accepted, ['a1']);
    assert.deepEqual(hooks.rejected, [{ clientId: 'r1', info: { application: { message: 'go away', code: 42 } } }]);
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'a1', method: 'clients', args: [] }), { ok: true, value: 'a1:accept-inside' });
  });

  it('pending, then acceptConnection from a timer: the client joins application.clients', async () => {
    const { sandbox, hooks } = createInstance(SCRIPT);
    await sandbox.start();
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('p1'), args: ['later', { user: 'ann' }] }), 'pending');
    assert.deepEqual((await sandbox.dispatch('call', { clientId: 'p1', method: 'clients', args: [] })).ok, false, 'a pending client cannot call');
    await hooks.waitFor(() => hooks.accepted.includes('p1'), 'the deferred accept');
    assert.deepEqual(hooks.accepted, ['p1']);
    assert.ok(hooks.traces.includes('accepting p1 ann'));
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'p1', method: 'clients', args: [] }), { ok: true, value: 'p1:later' });
  });

  it('rejectConnection passes errObj through; redirectConnection sends url, description and errObj', async () => {
    const { sandbox, hooks } = createInstance(SCRIPT);
    await sandbox.start();
    await sandbox.dispatch('connect', { client: clientInfo('r2'), args: ['reject-plain'] });
    await sandbox.dispatch('connect', { client: clientInfo('d1'), args: ['redirect'] });
    await sandbox.dispatch('connect', { client: clientInfo('d2'), args: ['redirect-no-url'] });
    assert.deepEqual(hooks.rejected, [
      { clientId: 'r2', info: {} },
      { clientId: 'd1', info: { redirect: 'rtmp://elsewhere.example/app', description: 'Moved', application: { why: 'moved' } } },
      { clientId: 'd2', info: {} },
    ]);
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'd1', method: 'clients', args: [] }), {
      ok: false,
      code: 'NetConnection.Call.Failed',
      description: 'Method not found (clients).',
    });
  });

  it('a client that leaves while pending is forgotten: no onDisconnect, a later accept does nothing', async () => {
    const { sandbox, hooks } = createInstance(
      [
        'var held;',
        'application.onConnect = function (c, mode) { if (mode == "ok") return true; held = c; return null; };',
        'application.onDisconnect = function (c) { trace("onDisconnect " + c.id); };',
        'Client.prototype.acceptHeld = function () { application.acceptConnection(held); return application.clients.length; };',
        '',
      ].join('\n'),
    );
    await sandbox.start();
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('gone'), args: [] }), 'pending');
    await sandbox.dispatch('disconnect', { clientId: 'gone' });
    assert.deepEqual(hooks.traces, [], 'onDisconnect is for accepted clients only');
    assert.equal(await sandbox.dispatch('connect', { client: clientInfo('c2'), args: ['ok'] }), 'accept');
    assert.deepEqual(await sandbox.dispatch('call', { clientId: 'c2', method: 'acceptHeld', args: [] }), { ok: true, value: 1 });
    assert.deepEqual(hooks.accepted, []);
  });
});

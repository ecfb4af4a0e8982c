import { strict as assert } from 'node:assert';
import { ErrorCode } from '../../runtime/errors.ts';
import { parseRtmptTarget } from '../../runtime/rtmp/rtmpt-request.ts';
import { MAX_REORDER_REQUESTS, RtmptSession } from '../../runtime/rtmp/rtmpt-session.ts';

interface Answer {
  status: number;
  body: Buffer;
}

/** A session with a sink that records what reached the RTMP side. */
function session(overrides: { idleTimeoutMs?: number; pollHoldMs?: number } = {}) {
  const received: Buffer[] = [];
  const closed: { reason: string; code?: string }[] = [];
  let gone = false;
  let drains = 0;
  const s = new RtmptSession('id', {
    kind: 'http',
    remoteAddress: '::ffff:127.0.0.1',
    idleTimeoutMs: overrides.idleTimeoutMs ?? 10_000,
    pollHoldMs: overrides.pollHoldMs ?? 50,
    onGone: () => (gone = true),
  });
  s.bind({
    data: (chunk) => received.push(Buffer.from(chunk)),
    drain: () => drains++,
    closed: (reason, error) => closed.push({ reason, code: (error as { code?: string } | undefined)?.code }),
  });
  const request = (kind: 'send' | 'idle' | 'close', seq: number, body = Buffer.alloc(0)) =>
    new Promise<Answer>((resolve) => s.request(kind, seq, body, (status, answer) => resolve({ status, body: answer })));
  return { s, received, closed, request, isGone: () => gone, drains: () => drains };
}

describe('RTMPT request routing', () => {
  const cases: [string, ReturnType<typeof parseRtmptTarget>][] = [
    ['/fcs/ident2', { kind: 'ident' }],
    ['/open/1', { kind: 'open' }],
    ['/open/1?x=1', { kind: 'open' }],
    ['/send/abc/0', { kind: 'send', id: 'abc', seq: 0 }],
    ['/idle/abc/17', { kind: 'idle', id: 'abc', seq: 17 }],
    ['/close/abc/3', { kind: 'close', id: 'abc', seq: 3 }],
    ['/open/2', { kind: 'invalid', reason: 'open takes /open/1 only' }],
    ['/send/abc', { kind: 'invalid', reason: 'send without a sequence number' }],
    ['/send//1', { kind: 'invalid', reason: 'bad session id' }],
    ['/send/abc/-1', { kind: 'invalid', reason: 'bad sequence number' }],
    ['/send/abc/1x', { kind: 'invalid', reason: 'bad sequence number' }],
    ['/send/abc/', { kind: 'invalid', reason: 'bad sequence number' }],
    ['/send/abc/1234567890123456', { kind: 'invalid', reason: 'bad sequence number' }],
    [`/send/${'a'.repeat(65)}/1`, { kind: 'invalid', reason: 'bad session id' }],
    ['/live/stream.flv', null],
    ['/api/server', null],
    ['/', null],
    ['/sendx/a/1', null],
  ];
  for (const [target, expected] of cases) {
    it(`${target.slice(0, 40)} → ${expected ? expected.kind : 'not RTMPT'}`, () => assert.deepEqual(parseRtmptTarget(target), expected));
  }
});

describe('RTMPT session', () => {
  it('send bodies reach the RTMP side in order; written bytes come back after the polling byte', async () => {
    const { s, received, request, drains } = session();
    const first = await request('send', 0, Buffer.from('C0C1'));
    assert.deepEqual(first, { status: 200, body: Buffer.from([1]) });
    s.write([Buffer.from('S0'), Buffer.from('S1')]);
    assert.equal(s.bufferedBytes, 4);
    const second = await request('send', 1, Buffer.from('C2'));
    assert.equal(second.status, 200);
    assert.equal(second.body[0], 1);
    assert.equal(second.body.subarray(1).toString(), 'S0S1');
    assert.equal(s.bufferedBytes, 0);
    assert.equal(drains(), 1);
    assert.deepEqual(received.map(String), ['C0C1', 'C2']);
  });

  it('an idle poll with nothing to send is held, then answered as soon as bytes are written', async () => {
    const { s, request } = session({ pollHoldMs: 5000 });
    await request('send', 0);
    const started = Date.now();
    const poll = request('idle', 1);
    setTimeout(() => s.write([Buffer.from('media')]), 30);
    const answer = await poll;
    assert.ok(Date.now() - started < 1000, 'answered when the bytes came, not at the hold limit');
    assert.equal(answer.body.subarray(1).toString(), 'media');
  });

  it('a held poll with nothing to send is answered empty after pollHoldMs', async () => {
    const { request } = session({ pollHoldMs: 40 });
    const answer = await request('idle', 0);
    assert.deepEqual(answer, { status: 200, body: Buffer.from([1]) });
  });

  it('the polling-interval byte grows while answers are empty and drops back to 1 with data', async () => {
    const { s, request } = session({ pollHoldMs: 1 });
    let last = 0;
    for (let seq = 0; seq < 14; seq++) last = (await request('idle', seq)).body[0]!;
    assert.ok(last > 1 && last <= 33, `grew to ${last}`);
    s.write([Buffer.from('x')]);
    assert.equal((await request('idle', 14)).body[0], 1);
  });

  it('a replayed (stale) sequence number is refused and never applied twice', async () => {
    const { received, request } = session();
    await request('send', 5, Buffer.from('a'));
    await request('send', 6, Buffer.from('b'));
    const replay = await request('send', 6, Buffer.from('b'));
    assert.equal(replay.status, 400);
    const older = await request('send', 2, Buffer.from('z'));
    assert.equal(older.status, 400);
    assert.deepEqual(received.map(String), ['a', 'b']);
  });

  it('requests that arrive out of order are applied in sequence order', async () => {
    const { received, request } = session();
    await request('send', 0, Buffer.from('0'));
    const later = [request('send', 3, Buffer.from('3')), request('send', 2, Buffer.from('2'))];
    assert.deepEqual(received.map(String), ['0']);
    await request('send', 1, Buffer.from('1'));
    await Promise.all(later);
    assert.deepEqual(received.map(String), ['0', '1', '2', '3']);
  });

  it(`more than ${MAX_REORDER_REQUESTS} requests out of order end the session with RTMPT_REQUEST_INVALID`, async () => {
    const { received, closed, request, isGone } = session();
    await request('send', 0, Buffer.from('0'));
    const waiting = Array.from({ length: MAX_REORDER_REQUESTS }, (_, i) => request('send', i + 2, Buffer.from('x')));
    const over = await request('send', 100, Buffer.from('y'));
    assert.equal(over.status, 400);
    assert.ok(isGone());
    assert.equal(closed[0]?.code, ErrorCode.RtmptRequestInvalid);
    for (const answer of await Promise.all(waiting)) assert.equal(answer.status, 404);
    assert.deepEqual(received.map(String), ['0']);
  });

  it('a session without requests expires (RTMPT_SESSION_EXPIRED) and answers 404 afterwards', async () => {
    const { closed, request, isGone } = session({ idleTimeoutMs: 60 });
    await request('send', 0);
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(isGone());
    assert.equal(closed[0]?.code, ErrorCode.RtmptSessionExpired);
    assert.equal((await request('idle', 1)).status, 404);
  });

  it('/close answers one 0 byte and ends the session', async () => {
    const { closed, request, isGone } = session();
    await request('send', 0);
    assert.deepEqual(await request('close', 1), { status: 200, body: Buffer.from([0]) });
    assert.ok(isGone());
    assert.equal(closed[0]?.reason, 'peer closed');
  });

  it('end() delivers what is queued with the next poll (polling byte 0), then the session is gone', async () => {
    const { s, request, isGone } = session();
    await request('send', 0);
    s.write([Buffer.from('_error')]);
    s.end();
    assert.ok(!isGone());
    const last = await request('idle', 1);
    assert.equal(last.body[0], 0);
    assert.equal(last.body.subarray(1).toString(), '_error');
    assert.ok(isGone());
    assert.equal((await request('idle', 2)).status, 404);
  });
});

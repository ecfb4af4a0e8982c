import { strict as assert } from 'node:assert';
import path from 'node:path';
import { ConnectError } from '../../runtime/client/net-connection.ts';
import { joinChat } from '../../samples/chat/chat-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

describe('samples/chat: user list shared object, room messages, private messages', function () {
  this.timeout(20_000);
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer(path.resolve(import.meta.dirname, '../../samples/chat/applications'), { reload: { watch: false, debounceMs: 100 } });
  });
  after(async () => ts?.close());

  it('two participants see each other, talk in the room and whisper; a taken name is rejected', async () => {
    const annLines: string[] = [];
    const bobLines: string[] = [];
    const ann = await joinChat(ts.url('chat/lobby'), 'ann', (l) => annLines.push(l));
    const bob = await joinChat(ts.url('chat/lobby'), 'bob', (l) => bobLines.push(l));
    const until = async (lines: string[], line: string) => {
      for (let i = 0; i < 100 && !lines.includes(line); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(lines.includes(line), `expected "${line}" in ${JSON.stringify(lines)}`);
    };
    await until(annLines, 'users: ann, bob');
    assert.equal(await bob.say('hi all'), true);
    await until(annLines, 'bob: hi all');
    await until(bobLines, 'bob: hi all');
    assert.equal(await ann.whisper('bob', 'psst'), true);
    await until(bobLines, '(private) ann: psst');
    assert.ok(!annLines.includes('(private) ann: psst'));
    await assert.rejects(joinChat(ts.url('chat/lobby'), 'ann'), (e: ConnectError) => (e.info['application'] as { message: string }).message === 'name missing or taken');
    bob.leave();
    await until(annLines, 'users: ann');
    ann.leave();
  });
});

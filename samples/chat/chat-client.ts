/**
 * A chat participant using the project's public client:
 *   node scripts/run-ts.js samples/chat/chat-client.ts rtmp://127.0.0.1/chat <name> [message]
 * Joins, prints the user list, says the message (if any), prints what it hears for a few seconds.
 */
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { SharedObject } from '../../runtime/client/shared-object.ts';

export async function joinChat(uri: string, name: string, print: (line: string) => void = console.log) {
  const nc = new NetConnection();
  nc.client = { onPrivate: (from: unknown, text: unknown) => print(`(private) ${from}: ${text}`) };
  await nc.connect(uri, name);
  const users = SharedObject.getRemote(nc, 'users', false);
  users.client = { onMessage: (from: unknown, text: unknown) => print(`${from}: ${text}`) };
  users.on('sync', () => print(`users: ${Object.keys(users.data).sort().join(', ')}`));
  await users.connect();
  return {
    nc,
    users,
    say: (text: string) => nc.call('say', text),
    whisper: (to: string, text: string) => nc.call('whisper', to, text),
    leave: () => nc.close(),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [uri = 'rtmp://127.0.0.1/chat', name = `guest${process.pid}`, message] = process.argv.slice(2);
  const chat = await joinChat(uri, name);
  if (message) await chat.say(message);
  setTimeout(() => chat.leave(), 5000);
}

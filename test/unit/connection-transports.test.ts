import { strict as assert } from 'node:assert';
import { DEFAULT_CONNECTION_OPTIONS, RtmpConnection, type RtmpCommand } from '../../runtime/rtmp/connection.ts';
import { RtmpeGate } from '../../runtime/rtmp/rtmpe.ts';
import type { RtmpTransport, TransportKind, TransportSink } from '../../runtime/rtmp/transport.ts';

/**
 * An in-memory transport: what one end writes reaches the other end's sink on a later turn, cut
 * into pieces of `pieceBytes` (so handshake packets and chunks straddle deliveries), and every
 * byte that crossed is kept for inspection.
 */
class MemoryTransport implements RtmpTransport {
  readonly encrypted = false;
  readonly socket = null;
  readonly remoteAddress = 'memory';
  readonly bufferedBytes = 0;
  readonly kind: TransportKind;
  peer: MemoryTransport | null = null;
  sink: TransportSink | null = null;
  readonly wire: Buffer[] = [];
  constructor(kind: TransportKind, readonly pieceBytes: number) {
    this.kind = kind;
  }
  bind(sink: TransportSink): void {
    this.sink = sink;
  }
  write(pieces: readonly Buffer[], count = pieces.length): void {
    const bytes = Buffer.concat(pieces.slice(0, count));
    this.wire.push(bytes);
    for (let at = 0; at < bytes.length; at += this.pieceBytes) {
      const piece = Buffer.from(bytes.subarray(at, at + this.pieceBytes)); // a copy, as a socket read would be
      setImmediate(() => this.peer?.sink?.data(piece));
    }
  }
  end(): void {
    setImmediate(() => this.peer?.sink?.closed('peer closed'));
  }
  destroy(): void {
    this.end();
  }
}

function pair(kind: TransportKind, pieceBytes: number): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport(kind, pieceBytes);
  const b = new MemoryTransport(kind, pieceBytes);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

const once = <T>(emitter: RtmpConnection, event: 'ready' | 'command'): Promise<T> => new Promise((resolve) => emitter.once(event as 'ready', ((value: T) => resolve(value)) as () => void));

describe('one RTMP session over any byte transport', () => {
  for (const [name, kind, rtmpe, pieceBytes] of [
    ['plain over TCP-like bytes', 'tcp', false, 64 * 1024],
    ['plain, 7-byte pieces', 'http', false, 7],
    ['RTMPE, whole writes', 'tcp', true, 64 * 1024],
    ['RTMPE, 13-byte pieces', 'http', true, 13],
  ] as const) {
    it(`${name}: handshake, then commands both ways; transport name ${kind}${rtmpe ? ' + RTMPE' : ''}`, async () => {
      const [clientSide, serverSide] = pair(kind, pieceBytes);
      const server = new RtmpConnection(serverSide, { ...DEFAULT_CONNECTION_OPTIONS, role: 'server', rtmpe: new RtmpeGate(100) });
      const client = new RtmpConnection(clientSide, { ...DEFAULT_CONNECTION_OPTIONS, role: 'client', ...(rtmpe ? { clientHandshake: { rtmpe: 6 as const } } : {}) });
      await Promise.all([once(server, 'ready'), once(client, 'ready')]);
      const expectedName = { tcp: rtmpe ? 'rtmpe' : 'rtmp', http: rtmpe ? 'rtmpte' : 'rtmpt' }[kind as 'tcp' | 'http'];
      assert.equal(server.transportName, expectedName);
      assert.equal(client.transportName, expectedName);

      const atServer = once<RtmpCommand>(server, 'command');
      client.sendCommand(0, 'connect', 1, { app: 'live', tcUrl: 'rtmp://host/live', padding: 'x'.repeat(5000) });
      const command = await atServer;
      assert.equal(command.name, 'connect');
      assert.equal((command.commandObject as { padding: string }).padding.length, 5000);
      const atClient = once<RtmpCommand>(client, 'command');
      server.sendCommand(0, '_result', 1, { fmsVer: 'FMS/3,5' }, [{ code: 'NetConnection.Connect.Success' }]);
      assert.equal((await atClient).name, '_result');

      // Under RTMPE nothing after the handshake is readable on the wire: the command name never appears in clear.
      const wire = Buffer.concat(clientSide.wire);
      assert.equal(wire.includes(Buffer.from('connect')), !rtmpe);
      client.close('done');
      server.close('done');
    });
  }
});

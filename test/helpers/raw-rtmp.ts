import net from 'node:net';
import { encodeAmf0 } from '../../runtime/rtmp/amf0.ts';
import { ChunkEncoder } from '../../runtime/rtmp/chunk-encoder.ts';
import { DEFAULT_CONNECTION_OPTIONS, RtmpConnection } from '../../runtime/rtmp/connection.ts';
import { SocketTransport } from '../../runtime/rtmp/transport.ts';
import { ClientHandshake } from '../../runtime/rtmp/handshake.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';

/**
 * A deliberately dumb RTMP peer for bad-input tests: it completes a real handshake, then writes
 * whatever bytes the test hands it, and reports when the server closes the socket.
 */
export class RawRtmpPeer {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  received = 0;
  /** What the server sent after the handshake (kept for tests that look for a status code in it). */
  readonly data: Buffer[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.socket.on('data', (d) => {
      this.received += d.length;
      this.data.push(d);
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number, handshake = true, localAddress?: string): Promise<RawRtmpPeer> {
    const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const peer = new RawRtmpPeer(socket);
    if (!handshake) return peer;
    const hs = new ClientHandshake();
    socket.write(hs.start());
    await new Promise<void>((resolve, reject) => {
      const onData = (data: Buffer) => {
        try {
          const step = hs.push(data);
          if (step.send) socket.write(step.send);
          if (step.done) {
            socket.off('data', onData);
            resolve();
          }
        } catch (error) {
          reject(error);
        }
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed during the handshake')));
    });
    peer.data.length = 0;
    return peer;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Resolves true if the server closed the socket within the time. */
  async closedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return result;
  }

  /** Whether the server sent this text (an info object's code, say) since the handshake. */
  saw(text: string): boolean {
    return Buffer.concat(this.data).includes(text);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Encodes one message as chunks with a fresh encoder (fmt 0 header). */
export function chunkBytes(type: number, payload: Buffer, csid = 3, streamId = 0, timestamp = 0): Buffer {
  return Buffer.concat(new ChunkEncoder().encode({ type, streamId, timestamp, payload }, csid));
}

export function connectCommand(props: Record<string, unknown>): Buffer {
  return chunkBytes(MessageType.CommandAmf0, encodeAmf0(['connect', 1, props]));
}

/**
 * A connect with any command object and arguments (our NetConnection builds its own): resolves with
 * the server's answer to it (`_result`/`_error` info) or 'closed' when the server closed first.
 */
export async function rawConnect(port: number, props: Record<string, unknown>, args: unknown[] = [], localAddress?: string): Promise<{ name: string; info: Record<string, unknown> } | 'closed'> {
  const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  const connection = new RtmpConnection(new SocketTransport(socket, 'tcp'), { ...DEFAULT_CONNECTION_OPTIONS, role: 'client' });
  try {
    return await new Promise((resolve) => {
      connection.once('ready', () => connection.sendCommand(0, 'connect', 1, props, args));
      connection.on('command', (command) => {
        if (command.transactionId === 1 && (command.name === '_result' || command.name === '_error')) resolve({ name: command.name, info: (command.args[0] ?? {}) as Record<string, unknown> });
      });
      connection.once('close', () => resolve('closed'));
    });
  } finally {
    connection.close('test done');
    socket.destroy();
  }
}

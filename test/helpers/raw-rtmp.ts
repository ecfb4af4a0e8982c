import net from 'node:net';
import { encodeAmf0 } from '../../runtime/rtmp/amf0.ts';
import { ChunkEncoder } from '../../runtime/rtmp/chunk-encoder.ts';
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

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.socket.on('data', (d) => (this.received += d.length));
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number, handshake = true): Promise<RawRtmpPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
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
    });
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

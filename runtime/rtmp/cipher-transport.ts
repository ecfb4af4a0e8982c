import type { RtmpeCipher } from './rtmpe.ts';
import type { RtmpTransport, TransportSink } from './transport.ts';

/**
 * The RTMPE cipher as a transport over another one (TCP for rtmpe://, an RTMPT session for
 * rtmpte://): RC4 on every byte after the handshake, both ways. The connection puts it on top
 * when its handshake yields a cipher; from then on the session above sees plain RTMP.
 */
export class CipherTransport implements RtmpTransport {
  readonly encrypted = true;
  readonly #inner: RtmpTransport;
  readonly #cipher: RtmpeCipher;

  constructor(inner: RtmpTransport, cipher: RtmpeCipher) {
    this.#inner = inner;
    this.#cipher = cipher;
  }

  get kind() {
    return this.#inner.kind;
  }

  get remoteAddress(): string {
    return this.#inner.remoteAddress;
  }

  get bufferedBytes(): number {
    return this.#inner.bufferedBytes;
  }

  get socket() {
    return this.#inner.socket;
  }

  /** Decrypts bytes that came in before the cipher was bound (those that followed the handshake). */
  decrypt(data: Buffer): Buffer {
    const out = Buffer.allocUnsafe(data.length);
    this.#cipher.incoming.update(data, out);
    return out;
  }

  bind(sink: TransportSink): void {
    this.#inner.bind({
      data: (chunk) => {
        // In place: the chunk is ours alone (a fresh socket read or RTMPT request body).
        this.#cipher.incoming.update(chunk, chunk);
        sink.data(chunk);
      },
      drain: () => sink.drain(),
      closed: (reason, error) => sink.closed(reason, error),
    });
  }

  write(pieces: readonly Buffer[], count = pieces.length): void {
    // Never in place: fan-out shares the same pieces (and payloads) among every player.
    let total = 0;
    for (let i = 0; i < count; i++) total += pieces[i]!.length;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const piece = pieces[i]!;
      this.#cipher.outgoing.update(piece, out, at);
      at += piece.length;
    }
    this.#inner.write([out]);
  }

  end(): void {
    this.#inner.end();
  }

  destroy(): void {
    this.#inner.destroy();
  }
}

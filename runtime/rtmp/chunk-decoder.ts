import { ErrorCode, ProtocolError } from '../errors.ts';
import type { AssemblyAccount } from './assembly-budget.ts';
import { DEFAULT_CHUNK_SIZE_BYTES, MAX_CHUNK_SIZE_BYTES, MessageType, type RtmpMessage } from './message.ts';

export interface ChunkDecoderLimits {
  /** Largest message length header accepted; checked before anything is allocated. */
  maxMessageBytes: number;
  /** Most distinct chunk stream ids a peer may open (each holds state and maybe a partial message). */
  maxChunkStreams: number;
  /** Where the bytes of partial messages are reserved before they are allocated (inbound connections). */
  assembly?: AssemblyAccount;
}

/** Basic header (≤3) + fmt 0 message header (11) + extended timestamp (4). */
const MAX_HEADER_BYTES = 18;
const EXTENDED_TIMESTAMP = 0xffffff;
const MESSAGE_HEADER_BYTES = [11, 7, 3, 0] as const;

/** What a chunk stream id remembers between chunks: the last header, and a message in progress. */
class ChunkStream {
  /** Absolute timestamp of the current (or last) message, modulo 2^32. */
  timestamp = 0;
  /** Delta a fmt 3 header starting a new message adds (after fmt 0: its timestamp, per the spec). */
  delta = 0;
  length = 0;
  type = 0;
  streamId = 0;
  /** The most recent fmt 0/1/2 header used the extended timestamp field, and its value. */
  extended = false;
  extendedValue = 0;
  /** Message being reassembled; allocated once at its full length on its first chunk. */
  partial: Buffer | null = null;
  received = 0;
}

/**
 * Turns the RTMP chunk stream into messages. Feed it whatever the socket delivers; it keeps at most
 * one header's worth of bytes between pushes plus one partial message per chunk stream id.
 * Set Chunk Size and Abort are applied as soon as they complete, so the bytes that follow them in
 * the same push are parsed with the new rules; they are still passed to onMessage.
 * Any throw (ProtocolError for bad input) leaves the decoder dead: the connection must be closed.
 */
export class ChunkDecoder {
  readonly #maxMessageBytes: number;
  readonly #maxChunkStreams: number;
  readonly #assembly: AssemblyAccount | undefined;
  #chunkSize = DEFAULT_CHUNK_SIZE_BYTES;
  #streams = new Map<number, ChunkStream>();
  #dead = false;
  /** Bytes of a header that straddles two pushes. */
  #carry = Buffer.allocUnsafe(MAX_HEADER_BYTES);
  #carryLength = 0;
  /** Chunk stream whose chunk payload is being read, and how many payload bytes that chunk has left. */
  #current: ChunkStream | null = null;
  #chunkLeft = 0;

  constructor(limits: ChunkDecoderLimits) {
    this.#maxMessageBytes = limits.maxMessageBytes;
    this.#maxChunkStreams = limits.maxChunkStreams;
    this.#assembly = limits.assembly;
  }

  /** Incoming chunk size in effect (changed by the peer's Set Chunk Size). */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  push(data: Buffer, onMessage: (msg: RtmpMessage) => void): void {
    if (this.#dead) throw new ProtocolError(ErrorCode.ChunkInvalid, 'chunk stream already failed');
    try {
      this.#run(data, onMessage);
    } catch (error) {
      // Our position in the byte stream is lost; nothing after this can be parsed reliably.
      this.#dead = true;
      throw error;
    }
  }

  #run(data: Buffer, onMessage: (msg: RtmpMessage) => void): void {
    let pos = 0;
    if (this.#carryLength > 0) {
      // Complete the straddling header in the small scratch buffer instead of concatenating
      // the whole (possibly 64 KB) push onto it.
      const before = this.#carryLength;
      const take = Math.min(MAX_HEADER_BYTES - before, data.length);
      data.copy(this.#carry, before, 0, take);
      const used = this.#parseHeader(this.#carry, 0, before + take);
      if (used < 0) {
        this.#carryLength = before + take;
        return;
      }
      this.#carryLength = 0;
      if (used >= before) pos = used - before;
      else {
        // The header turned out shorter than what was carried (a fmt-3 continuation whose peeked
        // bytes were not a repeated extended timestamp): the rest of the carry is payload.
        data = Buffer.concat([this.#carry.subarray(used, before), data]);
        pos = 0;
      }
    }
    for (;;) {
      if (this.#current === null) {
        if (pos >= data.length) return;
        const used = this.#parseHeader(data, pos, data.length);
        if (used < 0) {
          this.#carryLength = data.copy(this.#carry, 0, pos);
          return;
        }
        pos += used;
      }
      const stream = this.#current!;
      const available = data.length - pos;
      if (stream.partial === null && this.#chunkLeft === stream.length && available >= stream.length) {
        // Whole message in one chunk, all of it in this push: hand out a view, no copy.
        const payload = data.subarray(pos, pos + stream.length);
        pos += stream.length;
        this.#current = null;
        this.#deliver(stream, payload, onMessage);
        continue;
      }
      if (available === 0) return;
      if (stream.partial === null) {
        this.#assembly?.reserve(stream.length); // throws over budget: nothing allocated
        stream.partial = Buffer.allocUnsafe(stream.length);
      }
      const n = Math.min(this.#chunkLeft, available);
      data.copy(stream.partial, stream.received, pos, pos + n);
      stream.received += n;
      pos += n;
      this.#chunkLeft -= n;
      if (this.#chunkLeft > 0) return; // push exhausted mid-chunk
      this.#current = null;
      if (stream.received === stream.length) {
        const payload = stream.partial;
        stream.partial = null;
        stream.received = 0;
        this.#assembly?.release(payload.length);
        this.#deliver(stream, payload, onMessage);
      }
    }
  }

  /**
   * Parses one chunk header at b[pos..end). Returns the bytes it used, or -1 when more bytes are
   * needed; state changes only once the header is complete, so a retry with more bytes is safe.
   */
  #parseHeader(b: Buffer, pos: number, end: number): number {
    const first = b[pos]!;
    const fmt = first >> 6;
    let csid = first & 0x3f;
    let basic = 1;
    if (csid === 0) {
      if (end - pos < 2) return -1;
      csid = 64 + b[pos + 1]!;
      basic = 2;
    } else if (csid === 1) {
      if (end - pos < 3) return -1;
      csid = 64 + b[pos + 1]! + (b[pos + 2]! << 8);
      basic = 3;
    }
    let stream = this.#streams.get(csid);
    if (stream === undefined && fmt !== 0) {
      throw new ProtocolError(ErrorCode.ChunkInvalid, `chunk stream ${csid} starts with a fmt ${fmt} header`);
    }
    const q = pos + basic;
    if (fmt === 3) return this.#continueHeader(stream!, b, q, end, basic);

    if (stream?.partial) {
      throw new ProtocolError(ErrorCode.ChunkInvalid, `chunk stream ${csid}: new message header before the last one ended`);
    }
    let used = basic + MESSAGE_HEADER_BYTES[fmt]!;
    if (end - pos < used) return -1;
    const field = (b[q]! << 16) | (b[q + 1]! << 8) | b[q + 2]!;
    let value = field;
    if (field === EXTENDED_TIMESTAMP) {
      if (end - pos < used + 4) return -1;
      value = b.readUInt32BE(pos + used);
      used += 4;
    }
    let length = 0;
    let type = 0;
    if (fmt <= 1) {
      length = (b[q + 3]! << 16) | (b[q + 4]! << 8) | b[q + 5]!;
      type = b[q + 6]!;
      if (length > this.#maxMessageBytes) {
        throw new ProtocolError(
          ErrorCode.MessageTooLarge,
          `chunk stream ${csid}: message of ${length} bytes exceeds the ${this.#maxMessageBytes}-byte limit`,
        );
      }
    }
    if (stream === undefined) {
      if (this.#streams.size >= this.#maxChunkStreams) {
        throw new ProtocolError(ErrorCode.TooManyChunkStreams, `more than ${this.#maxChunkStreams} chunk streams`);
      }
      stream = new ChunkStream();
      this.#streams.set(csid, stream);
    }
    if (fmt === 0) {
      stream.timestamp = value;
      stream.streamId = b.readUInt32LE(q + 7);
    } else {
      stream.timestamp = (stream.timestamp + value) >>> 0;
    }
    // RTMP spec 5.3.1.2.4: a fmt 3 right after a fmt 0 uses the fmt 0 timestamp as its delta.
    stream.delta = value;
    if (fmt <= 1) {
      stream.length = length;
      stream.type = type;
    }
    stream.extended = field === EXTENDED_TIMESTAMP;
    stream.extendedValue = value;
    this.#begin(stream);
    return used;
  }

  /** fmt 3: either the next chunk of the message in progress, or a new message like the last one. */
  #continueHeader(stream: ChunkStream, b: Buffer, q: number, end: number, basic: number): number {
    let used = basic;
    const inProgress = stream.partial !== null;
    if (stream.extended) {
      if (!inProgress) {
        // A fmt 3 that starts a message carries the extended field (spec 5.3.1.3); its value is
        // the delta we already know.
        if (end - q < 4) return -1;
        used += 4;
      } else {
        // Continuation chunks: Flash and ffmpeg repeat the field, librtmp does not. Peek: if the
        // next bytes equal the last extended value they are the field. With fewer than 4 bytes in
        // hand, a mismatching prefix already decides "payload"; a matching one must wait.
        const have = Math.min(4, end - q);
        const want = stream.extendedValue;
        let match = true;
        for (let i = 0; i < have && match; i++) match = b[q + i] === ((want >>> (24 - 8 * i)) & 0xff);
        if (match && have < 4) return -1;
        if (match) used += 4;
      }
    }
    if (!inProgress) stream.timestamp = (stream.timestamp + stream.delta) >>> 0;
    this.#begin(stream);
    return used;
  }

  #begin(stream: ChunkStream): void {
    this.#current = stream;
    this.#chunkLeft = Math.min(this.#chunkSize, stream.length - stream.received);
  }

  #deliver(stream: ChunkStream, payload: Buffer, onMessage: (msg: RtmpMessage) => void): void {
    const message: RtmpMessage = { type: stream.type, streamId: stream.streamId, timestamp: stream.timestamp, payload };
    if (message.type === MessageType.SetChunkSize) this.#applyChunkSize(payload);
    else if (message.type === MessageType.Abort) this.#applyAbort(payload);
    onMessage(message);
  }

  #applyChunkSize(payload: Buffer): void {
    if (payload.length < 4) throw new ProtocolError(ErrorCode.ChunkSizeInvalid, 'Set Chunk Size shorter than 4 bytes');
    const size = payload.readUInt32BE(0);
    // The top bit must be clear (spec 5.4.1); 0 would make every chunk empty and loop forever.
    if (size < 1 || size > MAX_CHUNK_SIZE_BYTES) {
      throw new ProtocolError(ErrorCode.ChunkSizeInvalid, `invalid chunk size ${size}`);
    }
    this.#chunkSize = size;
  }

  #applyAbort(payload: Buffer): void {
    if (payload.length < 4) throw new ProtocolError(ErrorCode.ChunkInvalid, 'Abort message shorter than 4 bytes');
    const stream = this.#streams.get(payload.readUInt32BE(0));
    if (stream) {
      if (stream.partial) this.#assembly?.release(stream.partial.length);
      stream.partial = null;
      stream.received = 0;
    }
  }
}

import { DEFAULT_CHUNK_SIZE_BYTES, MAX_CHUNK_SIZE_BYTES, MIN_CHUNK_SIZE_BYTES, type RtmpMessage } from './message.ts';

const EXTENDED_TIMESTAMP = 0xffffff;
const MAX_MESSAGE_LENGTH = 0xffffff;
const MIN_CSID = 2;
const MAX_CSID = 65599;

/** The last header written on a chunk stream id, for header compression. */
interface LastHeader {
  timestamp: number;
  /** Delta a following fmt 3 would imply; NaN after fmt 0 (see encode). */
  delta: number;
  length: number;
  type: number;
  streamId: number;
  /** Extended field value of the last fmt 0/1/2 header, or -1 when it had none. */
  extended: number;
}

/**
 * Splits messages into chunks with per-csid header compression (fmt 0 → 1 → 2 → 3 as fields repeat).
 * Output is a list of pieces to write in order: small header buffers and subarrays of the payload,
 * which is never copied.
 */
export class ChunkEncoder {
  #chunkSize = DEFAULT_CHUNK_SIZE_BYTES;
  #last = new Map<number, LastHeader>();

  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Applies to messages encoded from now on; the caller sends the Set Chunk Size message itself. */
  setChunkSize(size: number): void {
    if (!Number.isInteger(size) || size < MIN_CHUNK_SIZE_BYTES || size > MAX_CHUNK_SIZE_BYTES) {
      throw new RangeError(`chunk size must be an integer in ${MIN_CHUNK_SIZE_BYTES}..${MAX_CHUNK_SIZE_BYTES}, got ${size}`);
    }
    this.#chunkSize = size;
  }

  /** Records that a fmt-0 encoded message (encodeShared) was written on csid by someone else. */
  noteShared(msg: Omit<RtmpMessage, 'streamId'>, streamId: number, csid: number): void {
    const timestamp = msg.timestamp >>> 0;
    const extended = timestamp >= EXTENDED_TIMESTAMP ? timestamp : -1;
    this.#remember(csid, timestamp, Number.NaN, msg.payload.length, msg.type & 0xff, streamId >>> 0, extended);
  }

  /**
   * Updates the csid's last header in place: it runs once per message per connection (per player in
   * fan-out), and one long-lived object per csid is less garbage than one new object per message.
   */
  #remember(csid: number, timestamp: number, delta: number, length: number, type: number, streamId: number, extended: number): void {
    const last = this.#last.get(csid);
    if (last === undefined) {
      this.#last.set(csid, { timestamp, delta, length, type, streamId, extended });
      return;
    }
    last.timestamp = timestamp;
    last.delta = delta;
    last.length = length;
    last.type = type;
    last.streamId = streamId;
    last.extended = extended;
  }

  encode(msg: RtmpMessage, csid: number): Buffer[] {
    const pieces = new PieceList();
    this.encodeInto(msg.type, msg.streamId, msg.timestamp, msg.payload, csid, pieces);
    return pieces.items.slice(0, pieces.count);
  }

  /**
   * Appends the chunks of one message to `out` (what the connection writes this turn): a header
   * buffer and subarrays of the payload, which is never copied. Takes the fields, not a message
   * object, so a relay forwarding a packet allocates none.
   */
  encodeInto(messageType: number, messageStreamId: number, messageTimestamp: number, payload: Buffer, csid: number, out: PieceList): void {
    if (!Number.isInteger(csid) || csid < MIN_CSID || csid > MAX_CSID) {
      throw new RangeError(`chunk stream id must be in ${MIN_CSID}..${MAX_CSID}, got ${csid}`);
    }
    const length = payload.length;
    if (length > MAX_MESSAGE_LENGTH) throw new RangeError(`message of ${length} bytes does not fit RTMP's 24-bit length`);
    const timestamp = messageTimestamp >>> 0;
    const type = messageType & 0xff;
    const streamId = messageStreamId >>> 0;
    const last = this.#last.get(csid);

    let fmt: 0 | 1 | 2 | 3 = 0;
    let field = timestamp; // timestamp (fmt 0) or delta (fmt 1/2) written in the header
    // Modulo 2^32: a forward wrap (0xFFFFFFxx → small) yields a small positive delta; a delta in
    // the upper half means the timestamp went backwards, which only an absolute (fmt 0) can say.
    const delta = last ? (timestamp - last.timestamp) >>> 0 : 0;
    if (last && last.streamId === streamId && delta < 0x80000000) {
      field = delta;
      if (last.length !== length || last.type !== type) fmt = 1;
      else if (last.delta !== delta) fmt = 2;
      else fmt = 3;
    }

    let extended: number;
    if (fmt === 3) {
      extended = last!.extended; // a fmt 3 repeats whatever the last full header carried
    } else {
      extended = field >= EXTENDED_TIMESTAMP ? field : -1;
    }
    // After fmt 0 the spec says a fmt 3 implies delta = that timestamp, but nginx-rtmp and Red5
    // read it as 0. Never relying on it (NaN never equals) costs one fmt 2 header and avoids both.
    this.#remember(csid, timestamp, fmt === 0 ? Number.NaN : delta, length, type, streamId, extended);

    out.push(firstHeader(fmt, csid, field, length, type, streamId, extended));
    pushChunks(payload, csid, this.#chunkSize, extended, out);
  }
}

/** Where encoded pieces go: the connection's PieceList, or a plain array (encodeShared). */
interface PieceSink {
  push(piece: Buffer): unknown;
}

/**
 * After the first header: the payload in chunkSize views, each after the first preceded by the
 * fmt 3 continuation header. The payload is never copied.
 */
function pushChunks(payload: Buffer, csid: number, chunkSize: number, extended: number, out: PieceSink): void {
  const length = payload.length;
  if (length <= chunkSize) {
    if (length > 0) out.push(payload);
    return;
  }
  out.push(payload.subarray(0, chunkSize));
  // Every continuation header is identical, so one buffer serves them all.
  const continuation = basicHeader(3, csid, extended >= 0 ? 4 : 0);
  if (extended >= 0) continuation.writeUInt32BE(extended, continuation.length - 4);
  for (let offset = chunkSize; offset < length; offset += chunkSize) {
    out.push(continuation);
    out.push(payload.subarray(offset, Math.min(offset + chunkSize, length)));
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Buffers to write, in order, and their byte count. The array keeps its capacity across clear()
 * (`length = 0` would give it back, and every event-loop turn would grow it again); only the first
 * `count` slots are live.
 */
export class PieceList {
  readonly items: Buffer[] = [];
  count = 0;
  bytes = 0;

  push(piece: Buffer): void {
    this.items[this.count++] = piece;
    this.bytes += piece.length;
  }

  /** Empties the list, dropping its references to what was written. */
  clear(): void {
    const items = this.items;
    for (let i = 0; i < this.count; i++) items[i] = EMPTY;
    this.count = 0;
    this.bytes = 0;
  }
}

/**
 * Encodes a message with a fmt 0 first header, so its pieces do not depend on any connection's
 * compression state: fan-out encodes a media message once per (csid, stream id, chunk size) and
 * writes the same pieces to every player; `ChunkEncoder.noteShared` keeps that connection's
 * compression state consistent afterwards. The pieces are the header buffers and views of the
 * payload, never a copy of it: a copy per message was most of what a relay's receiving server
 * allocated outside the V8 heap (≈ the stream's bitrate again), and that external memory is what
 * started its mark-compacts (issue 17).
 */
export function encodeShared(msg: RtmpMessage, csid: number, chunkSize: number): Buffer[] {
  if (!Number.isInteger(csid) || csid < MIN_CSID || csid > MAX_CSID) {
    throw new RangeError(`chunk stream id must be in ${MIN_CSID}..${MAX_CSID}, got ${csid}`);
  }
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE_BYTES || chunkSize > MAX_CHUNK_SIZE_BYTES) {
    throw new RangeError(`chunk size must be an integer in ${MIN_CHUNK_SIZE_BYTES}..${MAX_CHUNK_SIZE_BYTES}, got ${chunkSize}`);
  }
  const payload = msg.payload;
  if (payload.length > MAX_MESSAGE_LENGTH) throw new RangeError(`message of ${payload.length} bytes does not fit RTMP's 24-bit length`);
  const timestamp = msg.timestamp >>> 0;
  const extended = timestamp >= EXTENDED_TIMESTAMP ? timestamp : -1;
  const pieces = [firstHeader(0, csid, timestamp, payload.length, msg.type & 0xff, msg.streamId >>> 0, extended)];
  pushChunks(payload, csid, chunkSize, extended, pieces);
  return pieces;
}

/** A buffer holding the basic header for csid, with `extra` bytes of room after it. */
function basicHeader(fmt: number, csid: number, extra: number): Buffer {
  let header: Buffer;
  if (csid < 64) {
    header = Buffer.allocUnsafe(1 + extra);
    header[0] = (fmt << 6) | csid;
  } else if (csid < 320) {
    header = Buffer.allocUnsafe(2 + extra);
    header[0] = fmt << 6;
    header[1] = csid - 64;
  } else {
    header = Buffer.allocUnsafe(3 + extra);
    header[0] = (fmt << 6) | 1;
    header[1] = (csid - 64) & 0xff;
    header[2] = (csid - 64) >> 8;
  }
  return header;
}

function firstHeader(
  fmt: 0 | 1 | 2 | 3,
  csid: number,
  field: number,
  length: number,
  type: number,
  streamId: number,
  extended: number,
): Buffer {
  const messageHeader = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
  const header = basicHeader(fmt, csid, messageHeader + (extended >= 0 ? 4 : 0));
  let p = header.length - messageHeader - (extended >= 0 ? 4 : 0);
  if (fmt <= 2) {
    header.writeUIntBE(extended >= 0 ? EXTENDED_TIMESTAMP : field, p, 3);
    p += 3;
  }
  if (fmt <= 1) {
    header.writeUIntBE(length, p, 3);
    header[p + 3] = type;
    p += 4;
  }
  if (fmt === 0) {
    header.writeUInt32LE(streamId, p);
    p += 4;
  }
  if (extended >= 0) header.writeUInt32BE(extended, p);
  return header;
}

import { ErrorCode, ProtocolError } from '../errors.ts';
import { END_GRACE_MS, type RtmpTransport, type TransportSink } from './transport.ts';

/** Answers one RTMPT HTTP request (the gateway writes the response). */
export type RtmptReply = (status: number, body: Buffer) => void;

export interface RtmptSessionOptions {
  kind: 'http' | 'https';
  remoteAddress: string;
  /** A session that sees no request for this long is closed (rtmpt.idleTimeoutMs). */
  idleTimeoutMs: number;
  /** An idle poll with nothing to send waits this long for server bytes before it is answered empty. */
  pollHoldMs: number;
  /** Called once when the session is gone (the gateway forgets its id). */
  onGone: (session: RtmptSession) => void;
}

/** Out-of-order requests held while an earlier one is missing, at most. */
export const MAX_REORDER_REQUESTS = 8;
/** A missing request that does not arrive within this long ends the session (its bytes are lost). */
const REORDER_WAIT_MS = 5000;
/** Polling-interval byte: 1 while traffic flows, doubling after empty answers up to 33 (FMS/Red5 range). */
const POLL_MIN = 1;
const POLL_MAX = 33;
const EMPTY_POLLS_BEFORE_SLOWING = 8;

/**
 * One RTMPT session as a transport: the client's RTMP bytes arrive in /send bodies, ours leave in
 * the answers to its /send and /idle polls. Requests carry a sequence number: the next one is
 * processed, later ones wait (bounded) for the missing one, earlier ones (a replay) are refused
 * without touching the stream — bytes are never applied twice or out of order. An idle poll with
 * nothing to answer is held for up to pollHoldMs and answered as soon as bytes are written: fewer
 * empty round trips than FMS's immediate answers (rtmpdump polls in a tight loop) and no polling
 * delay added to media.
 */
export class RtmptSession implements RtmpTransport {
  readonly id: string;
  readonly kind: 'http' | 'https';
  readonly encrypted = false;
  readonly socket = null;
  readonly remoteAddress: string;
  readonly #options: RtmptSessionOptions;
  #sink: TransportSink | null = null;
  #out: Buffer[] = [];
  #outBytes = 0;
  #lastSeq: number | null = null;
  readonly #waiting = new Map<number, { run: () => void; reply: RtmptReply }>();
  #reorderTimer: NodeJS.Timeout | null = null;
  #held: { reply: RtmptReply; timer: NodeJS.Timeout } | null = null;
  #pollInterval = POLL_MIN;
  #emptyPolls = 0;
  readonly #idleTimer: NodeJS.Timeout;
  #ending = false;
  #gone = false;

  constructor(id: string, options: RtmptSessionOptions) {
    this.id = id;
    this.kind = options.kind;
    this.remoteAddress = options.remoteAddress.replace(/^::ffff:/, '');
    this.#options = options;
    this.#idleTimer = setTimeout(() => this.#expire(), options.idleTimeoutMs);
  }

  get bufferedBytes(): number {
    return this.#outBytes;
  }

  get gone(): boolean {
    return this.#gone;
  }

  bind(sink: TransportSink): void {
    this.#sink = sink;
  }

  // --- the RTMP side ---

  write(pieces: readonly Buffer[], count = pieces.length): void {
    if (this.#gone) return;
    for (let i = 0; i < count; i++) {
      const piece = pieces[i]!;
      this.#out.push(piece);
      this.#outBytes += piece.length;
    }
    if (this.#held) this.#release();
  }

  end(): void {
    if (this.#gone || this.#ending) return;
    this.#ending = true;
    // What is queued goes out with the next poll (answered at once now); a client that never
    // polls again is forgotten after the grace period.
    if (this.#held) this.#release();
    setTimeout(() => this.#finish(), END_GRACE_MS).unref();
  }

  destroy(): void {
    this.#finish();
  }

  // --- the HTTP side (rtmpt-gateway.ts) ---

  /** A /send, /idle or /close request of this session, body read. */
  request(kind: 'send' | 'idle' | 'close', seq: number, body: Buffer, reply: RtmptReply): void {
    if (this.#gone) return reply(404, Buffer.alloc(0));
    this.#idleTimer.refresh();
    const expected = this.#lastSeq === null ? seq : this.#lastSeq + 1;
    if (seq < expected) return reply(400, Buffer.from('stale sequence number\n'));
    if (seq > expected) return this.#wait(kind, seq, body, reply);
    this.#process(kind, seq, body, reply);
    // Requests that arrived early and were waiting for this one now run, in order.
    for (;;) {
      const next = this.#gone ? undefined : this.#waiting.get(this.#lastSeq! + 1);
      if (!next) break;
      this.#waiting.delete(this.#lastSeq! + 1);
      next.run();
    }
    if (this.#waiting.size === 0 && this.#reorderTimer) {
      clearTimeout(this.#reorderTimer);
      this.#reorderTimer = null;
    }
  }

  #wait(kind: 'send' | 'idle' | 'close', seq: number, body: Buffer, reply: RtmptReply): void {
    if (this.#waiting.has(seq)) return reply(400, Buffer.from('duplicate sequence number\n'));
    if (this.#waiting.size >= MAX_REORDER_REQUESTS) {
      reply(400, Buffer.from('too many requests out of order\n'));
      return this.#fail(`more than ${MAX_REORDER_REQUESTS} requests out of order`);
    }
    this.#waiting.set(seq, { run: () => this.#process(kind, seq, body, reply), reply });
    this.#reorderTimer ??= setTimeout(() => this.#fail('a missing request never arrived'), REORDER_WAIT_MS);
  }

  #process(kind: 'send' | 'idle' | 'close', seq: number, body: Buffer, reply: RtmptReply): void {
    this.#lastSeq = seq;
    // A held poll is answered first, so answers leave in the order their requests came.
    if (this.#held) this.#release();
    if (kind === 'close') {
      reply(200, Buffer.from([0]));
      this.#sink?.closed('peer closed');
      this.#finish();
      return;
    }
    if (kind === 'send' && body.length > 0 && !this.#ending) this.#sink?.data(body);
    if (this.#gone) return reply(404, Buffer.alloc(0)); // the bytes made the connection close at once
    if (kind === 'idle' && this.#outBytes === 0 && !this.#ending) {
      this.#held = { reply, timer: setTimeout(() => this.#release(), this.#options.pollHoldMs) };
      return;
    }
    this.#answer(reply);
  }

  #release(): void {
    const held = this.#held!;
    this.#held = null;
    clearTimeout(held.timer);
    this.#answer(held.reply);
  }

  /** Polling-interval byte, then everything queued; the last answer of an ending session says 0. */
  #answer(reply: RtmptReply): void {
    const hadData = this.#outBytes > 0;
    if (hadData) {
      this.#pollInterval = POLL_MIN;
      this.#emptyPolls = 0;
    } else if (++this.#emptyPolls > EMPTY_POLLS_BEFORE_SLOWING) {
      this.#pollInterval = Math.min(POLL_MAX, this.#pollInterval * 2);
    }
    const head = Buffer.from([this.#ending ? 0 : this.#pollInterval]);
    const body = hadData ? Buffer.concat([head, ...this.#out], 1 + this.#outBytes) : head;
    this.#out = [];
    this.#outBytes = 0;
    reply(200, body);
    if (hadData) this.#sink?.drain();
    if (this.#ending && !this.#gone) this.#finish();
  }

  #expire(): void {
    if (this.#gone) return;
    this.#sink?.closed('rtmpt session expired', new ProtocolError(ErrorCode.RtmptSessionExpired, `RTMPT session idle for ${this.#options.idleTimeoutMs} ms`));
    this.#finish();
  }

  #fail(reason: string): void {
    if (this.#gone) return;
    this.#sink?.closed(reason, new ProtocolError(ErrorCode.RtmptRequestInvalid, `RTMPT: ${reason}`));
    this.#finish();
  }

  /** Forgets the session: queued bytes dropped, waiting requests answered 404. Idempotent. */
  #finish(): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#idleTimer);
    if (this.#reorderTimer) clearTimeout(this.#reorderTimer);
    if (this.#held) {
      clearTimeout(this.#held.timer);
      this.#held.reply(404, Buffer.alloc(0));
      this.#held = null;
    }
    for (const waiting of this.#waiting.values()) waiting.reply(404, Buffer.alloc(0));
    this.#waiting.clear();
    this.#out = [];
    this.#outBytes = 0;
    this.#options.onGone(this);
  }
}

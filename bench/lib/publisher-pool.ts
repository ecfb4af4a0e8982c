/**
 * Publisher pool child: N streams published through our client from ONE process at the file's own
 * pace (each tag sent when its timestamp comes due, looping with continuous timestamps), the
 * streams' clocks staggered evenly over one frame interval so the server sees them as independent
 * sources rather than one burst of N frames. A hundred ffmpeg processes would cost the tools' CPU a
 * full core by themselves. Driven over IPC by publishers.ts:
 *   start {file, targets:[{url, name}], spread} → {started, failed}   trim {count} → {}   stats → {maxLateMs}
 * (start again adds streams: stream i's clock is offset by i/spread of a frame, i counted over all streams)
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import type { NetStream } from '../../runtime/client/net-stream.ts';
import { encodeAmf0 } from '../../runtime/rtmp/amf0.ts';
import { readFlvTags } from '../../runtime/media/flv-file.ts';
import type { MediaPacket } from '../../runtime/media/media-packet.ts';
import { MessageType } from '../../runtime/rtmp/message.ts';
import { ENCODER_CHUNK_SIZE_BYTES } from './paced-publisher.ts';
import type { PoolReply, PoolRequest } from './publishers.ts';

const FRAME_MS = 40;
const CONNECT_CONCURRENCY = 20;
const SET_DATA_FRAME = encodeAmf0(['@setDataFrame']);

interface Stream {
  nc: NetConnection;
  ns: NetStream;
  offsetMs: number;
  /** Index of the next tag and the loop it is in. */
  next: number;
  round: number;
}

let tags: MediaPacket[] = [];
let metadata: Buffer | null = null;
let roundMs = 0;
const streams: Stream[] = [];
let startedAt = -1;
let timer: NodeJS.Timeout | null = null;
let maxLateMs = 0;

async function open(url: string, name: string, offsetMs: number): Promise<Stream> {
  const nc = new NetConnection({ connectTimeoutMs: 20_000 });
  await nc.connect(url);
  nc.connection!.setChunkSize(ENCODER_CHUNK_SIZE_BYTES);
  const ns = await nc.createStream();
  await ns.publish(name);
  if (metadata) nc.connection!.sendMessage({ type: MessageType.DataAmf0, streamId: ns.id, timestamp: 0, payload: metadata });
  return { nc, ns, offsetMs, next: 0, round: 0 };
}

/** Sends every tag that is due on every stream, then sleeps until the earliest next one. */
function pump(): void {
  timer = null;
  const now = performance.now() - startedAt;
  let earliest = Number.POSITIVE_INFINITY;
  for (const s of streams) {
    for (;;) {
      const tag = tags[s.next]!;
      const timestamp = tag.timestamp + s.round * roundMs;
      const due = s.offsetMs + timestamp;
      if (due > now) {
        earliest = Math.min(earliest, due);
        break;
      }
      maxLateMs = Math.max(maxLateMs, now - due);
      if (s.nc.isConnected) s.ns.sendMedia(tag.type as 8 | 9, timestamp, tag.payload);
      if (++s.next === tags.length) {
        s.next = 0;
        s.round++;
      }
    }
  }
  if (Number.isFinite(earliest)) timer = setTimeout(pump, Math.max(0, earliest - (performance.now() - startedAt)));
}

async function start(file: string, targets: { url: string; name: string }[], spread: number): Promise<PoolReply> {
  if (tags.length === 0) {
    const all = readFlvTags(readFileSync(file));
    tags = all.filter((t) => t.type === MessageType.Audio || t.type === MessageType.Video);
    const meta = all.find((t) => t.type === MessageType.DataAmf0);
    metadata = meta ? Buffer.concat([SET_DATA_FRAME, meta.payload]) : null;
    roundMs = tags.at(-1)!.timestamp + FRAME_MS;
  }
  // Stream i's clock runs i/spread of a frame behind stream 0's; a stream added later starts at
  // the current position of the shared clock (at its next tag due), so it does not send a burst.
  const first = streams.length;
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const opened: (Stream | null)[] = new Array(targets.length).fill(null);
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      try {
        opened[i] = await open(targets[i]!.url, targets[i]!.name, (((first + i) % spread) * FRAME_MS) / spread);
      } catch (error) {
        failed++;
        firstError ??= (error as Error)?.message ?? String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, targets.length) }, worker));
  const now = startedAt < 0 ? 0 : performance.now() - startedAt;
  for (const s of opened) {
    if (!s) continue;
    // Skip to the first tag due from now on (a looped file: whole rounds, then tags).
    s.round = Math.max(0, Math.floor((now - s.offsetMs) / roundMs));
    while (s.offsetMs + tags[s.next]!.timestamp + s.round * roundMs < now) {
      if (++s.next === tags.length) {
        s.next = 0;
        s.round++;
      }
    }
    streams.push(s);
  }
  if (startedAt < 0) startedAt = performance.now();
  maxLateMs = 0;
  if (timer) clearTimeout(timer);
  pump();
  return { type: 'started', started: streams.length - first, failed, ...(firstError === undefined ? {} : { firstError }) };
}

async function handle(request: PoolRequest): Promise<PoolReply> {
  switch (request.cmd) {
    case 'start':
      return start(request.file, request.targets, request.spread ?? request.targets.length);
    case 'trim':
      for (const s of streams.splice(request.count)) {
        s.ns.close();
        s.nc.close();
      }
      return { type: 'trimmed' };
    case 'stats': {
      const reply: PoolReply = { type: 'stats', maxLateMs, connected: streams.filter((s) => s.nc.isConnected).length };
      maxLateMs = 0;
      return reply;
    }
  }
}

process.on('message', (request: PoolRequest) => {
  handle(request).then(
    (reply) => process.send?.(reply),
    (error: unknown) => process.send?.({ type: 'error', message: (error as Error).message } satisfies PoolReply),
  );
});
process.on('disconnect', () => {
  if (timer) clearTimeout(timer);
  process.exit(0);
});

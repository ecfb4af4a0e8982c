/**
 * Stalled player: a 4 Mbit/s publisher, one healthy player and one player that stops reading
 * (socket.pause()) right after its first media message. Over the stall we sample the server's RSS
 * and at the end ask the server process for that connection's backlog (what it holds in user space;
 * our SubscriberQueue caps it at media.playerMaxBufferedBytes), plus the kernel queues from `ss`.
 */
import { LoadGenerator } from './load-generator.ts';
import { kernelQueues, memory } from './proc-stats.ts';
import { APP, SERVER_LABEL, STREAM, startPublisher, startServer, type ServerKind } from './servers.ts';

const MIB = 1024 * 1024;
const PUBLISH_SETTLE_MS = 1500;
const SAMPLE_MS = 500;

export interface StallResult {
  kind: ServerKind;
  rssBeforeMib: number;
  rssAfterMib: number;
  rssMaxMib: number;
  /** In-process backlog for the stalled connection (null: the server could not be asked). */
  userBacklogMib: number | null;
  droppedMib: number | null;
  serverSendQMib: number | null;
  clientRecvQMib: number | null;
  /** Media messages per second the healthy player got during the stall. */
  healthyFps: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runStall(kind: ServerKind, file: string, stallMs: number): Promise<StallResult> {
  const server = await startServer(kind, { probe: true });
  const publisher = startPublisher(file, `rtmp://127.0.0.1:${server.rtmpPort}/${APP}/${STREAM}`);
  const loadGen = new LoadGenerator();
  try {
    await sleep(PUBLISH_SETTLE_MS);
    if (!publisher.alive()) throw new Error(`ffmpeg publisher exited: ${publisher.stderr()}`);
    const url = `rtmp://127.0.0.1:${server.rtmpPort}/${APP}`;
    await loadGen.request({ cmd: 'grow', url, stream: STREAM, count: 1 }, 'grown');
    const { localPort } = await loadGen.request({ cmd: 'stall', url, stream: STREAM }, 'stalled');
    await loadGen.request({ cmd: 'reset' }, 'reset');
    const rssBefore = memory(server.pid).rss;
    let rssMax = rssBefore;
    for (let waited = 0; waited < stallMs; waited += SAMPLE_MS) {
      await sleep(SAMPLE_MS);
      rssMax = Math.max(rssMax, memory(server.pid).rss);
    }
    const rssAfter = memory(server.pid).rss;
    const backlog = await server.backlog(localPort);
    const kernel = kernelQueues(server.rtmpPort, localPort);
    const report = await loadGen.request({ cmd: 'report' }, 'report');
    return {
      kind,
      rssBeforeMib: rssBefore / MIB,
      rssAfterMib: rssAfter / MIB,
      rssMaxMib: rssMax / MIB,
      userBacklogMib: backlog?.found ? backlog.userBytes / MIB : null,
      droppedMib: backlog?.found ? backlog.droppedBytes / MIB : null,
      serverSendQMib: kernel ? kernel.serverSendQ / MIB : null,
      clientRecvQMib: kernel ? kernel.clientRecvQ / MIB : null,
      healthyFps: ((report.frames[0] ?? 0) * 1000) / report.elapsedMs,
    };
  } finally {
    await loadGen.stop();
    await publisher.stop();
    await server.stop();
  }
}

const f = (n: number | null, digits = 1) => (n === null || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits));

export function printStall(results: StallResult[], stallMs: number, kbps: string): void {
  const out = [
    '',
    `stalled player: ~${kbps} kbit/s publisher, one player stops reading for ${stallMs / 1000} s (one healthy player alongside)`,
    '  server RSS before → after (max), growth; backlog for the stalled connection: in the server process /',
    '  server kernel Send-Q / player kernel Recv-Q; media dropped by the server for it; healthy player msg/s',
  ];
  for (const r of results) {
    out.push(
      `  ${SERVER_LABEL[r.kind].padEnd(24)} RSS ${f(r.rssBeforeMib)} → ${f(r.rssAfterMib)} (max ${f(r.rssMaxMib)}) MiB, growth ${f(r.rssAfterMib - r.rssBeforeMib)} MiB; ` +
        `backlog ${f(r.userBacklogMib, 2)} / ${f(r.serverSendQMib, 2)} / ${f(r.clientRecvQMib, 2)} MiB; dropped ${f(r.droppedMib, 2)} MiB; healthy ${f(r.healthyFps)} msg/s`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

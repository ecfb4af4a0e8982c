import { existsSync, unlinkSync } from 'node:fs';
import type { NetConnection } from '../client/net-connection.ts';
import type { NetStream } from '../client/net-stream.ts';
import type { Logger } from '../log/logger.ts';
import { stripCredentials } from '../log/strip-credentials.ts';
import type { LiveStream } from '../media/live-stream.ts';
import { Recorder, type RecordingLimit } from '../media/recorder.ts';
import { scriptRecordingLimits, type RecordingSettings } from './recording-limits.ts';
import { isMetadata } from '../media/media-packet.ts';
import { Relay, type RelayStats } from '../media/relay.ts';
import { parseStreamName, type StreamRegistry } from '../media/stream-registry.ts';
import type { PacketSink } from '../media/subscriber-queue.ts';
import { VodPlayer } from '../media/vod-player.ts';
import { encodeAmf0 } from '../rtmp/amf0.ts';
import { MessageType } from '../rtmp/message.ts';
import { status, type InfoObject } from '../common/status-codes.ts';

export interface ServerStreamHost {
  readonly streams: StreamRegistry;
  recordedFile(name: string): string | null;
  /** Application.xml Recording (limits and caps for Stream.record). */
  recordingSettings(): RecordingSettings;
  /** The client NetConnection behind a script's server-side NetConnection id (for remote pulls). */
  remoteConnection(ncId: number): NetConnection | null;
  streamStatus(name: string, info: InfoObject): void;
  /** Starts/stops HLS packaging of a stream whatever its requests (Adobe livepkgr's f4f: recording); false if refused. */
  packageHls(name: string, on: boolean): boolean;
}

/** What feeds a server-side stream now: a relay (a pull of a live stream, local or remote) or a recorded file. */
type Source = { kind: 'relay'; relay: Relay } | { kind: 'vod'; player: VodPlayer };

interface OwnedStream {
  stream: LiveStream;
  source: Source | null;
  playlist: PlaylistItem[];
  /** The last relay that fed it (running or ended), for the admin API. */
  relay: Relay | null;
}

interface PlaylistItem {
  name: string;
  startSec: number;
  lengthSec: number;
  ncId: number | null;
}

/** A server-side stream as a relay's destination: metadata is kept for its late joiners, the rest fans out. */
function intoStream(target: LiveStream): PacketSink {
  return {
    bufferedBytes: 0, // in-process: the stream's own players have bounded queues
    write: (p, timestamp) => {
      // The stream keeps what it is given (GOP cache, metadata), so it gets a packet on the relay's timeline.
      const packet = timestamp === p.timestamp ? p : { type: p.type, timestamp, payload: p.payload };
      if (isMetadata(packet)) target.setMetadata(packet);
      else target.write(packet);
    },
  };
}

/**
 * Server-side `Stream` objects (Stream.get): streams the script owns and feeds from a local live
 * stream, a recorded file or a remote server (stream chaining), with playlists, recording and
 * data injection. Media never passes through the script: sources write straight into the
 * instance's live stream, where clients play it.
 */
export class ServerStreams {
  readonly #host: ServerStreamHost;
  readonly #log: Logger;
  readonly #owned = new Map<string, OwnedStream>();
  readonly #recorders = new Map<string, Recorder>();
  /** closeAll() ran (the generation is retired): a handler finishing meanwhile starts nothing new. */
  #closed = false;
  /** f4f: streams whose record() started HLS packaging. */
  readonly #hlsRecordings = new Set<string>();

  constructor(host: ServerStreamHost, log: Logger) {
    this.#host = host;
    this.#log = log;
  }

  /** Stream.get(name): a valid name gets a handle; invalid names (empty, escapes) get null. */
  get(rawName: string): string | null {
    const { name } = parseStreamName(rawName);
    if (!name || name.includes('\0') || name.split('/').some((s) => s === '..')) return null;
    return name;
  }

  play(name: string, source: string | false, startSec = -2, lengthSec = -1, reset: number | boolean = true, ncId: number | null = null): boolean {
    if (this.#closed) return false;
    if (source === false) {
      this.#stop(name, true);
      return true;
    }
    const entry = this.#entry(name);
    if (entry.stream.publisher && entry.stream.publisher.id !== `server:${name}`) return false; // a client owns it
    const item = { name: parseStreamName(source).name, startSec, lengthSec, ncId };
    if (reset === false || reset === 0 || reset === 2) {
      entry.playlist.push(item);
      if (entry.source) return true;
    } else {
      this.#stop(name, false);
      entry.playlist = [item];
      this.#status(name, status.playReset(name, ''));
    }
    this.#next(name);
    return true;
  }

  #entry(name: string) {
    let entry = this.#owned.get(name);
    if (!entry) {
      entry = { stream: this.#host.streams.getOrCreate(name), source: null, playlist: [], relay: null };
      this.#owned.set(name, entry);
    }
    return entry;
  }

  #status(name: string, info: InfoObject): void {
    this.#host.streamStatus(name, info);
  }

  /** Starts the next playlist item; FMS -2 = live if present, else recorded, else wait for live. */
  #next(name: string): void {
    const entry = this.#owned.get(name);
    if (!entry) return;
    const item = entry.playlist.shift();
    if (!item) return;
    const target = entry.stream;
    if (!target.isPublishing) target.startPublish({ id: `server:${name}`, publishQueryString: '', startedAt: Date.now() });
    if (item.ncId !== null) return this.#playRemote(name, item);
    const live = this.#host.streams.get(item.name);
    const wantLive = item.startSec === -1 || (item.startSec < 0 && live?.isPublishing);
    const file = this.#host.recordedFile(item.name);
    if (!wantLive && item.startSec !== -1 && file && existsSync(file)) return this.#playFile(name, item, file);
    if (item.startSec >= 0) {
      this.#status(name, status.playStreamNotFound(item.name, ''));
      return this.#next(name);
    }
    const relay = this.#pull(entry, name, item.name);
    relay.attach(this.#host.streams.getOrCreate(item.name));
    relay.start(() => ({ sink: intoStream(target), close: () => undefined }));
    this.#status(name, status.playStart(item.name, ''));
  }

  #playFile(name: string, item: PlaylistItem, file: string): void {
    const entry = this.#owned.get(name)!;
    const target = entry.stream;
    try {
      const player = new VodPlayer(file, {
        startMs: Math.max(0, item.startSec) * 1000,
        lengthMs: item.lengthSec >= 0 ? item.lengthSec * 1000 : -1,
        write: (p) => (p.type === MessageType.DataAmf0 ? target.setMetadata(p) : target.write(p)),
        onEnd: () => {
          if (entry.source?.kind !== 'vod' || entry.source.player !== player) return;
          entry.source = null;
          this.#status(name, status.playStop(item.name, ''));
          if (entry.playlist.length > 0) {
            this.#status(name, { level: 'status', code: 'NetStream.Play.Switch', description: `Switching to ${entry.playlist[0]!.name}.` });
            this.#next(name);
          } else this.#status(name, { level: 'status', code: 'NetStream.Play.Complete', description: 'Playlist complete.' });
        },
      });
      entry.source = { kind: 'vod', player };
      this.#status(name, status.playStart(item.name, ''));
      player.start();
    } catch (error) {
      this.#status(name, status.playFailed(item.name, '', (error as Error).message));
      this.#next(name);
    }
  }

  /** A relay feeding the server-side stream `name` from `from` (local stream or, with `remoteUri`, remote). */
  #pull(entry: OwnedStream, name: string, from: string, remoteUri?: string): Relay {
    const relay = new Relay({
      id: `stream-${name}`,
      kind: 'pull',
      destination: name,
      streamName: from,
      ...(remoteUri === undefined ? {} : { remoteSource: remoteUri }),
      maxBufferedBytes: Number.MAX_SAFE_INTEGER, // in-process: the stream's own players have bounded queues
      log: this.#log,
    });
    entry.source = { kind: 'relay', relay };
    entry.relay = relay;
    return relay;
  }

  /** Stream.play(name, …, nc): a relay pulling `item.name` from the server the NetConnection is connected to. */
  #playRemote(name: string, item: PlaylistItem): void {
    const entry = this.#owned.get(name)!;
    const nc = this.#host.remoteConnection(item.ncId!);
    if (!nc?.isConnected) {
      this.#status(name, status.playFailed(item.name, '', 'The NetConnection is not connected.'));
      return;
    }
    const relay = this.#pull(entry, name, item.name, stripCredentials(nc.uri));
    relay.start(async (lost) => {
      let remote: NetStream;
      try {
        remote = await nc.createStream();
      } catch (error) {
        this.#status(name, status.playFailed(item.name, '', String(error)));
        throw error;
      }
      remote.on('media', (m) => relay.packet(m));
      remote.on('data', (values, m) => {
        // Data rides at the current position of the stream's timeline (Stream.time reads it), not the remote clock.
        if (values[0] !== 'onStatus' && values[0] !== '|RtmpSampleAccess') relay.packet(m);
      });
      remote.on('status', (info) => this.#status(name, info as InfoObject));
      const onClose = () => lost(Object.assign(new Error('connection closed'), { info: status.connectClosed() }));
      nc.once('close', onClose);
      remote.play(item.name, item.startSec, item.lengthSec, true);
      return {
        sink: intoStream(entry.stream),
        close: () => {
          nc.off('close', onClose);
          remote.close();
        },
      };
    });
  }

  #stopSource(entry: { source: Source | null }): void {
    const source = entry.source;
    entry.source = null;
    if (!source) return;
    if (source.kind === 'relay') source.relay.close('closed');
    else source.player.stop();
  }

  #stop(name: string, unpublish: boolean): void {
    const entry = this.#owned.get(name);
    if (!entry) return;
    this.#stopSource(entry);
    entry.playlist = [];
    if (unpublish && entry.stream.publisher?.id === `server:${name}`) {
      entry.stream.stopPublish();
      this.#status(name, status.playStop(name, ''));
    }
  }

  /**
   * s.time: the stream's current media time in seconds, i.e. the timestamp its players are at.
   * Works for client-published and server-owned streams alike; 0 when nothing publishes into it.
   */
  timeSec(name: string): number {
    const stream = this.#host.streams.get(name);
    return stream?.isPublishing ? stream.lastTimestamp / 1000 : 0;
  }

  /**
   * s.clear(): deletes the recorded file behind the stream (fms-api §6.2). Refused while anything
   * (a client's publish "record" or a script's record()) is writing that file: deleting it would
   * silently lose the recording. The outcome also arrives as NetStream.Clear.Success/Failed.
   */
  clear(name: string): boolean {
    const fail = (reason: string): boolean => {
      this.#log.info({ stream: name, reason }, 'Stream.clear failed');
      this.#status(name, status.clearFailed(name, reason));
      return false;
    };
    const file = this.#host.recordedFile(name);
    if (!file) return fail('Not a recorded stream name.');
    const recording = this.#host.streams.all().some((s) => [...s.subscribers].some((sub) => sub instanceof Recorder && sub.file === file));
    if (recording || [...this.#recorders.values()].some((r) => r.file === file)) return fail('The stream is being recorded.');
    try {
      unlinkSync(file);
    } catch (error) {
      return fail((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'No recorded file.' : (error as Error).message);
    }
    this.#status(name, status.clearSuccess(name));
    return true;
  }

  /**
   * s.record("record"|"append"|false[, maxDuration, maxSize]). Works on client-published and
   * server-owned streams. Limits follow recording-limits.ts; reaching one stops the recording with
   * NetStream.Record.Stop (after NetStream.Record.DiskQuotaExceeded for the size).
   */
  record(name: string, mode: 'record' | 'append' | false, maxDurationSec?: number, maxSizeKb?: number): boolean {
    if (this.#closed) return false;
    const existing = this.#recorders.get(name);
    const stream = this.#host.streams.getOrCreate(name);
    if (name.startsWith('f4f:')) return this.#recordHls(name, mode !== false);
    if (mode === false) {
      if (!existing) return false;
      existing.stop(stream);
      this.#recorders.delete(name);
      this.#status(name, status.recordStop(name, ''));
      return true;
    }
    const file = this.#host.recordedFile(name);
    if (!file) {
      this.#status(name, status.recordNoAccess(name, ''));
      return false;
    }
    existing?.stop(stream);
    try {
      const limits = scriptRecordingLimits(this.#host.recordingSettings(), maxDurationSec, maxSizeKb);
      const recorder = new Recorder(file, mode, limits, (limit) => this.#recordingLimited(name, recorder, limit));
      this.#recorders.set(name, recorder);
      this.#status(name, status.recordStart(name, '')); // before start(): a tiny limit may end it at once
      recorder.start(stream);
      return true;
    } catch (error) {
      this.#recorders.delete(name);
      this.#log.error({ stream: name, err: (error as Error).message }, 'recording failed');
      this.#status(name, status.recordFailed(name, ''));
      return false;
    }
  }

  /**
   * Adobe's livepkgr pattern: record() on "f4f:<name>" packaged the stream as HDS fragments (and HLS
   * next to them). HDS is gone from every player; here it starts HLS packaging of that stream instead
   * (served at /<app>/<instance>/f4f:<name>/index.m3u8), record(false) returns it to on-request.
   */
  #recordHls(name: string, on: boolean): boolean {
    if (!on) {
      if (!this.#hlsRecordings.delete(name)) return false;
      this.#host.packageHls(name, false);
      this.#status(name, status.recordStop(name, ''));
      return true;
    }
    if (this.#hlsRecordings.has(name)) return true;
    if (!this.#host.packageHls(name, true)) {
      this.#log.warn({ stream: name }, 'HLS packaging of an f4f: recording refused (HLS off for this application, or hls.maxPackagedStreams reached)');
      this.#status(name, status.recordFailed(name, ''));
      return false;
    }
    this.#hlsRecordings.add(name);
    this.#status(name, status.recordStart(name, ''));
    return true;
  }

  #recordingLimited(name: string, recorder: Recorder, limit: RecordingLimit): void {
    if (this.#recorders.get(name) === recorder) this.#recorders.delete(name);
    this.#log.info({ stream: name, limit }, 'recording limit reached; recording stopped');
    if (limit === 'size') this.#status(name, status.recordDiskQuotaExceeded(name, ''));
    this.#status(name, status.recordStop(name, ''));
  }

  /** s.send(handler, ...args): a data message to every subscriber (recorded too). */
  send(name: string, handler: string, args: unknown[]): boolean {
    const stream = this.#host.streams.getOrCreate(name);
    const payload = encodeAmf0([handler, ...args]);
    if (handler === 'onMetaData' || handler === '@setDataFrame') {
      const values = handler === '@setDataFrame' ? args : ['onMetaData', ...args];
      stream.setMetadata({ type: MessageType.DataAmf0, timestamp: 0, payload: encodeAmf0(values) });
    } else stream.write({ type: MessageType.DataAmf0, timestamp: stream.lastTimestamp, payload });
    return true;
  }

  /** Stream.destroy: stop sources and recordings; subscribers get UnpublishNotify. */
  destroy(name: string): boolean {
    const entry = this.#owned.get(name);
    this.record(name, false);
    if (!entry) return false;
    this.#stop(name, true);
    this.#owned.delete(name);
    this.#host.streams.release(entry.stream);
    return true;
  }

  /** The relay of each server-side stream that has pulled one (running or ended), for the admin API. */
  relays(): RelayStats[] {
    return [...this.#owned.values()].flatMap((entry) => (entry.relay ? [entry.relay.stats()] : []));
  }

  /** Instance unload: every source, playlist and recording stopped. */
  closeAll(): void {
    this.#closed = true;
    for (const name of [...this.#owned.keys()]) this.destroy(name);
    for (const [name, recorder] of this.#recorders) recorder.stop(this.#host.streams.get(name));
    this.#recorders.clear();
    for (const name of this.#hlsRecordings) this.#host.packageHls(name, false);
    this.#hlsRecordings.clear();
  }
}

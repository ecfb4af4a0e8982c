import { MessageType } from '../../rtmp/message.ts';
import type { LiveStream, LiveSubscriber } from '../live-stream.ts';
import { isAudioConfig, metadataObject, type MediaPacket } from '../media-packet.ts';
import {
  aacFrameOffset, audioConfigOf, emptyVideoSample, readVideoSample, sameAudioConfig, sameVideoConfig, videoConfigOf,
  type AudioConfig, type VideoConfig,
} from './codec-config.ts';
import { AUDIO_TRACK_ID, initSegment, mediaFragment, VIDEO_TRACK_ID } from './fmp4.ts';
import type { HlsSettings } from './hls-settings.ts';
import { HlsWindow, type HlsSegment } from './hls-window.ts';
import { TrackBuffer } from './track-buffer.ts';

const AAC_FRAME_SAMPLES = 1024;
/** A frame interval we trust (ms); outside it the previous estimate is kept. */
const MAX_FRAME_MS = 1000;

export interface PackagerEvents {
  /** The window changed (a part, a segment, the end): blocked requests may be answerable now. */
  changed(): void;
  /** Codecs this packager leaves out, said once per publish (the egress logs it). */
  skippedCodecs(what: string): void;
  /** A packet this packager could not handle (a bug or input it does not expect): it has stopped. */
  failed(error: Error): void;
}

/**
 * Packages one live stream as CMAF for HLS/LL-HLS while it is subscribed: H.264/HEVC and AAC samples
 * go into track buffers; a part (one moof+mdat) is cut when the next frame would make it longer than
 * the part target, a segment at the first keyframe at or after the segment target (or, without a
 * keyframe in time, at the largest duration the target duration allows). A video frame is written
 * when the next one arrives — that is when its duration is known — so a part is complete the moment
 * the frame that starts the next one arrives, never later.
 *
 * Output time is the publisher's timestamps (unwrapped past 2^32 ms), shifted at a republish so the
 * new publish continues where the old one ended (the playlist marks a discontinuity there).
 */
export class LivePackager implements LiveSubscriber {
  readonly window: HlsWindow;
  readonly stream: LiveStream;
  readonly #events: PackagerEvents;
  #video: VideoConfig | null = null;
  #audio: AudioConfig | null = null;
  #initId = -1;
  #initDirty = true;
  readonly #videoBuf = new TrackBuffer(VIDEO_TRACK_ID, true);
  readonly #audioBuf = new TrackBuffer(AUDIO_TRACK_ID, false);
  /** The last video frame, written when the next one gives its duration; `pendingDtsMs` < 0: none. */
  readonly #pending = emptyVideoSample();
  #pendingDtsMs = -1;
  /** Reused for every incoming frame: reading a frame allocates nothing. */
  readonly #incoming = emptyVideoSample();
  #frameMs = 40;
  #segment: HlsSegment | null = null;
  #partStartMs = 0;
  #partIndependent = false;
  #fragmentSeq = 1;
  // timeline
  #lastIn: number | null = null;
  #unwrapped = 0;
  #offset = 0;
  #endMs = 0;
  #rebase = false;
  #discontinuity = false;
  #anchor: { outMs: number; wallMs: number } | null = null;
  #audioNext = -1;
  #stopped = false;

  constructor(stream: LiveStream, settings: HlsSettings, maxBytes: number, epoch: string, events: PackagerEvents) {
    this.stream = stream;
    this.window = new HlsWindow(settings, maxBytes, epoch);
    this.#events = events;
  }

  /** Subscribes; a publishing stream's codec configs and GOP cache are packaged at once. */
  start(): void {
    const stream = this.stream;
    if (stream.isPublishing) this.#anchor = { outMs: this.#map(stream.lastTimestamp), wallMs: Date.now() };
    this.#lastIn = null;
    for (const packet of stream.startupPackets) this.packet(packet);
    stream.subscribe(this);
  }

  stop(): void {
    this.#stopped = true;
    this.stream.unsubscribe(this);
  }

  /** Whether the stream has a track HLS can carry (known once its codec configs arrived). */
  get packageable(): boolean | null {
    const s = this.stream;
    if (this.#video || this.#audio) return true;
    if (!s.videoConfig && !s.audioConfig && !s.metadata) return null;
    const video = s.videoConfig ? videoConfigOf(s.videoConfig, { width: 0, height: 0 }) : null;
    const audio = s.audioConfig ? audioConfigOf(s.audioConfig) : null;
    return video !== null || audio !== null;
  }

  get codecs(): string[] {
    return [this.#video?.codec, this.#audio?.codec].filter((c): c is string => Boolean(c));
  }

  published(): void {
    this.#flush();
    this.#rebase = this.window.segments.length > 0;
    this.#discontinuity = this.#rebase;
    this.#anchor = null;
    this.#audioNext = -1;
    this.#video = this.#audio = null;
    this.#initDirty = true;
  }

  unpublished(): void {
    this.#flush();
  }

  /** The playlist ends (ENDLIST): the stream ended and did not come back in time. */
  end(): void {
    this.#flush();
    this.window.end();
    this.#events.changed();
  }

  packet(packet: MediaPacket): void {
    if (this.#stopped) return;
    try {
      if (packet.type === MessageType.Video) this.#onVideo(packet);
      else if (packet.type === MessageType.Audio) this.#onAudio(packet);
    } catch (error) {
      // Never let one stream's packaging break the publisher's fan-out: stop it, say why once.
      this.stop();
      this.#events.failed(error as Error);
    }
  }

  #onVideo(packet: MediaPacket): void {
    const p = packet.payload;
    if (p.length >= 2 && (((p[0]! & 0x80) !== 0 && (p[0]! & 0x0f) === 0) || ((p[0]! & 0x80) === 0 && p[1] === 0))) {
      const config = videoConfigOf(packet, this.#metaSize());
      if (config === null) this.#events.skippedCodecs('video');
      if (!sameVideoConfig(config, this.#video)) this.#configChanged(() => (this.#video = config));
      return;
    }
    if (!this.#video) return;
    const sample = this.#incoming;
    if (!readVideoSample(packet, sample)) return;
    let dtsMs = this.#map(packet.timestamp);
    if (this.#pendingDtsMs >= 0) {
      if (dtsMs <= this.#pendingDtsMs) dtsMs = this.#pendingDtsMs + 1; // a publisher going backwards: keep decode order
      const duration = dtsMs - this.#pendingDtsMs;
      if (duration < MAX_FRAME_MS) this.#frameMs = duration;
      this.#writeVideo(duration);
    }
    this.#boundary(dtsMs, sample.keyframe);
    if (!this.#segment) return;
    const pending = this.#pending;
    pending.payload = sample.payload;
    pending.offset = sample.offset;
    pending.keyframe = sample.keyframe;
    pending.ctsMs = sample.ctsMs;
    this.#pendingDtsMs = dtsMs;
  }

  #onAudio(packet: MediaPacket): void {
    if (isAudioConfig(packet)) {
      const config = audioConfigOf(packet);
      if (!sameAudioConfig(config, this.#audio)) this.#configChanged(() => (this.#audio = config));
      return;
    }
    const audio = this.#audio;
    if (!audio) {
      if (packet.payload.length > 0 && packet.payload[0]! >> 4 !== 10) this.#events.skippedCodecs('audio');
      return;
    }
    const frameOffset = aacFrameOffset(packet);
    if (frameOffset < 0) return;
    const ms = this.#map(packet.timestamp);
    if (!this.#video) this.#boundary(ms, true); // audio-only: audio frames cut parts
    if (!this.#segment) return;
    const actual = Math.round((ms * audio.sampleRate) / 1000);
    // A running clock of 1024 samples per frame (ms timestamps jitter by ±1 ms); resync on real gaps.
    const dts = this.#audioNext >= 0 && Math.abs(actual - this.#audioNext) < 2 * AAC_FRAME_SAMPLES ? this.#audioNext : actual;
    this.#audioNext = dts + AAC_FRAME_SAMPLES;
    this.#audioBuf.add(dts, AAC_FRAME_SAMPLES, packet.payload, frameOffset);
    if (!this.#video) this.#endMs = ms + (AAC_FRAME_SAMPLES * 1000) / audio.sampleRate;
  }

  /** Writes the pending frame, now that its duration is known. */
  #writeVideo(durationMs: number): void {
    const frame = this.#pending;
    const dtsMs = this.#pendingDtsMs;
    this.#pendingDtsMs = -1;
    if (this.#videoBuf.count === 0) this.#partIndependent = frame.keyframe;
    this.#videoBuf.add(Math.round(dtsMs * 90), Math.max(1, Math.round(durationMs * 90)), frame.payload, frame.offset, Math.round(frame.ctsMs * 90), frame.keyframe);
    this.#endMs = dtsMs + durationMs;
  }

  /** Decides, for a frame starting at `atMs`, whether the part and/or segment end before it. */
  #boundary(atMs: number, keyframe: boolean): void {
    const settings = this.window.settings;
    const segment = this.#segment;
    if (!segment) {
      if (keyframe) this.#openSegment(atMs, true);
      return;
    }
    const frameMs = this.#video ? this.#frameMs : (AAC_FRAME_SAMPLES * 1000) / (this.#audio?.sampleRate ?? 44100);
    const inSegmentMs = atMs - segment.startMs;
    const maxSegmentMs = this.window.targetDurationSec * 1000 + 400;
    if (keyframe && inSegmentMs >= settings.segmentTargetMs - frameMs / 2) {
      this.#closeSegment(atMs);
      this.#openSegment(atMs, true);
    } else if (inSegmentMs + frameMs > maxSegmentMs) {
      this.#closeSegment(atMs);
      this.#openSegment(atMs, false);
    } else if (atMs + frameMs - this.#partStartMs > (settings.lowLatency ? settings.partTargetMs : settings.segmentTargetMs * 2)) {
      this.#closePart(atMs);
    }
  }

  #openSegment(atMs: number, independent: boolean): void {
    if (this.#initDirty) this.#newInit();
    if (!this.#anchor) this.#anchor = { outMs: atMs, wallMs: Date.now() };
    const previous = this.window.segments.at(-1);
    let pdtMs = this.#anchor.wallMs + (atMs - this.#anchor.outMs);
    if (previous) pdtMs = Math.max(pdtMs, previous.pdtMs + previous.durationMs); // PDT never goes back
    this.#segment = this.window.openSegment(atMs, pdtMs, this.#initId, this.#discontinuity, independent);
    this.#discontinuity = false;
    this.#partStartMs = atMs;
  }

  #closePart(atMs: number): void {
    const segment = this.#segment;
    if (!segment || (this.#videoBuf.count === 0 && this.#audioBuf.count === 0)) return;
    const bytes = mediaFragment(this.#fragmentSeq++, [this.#videoBuf, this.#audioBuf]);
    const independent = this.#video ? this.#partIndependent : true;
    this.#videoBuf.clear();
    this.#audioBuf.clear();
    this.window.addPart(segment, bytes, Math.max(1, atMs - this.#partStartMs), independent);
    this.#partStartMs = atMs;
    this.#events.changed();
  }

  #closeSegment(atMs: number): void {
    const segment = this.#segment;
    if (!segment) return;
    this.#closePart(atMs);
    this.#segment = null;
    this.window.completeSegment(segment);
    this.#events.changed();
  }

  /** Writes what is buffered and completes the open segment (publish end, codec change, stop). */
  #flush(): void {
    if (this.#pendingDtsMs >= 0) this.#writeVideo(this.#frameMs);
    if (this.#segment) this.#closeSegment(Math.max(this.#endMs, this.#partStartMs + 1));
  }

  /** A new codec config mid-stream: the current segment ends, the next one has a new init and a discontinuity. */
  #configChanged(apply: () => void): void {
    if (this.#segment) {
      this.#flush();
      this.#discontinuity = true;
    }
    apply();
    this.#initDirty = true;
  }

  #newInit(): void {
    this.#initDirty = false;
    this.#initId++;
    this.window.addInit(this.#initId, initSegment(this.#video, this.#audio));
  }

  #metaSize(): { width: number; height: number } {
    const meta = this.stream.metadata ? metadataObject(this.stream.metadata.payload) : null;
    const n = (v: unknown) => (typeof v === 'number' && v > 0 && v < 65536 ? Math.round(v) : 0);
    return { width: n(meta?.['width']), height: n(meta?.['height']) };
  }

  /** Publisher timestamp (32-bit ms) → output ms: unwrapped, and continuous across a republish. */
  #map(ts: number): number {
    if (this.#lastIn === null) {
      this.#unwrapped = ts;
    } else {
      this.#unwrapped += (ts - this.#lastIn) | 0;
    }
    this.#lastIn = ts;
    if (this.#rebase) {
      this.#rebase = false;
      this.#offset = this.#endMs - this.#unwrapped;
    }
    return this.#unwrapped + this.#offset;
  }
}


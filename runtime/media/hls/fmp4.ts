import type { AudioConfig, VideoConfig } from './codec-config.ts';

/*
 * A small CMAF/fragmented-MP4 writer (ISO 14496-12): one init segment (ftyp + moov with mvex) per
 * codec configuration, then one moof+mdat fragment per LL-HLS part. Why our own rather than an npm
 * muxer: see runtime/media/hls/README.md ("Why this muxer").
 *
 * Track 1 is video (timescale 90 kHz), track 2 audio (timescale = the AAC sampling rate), whichever
 * of them the stream has. A fragment is written into one buffer sized up front: sample tables are
 * typed arrays owned by the caller, sample payloads are copied once, from the publisher's packets.
 */

export const VIDEO_TIMESCALE = 90_000;
export const VIDEO_TRACK_ID = 1;
export const AUDIO_TRACK_ID = 2;

/** Samples of one track in one fragment, held by the caller in reusable arrays. */
export interface TrackRun {
  trackId: number;
  count: number;
  /** Decode time of the first sample, in the track's timescale. */
  baseDts: number;
  durations: Uint32Array;
  sizes: Uint32Array;
  /** Where each sample starts in its `data` buffer (the publisher's packet payload). */
  offsets: Uint32Array;
  /** Video only: composition offsets (timescale units, signed) and keyframe flags. */
  cts?: Int32Array;
  keyframes?: Uint8Array;
  data: Buffer[];
}

class BoxWriter {
  readonly buf: Buffer;
  pos = 0;
  /** `filled`: every byte will be written (a fragment), so the zero-fill can be skipped. */
  constructor(size: number, filled = false) {
    this.buf = filled ? Buffer.allocUnsafeSlow(size) : Buffer.alloc(size);
  }
  u8(v: number) {
    this.buf[this.pos++] = v;
  }
  u16(v: number) {
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u24(v: number) {
    this.buf.writeUIntBE(v, this.pos, 3);
    this.pos += 3;
  }
  u32(v: number) {
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  i32(v: number) {
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }
  u64(v: number) {
    this.buf.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(v))), this.pos);
    this.pos += 8;
  }
  bytes(b: Buffer) {
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  zeros(n: number) {
    this.pos += n; // Buffer.alloc zero-filled it (init segments only)
  }
  str(s: string) {
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }
  /** A box: size placeholder, type, then the body; the size is patched when the body is written. */
  box(type: string, body: () => void, fullBox?: { version: number; flags: number }) {
    const start = this.pos;
    this.pos += 4;
    this.str(type);
    if (fullBox) {
      this.u8(fullBox.version);
      this.u24(fullBox.flags);
    }
    body();
    this.buf.writeUInt32BE(this.pos - start, start);
  }
}

const MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];

/** ftyp + moov for the given tracks (at least one). */
export function initSegment(video: VideoConfig | null, audio: AudioConfig | null): Buffer {
  const w = new BoxWriter(2048 + (video?.record.length ?? 0) + (audio?.asc.length ?? 0));
  w.box('ftyp', () => {
    w.str('iso6');
    w.u32(0);
    for (const brand of ['iso6', 'cmfc', 'isom', 'mp41', ...(video ? [video.kind] : [])]) w.str(brand);
  });
  w.box('moov', () => {
    w.box('mvhd', () => {
      w.u32(0);
      w.u32(0);
      w.u32(1000);
      w.u32(0);
      w.u32(0x00010000);
      w.u16(0x0100);
      w.zeros(10);
      for (const m of MATRIX) w.u32(m);
      w.zeros(24);
      w.u32(AUDIO_TRACK_ID + 1);
    }, { version: 0, flags: 0 });
    if (video) videoTrak(w, video);
    if (audio) audioTrak(w, audio);
    w.box('mvex', () => {
      for (const id of [video ? VIDEO_TRACK_ID : 0, audio ? AUDIO_TRACK_ID : 0]) {
        if (!id) continue;
        w.box('trex', () => {
          w.u32(id);
          w.u32(1);
          w.u32(0);
          w.u32(0);
          w.u32(0);
        }, { version: 0, flags: 0 });
      }
    });
  });
  return w.buf.subarray(0, w.pos);
}

function trak(w: BoxWriter, id: number, timescale: number, handler: 'vide' | 'soun', size: { width: number; height: number }, header: () => void, entry: () => void): void {
  w.box('trak', () => {
    w.box('tkhd', () => {
      w.u32(0);
      w.u32(0);
      w.u32(id);
      w.u32(0);
      w.u32(0);
      w.zeros(8);
      w.u16(0);
      w.u16(0);
      w.u16(handler === 'soun' ? 0x0100 : 0);
      w.u16(0);
      for (const m of MATRIX) w.u32(m);
      w.u32(size.width * 65536);
      w.u32(size.height * 65536);
    }, { version: 0, flags: 3 });
    w.box('mdia', () => {
      w.box('mdhd', () => {
        w.u32(0);
        w.u32(0);
        w.u32(timescale);
        w.u32(0);
        w.u16(0x55c4); // 'und'
        w.u16(0);
      }, { version: 0, flags: 0 });
      w.box('hdlr', () => {
        w.u32(0);
        w.str(handler);
        w.zeros(12);
        w.str(handler === 'vide' ? 'VideoHandler\0' : 'SoundHandler\0');
      }, { version: 0, flags: 0 });
      w.box('minf', () => {
        header();
        w.box('dinf', () => w.box('dref', () => {
          w.u32(1);
          w.box('url ', () => undefined, { version: 0, flags: 1 });
        }, { version: 0, flags: 0 }));
        w.box('stbl', () => {
          w.box('stsd', () => {
            w.u32(1);
            entry();
          }, { version: 0, flags: 0 });
          for (const type of ['stts', 'stsc', 'stco']) w.box(type, () => w.u32(0), { version: 0, flags: 0 });
          w.box('stsz', () => {
            w.u32(0);
            w.u32(0);
          }, { version: 0, flags: 0 });
        });
      });
    });
  });
}

function videoTrak(w: BoxWriter, video: VideoConfig): void {
  trak(w, VIDEO_TRACK_ID, VIDEO_TIMESCALE, 'vide', video, () => w.box('vmhd', () => w.zeros(8), { version: 0, flags: 1 }), () => {
    w.box(video.kind, () => {
      w.zeros(6);
      w.u16(1); // data_reference_index
      w.zeros(16);
      w.u16(video.width);
      w.u16(video.height);
      w.u32(0x00480000);
      w.u32(0x00480000);
      w.u32(0);
      w.u16(1); // frame_count
      w.zeros(32); // compressorname
      w.u16(0x0018);
      w.u16(0xffff);
      w.box(video.kind === 'avc1' ? 'avcC' : 'hvcC', () => w.bytes(video.record));
    });
  });
}

function audioTrak(w: BoxWriter, audio: AudioConfig): void {
  trak(w, AUDIO_TRACK_ID, audio.sampleRate, 'soun', { width: 0, height: 0 }, () => w.box('smhd', () => w.u32(0), { version: 0, flags: 0 }), () => {
    w.box('mp4a', () => {
      w.zeros(6);
      w.u16(1);
      w.zeros(8);
      w.u16(audio.channels);
      w.u16(16);
      w.u32(0);
      w.u32((audio.sampleRate & 0xffff) * 65536);
      w.box('esds', () => {
        const asc = audio.asc.length;
        // ES_Descriptor(3) { ES_ID, flags, DecoderConfigDescriptor(4) { AAC, audio stream, DecoderSpecificInfo(5) }, SLConfig(6) }
        w.u8(3);
        w.u8(23 + asc);
        w.u16(0);
        w.u8(0);
        w.u8(4);
        w.u8(15 + asc);
        w.u8(0x40);
        w.u8(0x15);
        w.u24(0);
        w.u32(0);
        w.u32(0);
        w.u8(5);
        w.u8(asc);
        w.bytes(audio.asc);
        w.u8(6);
        w.u8(1);
        w.u8(2);
      }, { version: 0, flags: 0 });
    });
  });
}

const KEY_FLAGS = 0x02000000; // sample_depends_on = 2 (an I picture)
const NON_KEY_FLAGS = 0x01010000; // depends on others, non-sync
const TRUN_DATA_OFFSET = 0x1;
const TRUN_DURATION = 0x100;
const TRUN_SIZE = 0x200;
const TRUN_FLAGS = 0x400;
const TRUN_CTS = 0x800;

/** moof + mdat of one fragment (an LL-HLS part) with the given runs (empty runs are left out). */
export function mediaFragment(sequence: number, runs: TrackRun[]): Buffer {
  const present = runs.filter((r) => r.count > 0);
  let moofSize = 8 + 16;
  let dataSize = 0;
  for (const run of present) {
    moofSize += 8 + 16 + 20 + 20 + run.count * (run.cts ? 16 : 8);
    for (let i = 0; i < run.count; i++) dataSize += run.sizes[i]!;
  }
  const w = new BoxWriter(moofSize + 8 + dataSize, true);
  let dataOffset = moofSize + 8;
  w.box('moof', () => {
    w.box('mfhd', () => w.u32(sequence), { version: 0, flags: 0 });
    for (const run of present) {
      w.box('traf', () => {
        w.box('tfhd', () => w.u32(run.trackId), { version: 0, flags: 0x020000 }); // default-base-is-moof
        w.box('tfdt', () => w.u64(run.baseDts), { version: 1, flags: 0 });
        const video = run.cts !== undefined;
        w.box('trun', () => {
          w.u32(run.count);
          w.i32(dataOffset);
          for (let i = 0; i < run.count; i++) {
            w.u32(run.durations[i]!);
            w.u32(run.sizes[i]!);
            if (video) {
              w.u32(run.keyframes![i] ? KEY_FLAGS : NON_KEY_FLAGS);
              w.i32(run.cts![i]!);
            }
            dataOffset += run.sizes[i]!;
          }
        }, { version: 1, flags: TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | (video ? TRUN_FLAGS | TRUN_CTS : 0) });
      });
    }
  });
  w.u32(8 + dataSize);
  w.str('mdat');
  for (const run of present) {
    for (let i = 0; i < run.count; i++) {
      run.data[i]!.copy(w.buf, w.pos, run.offsets[i]!);
      w.pos += run.sizes[i]!;
    }
  }
  return w.buf;
}

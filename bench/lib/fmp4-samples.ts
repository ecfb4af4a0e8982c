/** Decode times (ms) of the video samples (track 1, 90 kHz) of a moof+mdat fragment: enough for the bench. */
export function videoSampleTimesMs(fragment: Buffer): number[] {
  const times: number[] = [];
  const boxes = (from: number, to: number, visit: (type: string, start: number, end: number) => void) => {
    for (let at = from; at + 8 <= to;) {
      const size = fragment.readUInt32BE(at);
      if (size < 8) return;
      visit(fragment.toString('latin1', at + 4, at + 8), at, Math.min(at + size, to));
      at += size;
    }
  };
  boxes(0, fragment.length, (type, start, end) => {
    if (type !== 'moof') return;
    boxes(start + 8, end, (child, trafStart, trafEnd) => {
      if (child !== 'traf') return;
      let track = 0;
      let base = 0;
      const durations: number[] = [];
      boxes(trafStart + 8, trafEnd, (box, at) => {
        if (box === 'tfhd') track = fragment.readUInt32BE(at + 12);
        else if (box === 'tfdt') base = fragment[at + 8] === 1 ? Number(fragment.readBigUInt64BE(at + 12)) : fragment.readUInt32BE(at + 12);
        else if (box === 'trun') {
          const flags = fragment.readUIntBE(at + 9, 3);
          const count = fragment.readUInt32BE(at + 12);
          let p = at + 16 + (flags & 1 ? 4 : 0) + (flags & 4 ? 4 : 0);
          const fieldBytes = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
          for (let i = 0; i < count; i++, p += fieldBytes) durations.push(flags & 0x100 ? fragment.readUInt32BE(p) : 0);
        }
      });
      if (track !== 1) return;
      let dts = base;
      for (const d of durations) {
        times.push(Math.round(dts / 90));
        dts += d;
      }
    });
  });
  return times;
}

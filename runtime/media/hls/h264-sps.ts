/**
 * Reads the coded picture size from an H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1): enough
 * of the syntax to reach pic_width/height and the frame cropping. Null when the SPS is truncated or
 * uses something this reader does not follow; the caller then takes onMetaData's width/height.
 */
export function spsDimensions(nal: Buffer): { width: number; height: number } | null {
  const rbsp = unescape(nal.subarray(1)); // skip the NAL header
  let bit = 0;
  const total = rbsp.length * 8;
  const u = (bits: number): number => {
    let value = 0;
    for (let i = 0; i < bits; i++, bit++) {
      if (bit >= total) throw new RangeError('sps truncated');
      value = value * 2 + ((rbsp[bit >> 3]! >> (7 - (bit & 7))) & 1);
    }
    return value;
  };
  const ue = (): number => {
    let zeros = 0;
    while (u(1) === 0) if (++zeros > 31) throw new RangeError('bad exp-golomb');
    return zeros === 0 ? 0 : 2 ** zeros - 1 + u(zeros);
  };
  const se = (): number => {
    const k = ue();
    return k % 2 ? (k + 1) / 2 : -(k / 2);
  };
  try {
    const profile = u(8);
    u(16); // constraint flags, level
    ue(); // seq_parameter_set_id
    let chromaFormat = 1;
    let separateColourPlanes = 0;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chromaFormat = ue();
      if (chromaFormat === 3) separateColourPlanes = u(1);
      ue(); // bit_depth_luma
      ue(); // bit_depth_chroma
      u(1); // qpprime_y_zero_transform_bypass
      if (u(1)) {
        for (let i = 0; i < (chromaFormat === 3 ? 12 : 8); i++) {
          if (!u(1)) continue;
          // scaling_list: skip its delta-coded entries
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64) && next !== 0; j++) {
            next = (last + se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    ue(); // log2_max_frame_num
    const pocType = ue();
    if (pocType === 0) ue();
    else if (pocType === 1) {
      u(1);
      se();
      se();
      const cycle = ue();
      for (let i = 0; i < cycle; i++) se();
    }
    ue(); // max_num_ref_frames
    u(1); // gaps_in_frame_num_allowed
    const widthMbs = ue() + 1;
    const heightMapUnits = ue() + 1;
    const frameMbsOnly = u(1);
    if (!frameMbsOnly) u(1); // mb_adaptive_frame_field
    u(1); // direct_8x8_inference
    let crop = [0, 0, 0, 0];
    if (u(1)) crop = [ue(), ue(), ue(), ue()];
    const chromaArrayType = separateColourPlanes ? 0 : chromaFormat;
    const cropX = chromaArrayType === 0 ? 1 : chromaFormat === 3 ? 1 : 2;
    const cropY = (chromaArrayType === 0 ? 1 : chromaFormat === 1 ? 2 : 1) * (2 - frameMbsOnly);
    const width = widthMbs * 16 - cropX * (crop[0]! + crop[1]!);
    const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (crop[2]! + crop[3]!);
    return width > 0 && height > 0 ? { width, height } : null;
  } catch {
    return null; // truncated or odd SPS: the caller falls back to metadata
  }
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00). */
function unescape(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  let n = 0;
  let zeros = 0;
  for (const byte of data) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = byte;
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

/**
 * How long and how big a recording may grow, the FMS way (Application.xml `Recording`, AMS 5 SSAS
 * reference for Stream.record): MaxDuration (s) / MaxSize (KB) limit recordings clients start with
 * publish("record"/"append"); MaxDurationCap / MaxSizeCap bound what a script's
 * Stream.record(mode, maxDuration, maxSize) may ask for. -1 means no limit everywhere.
 */
import { UNLIMITED_RECORDING, type RecordingLimits } from '../media/recorder.ts';

export interface RecordingSettings {
  maxDurationSec: number;
  maxSizeKb: number;
  maxDurationCapSec: number;
  maxSizeCapKb: number;
}

export const NO_RECORDING_SETTINGS: RecordingSettings = { maxDurationSec: -1, maxSizeKb: -1, maxDurationCapSec: -1, maxSizeCapKb: -1 };

/** `value` never above `cap`; -1 (none) on either side leaves the other. */
function capped(value: number, cap: number): number {
  if (cap < 0) return value;
  return value < 0 ? cap : Math.min(value, cap);
}

function toLimits(durationSec: number, sizeKb: number): RecordingLimits {
  if (durationSec < 0 && sizeKb < 0) return UNLIMITED_RECORDING;
  return { maxDurationMs: durationSec < 0 ? -1 : durationSec * 1000, maxBytes: sizeKb < 0 ? -1 : sizeKb * 1024 };
}

/** A client's publish "record" / "append": MaxDuration and MaxSize, within their caps. */
export function publishRecordingLimits(settings: RecordingSettings): RecordingLimits {
  return toLimits(capped(settings.maxDurationSec, settings.maxDurationCapSec), capped(settings.maxSizeKb, settings.maxSizeCapKb));
}

/**
 * Stream.record(mode, maxDuration, maxSize): omitted or -1 → the cap; 0 or -2 → Application.xml's
 * MaxDuration / MaxSize; a positive value → that, within the cap.
 */
export function scriptRecordingLimits(settings: RecordingSettings, maxDurationSec?: number, maxSizeKb?: number): RecordingLimits {
  const pick = (asked: number | undefined, max: number, cap: number): number => {
    if (asked === 0 || asked === -2) return capped(max, cap);
    if (asked === undefined || !(asked > 0)) return cap;
    return capped(asked, cap);
  };
  return toLimits(pick(maxDurationSec, settings.maxDurationSec, settings.maxDurationCapSec), pick(maxSizeKb, settings.maxSizeKb, settings.maxSizeCapKb));
}

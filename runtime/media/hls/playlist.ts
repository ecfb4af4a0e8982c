import type { HlsWindow } from './hls-window.ts';

/*
 * The media playlist of a live window (RFC 8216 + the LL-HLS tags of RFC 8216bis, protocol version 9
 * when parts are listed, 6 otherwise). Object names carry the window's epoch, so a CDN never serves an
 * object of an earlier packaging of the same stream name.
 */

export const initName = (epoch: string, id: number): string => `${epoch}-init-${id}.mp4`;
export const segmentName = (epoch: string, msn: number): string => `${epoch}-${msn}.m4s`;
export const partName = (epoch: string, id: number): string => `${epoch}-p${id}.m4s`;

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

export function renderPlaylist(window: HlsWindow): string {
  const { settings, epoch } = window;
  const td = window.targetDurationSec;
  const ll = settings.lowLatency;
  const listed = window.listed();
  const open = window.ended ? null : window.open;
  const shown = open && open.parts.length > 0 ? [...listed, open] : listed;
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${ll ? 9 : 6}`, `#EXT-X-TARGETDURATION:${td}`];
  const partTarget = settings.partTargetMs / 1000;
  lines.push(ll ? `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(3 * partTarget).toFixed(3)},HOLD-BACK=${3 * td}` : `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=${3 * td}`);
  if (ll) lines.push(`#EXT-X-PART-INF:PART-TARGET=${partTarget.toFixed(3)}`);
  const first = shown[0];
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${first?.msn ?? window.nextMsn}`);
  // The first listed segment carries no EXT-X-DISCONTINUITY, so the sequence number starts at its own.
  if (first && first.dseq > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${first.dseq}`);
  // Parts are listed for the segments within three target durations of the end (RFC 8216bis 6.2.2).
  let fromEndMs = 0;
  const partsFrom = new Set<number>();
  for (let i = shown.length - 1; i >= 0 && ll; i--) {
    if (fromEndMs > 3 * td * 1000) break;
    partsFrom.add(shown[i]!.msn);
    fromEndMs += shown[i]!.durationMs;
  }
  let initId = -1;
  for (const segment of shown) {
    if (segment.discontinuity && segment !== first) lines.push('#EXT-X-DISCONTINUITY');
    if (segment.initId !== initId) {
      lines.push(`#EXT-X-MAP:URI="${initName(epoch, segment.initId)}"`);
      initId = segment.initId;
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(segment.pdtMs).toISOString()}`);
    if (partsFrom.has(segment.msn)) {
      for (const part of segment.parts) {
        lines.push(`#EXT-X-PART:DURATION=${seconds(part.durationMs)},URI="${partName(epoch, part.id)}"${part.independent ? ',INDEPENDENT=YES' : ''}`);
      }
    }
    if (segment.complete) lines.push(`#EXTINF:${seconds(segment.durationMs)},`, segmentName(epoch, segment.msn));
  }
  if (window.ended) lines.push('#EXT-X-ENDLIST');
  else if (ll && shown.length > 0) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${partName(epoch, window.nextPartId)}"`);
  return `${lines.join('\n')}\n`;
}

import { MessageType } from '../rtmp/message.ts';
import { isAudioConfig, isVideoConfig, isVideoKeyframe, type MediaPacket } from './media-packet.ts';

/**
 * Holds video back after a cut until the next keyframe, because a decoder cannot start in the
 * middle of a GOP: a player that unpauses or turns video back on, a relay that gets a new
 * destination or source. Codec configs and data always pass. (The bounded queues' drop-until-
 * keyframe is a different rule — drops under back-pressure — and lives in subscriber-queue.ts.)
 */
export class KeyframeGate {
  #waiting: boolean;

  constructor(waiting = false) {
    this.#waiting = waiting;
  }

  get waiting(): boolean {
    return this.#waiting;
  }

  /** A cut: from now on video waits for a keyframe. */
  cut(): void {
    this.#waiting = true;
  }

  /**
   * Whether `packet` may go on; a keyframe opens the gate. `holdAudio`: audio waits too (a relay's
   * destination should start with picture and sound together when the stream has video).
   */
  admit(packet: MediaPacket, holdAudio = false): boolean {
    if (!this.#waiting) return true;
    if (packet.type === MessageType.Video) {
      if (isVideoConfig(packet)) return true;
      if (!isVideoKeyframe(packet)) return false;
      this.#waiting = false;
      return true;
    }
    return !(holdAudio && packet.type === MessageType.Audio && !isAudioConfig(packet));
  }
}

/** Parent side of the load generator child (players.ts): spawn it and talk to it over IPC. */
import { IpcChild } from './ipc-child.ts';

export type PlayerRequest =
  /** `ca`: a PEM CA the players trust for rtmps/rtmpts (a bench's own test CA). */
  | { cmd: 'grow'; url: string; stream: string; count: number; ca?: string; mode?: 'decode' | 'count' }
  | { cmd: 'reset' }
  | { cmd: 'report' }
  | { cmd: 'stall'; url: string; stream: string };

export type PlayerReply =
  | { type: 'grown'; connected: number; failed: number }
  | { type: 'reset' }
  | { type: 'report'; frames: number[]; bytes: number[]; elapsedMs: number }
  | { type: 'stalled'; localPort: number }
  | { type: 'error'; message: string };

export class LoadGenerator extends IpcChild<PlayerRequest, PlayerReply> {
  constructor() {
    super('bench/lib/players.ts', 'load generator');
  }
}

/** What the in-process fuzz worker and its supervisor share: shared-memory layout and messages. */

/** An input that takes longer than this is a hang (the brief's threshold). */
export const HANG_MS = 1000;

/** Int32 slots at the start of the SharedArrayBuffer; the current input's bytes follow them. */
export const SharedLayout = {
  /** Inputs started, all targets (the watchdog's progress signal). */
  total: 0,
  /** Index of the target running the current input. */
  target: 1,
  inputLength: 2,
  /** Per-target counters: tried at triedBase + t, ProtocolError rejections at rejectedBase + t. */
  triedBase: 4,
  rejectedBase: 12,
  headerInts: 20,
} as const;

export interface WorkerInit {
  seed: number;
  /** Restart number: a worker restarted after a hang continues on a fresh PRNG stream. */
  stream: number;
  deadline: number;
  maxInputs: number;
  shared: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'finding'; kind: 'crash' | 'masked' | 'hang'; target: string; first: boolean; signature: string; input: string; error: string; ms: number }
  | { type: 'heap'; heapPeak: number }
  | { type: 'done'; heapPeak: number };

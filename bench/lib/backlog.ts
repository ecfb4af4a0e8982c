/** IPC between the benchmark and a server child: how much a given player connection has queued. */
export interface BacklogRequest {
  type: 'backlog';
  /** The player's local port (the server sees it as the socket's remote port). */
  port: number;
}

export interface BacklogReply {
  type: 'backlog';
  found: boolean;
  /** Bytes the server process holds for this player that the kernel has not taken. */
  userBytes: number;
  /** Media bytes the server chose to drop for this player (our SubscriberQueue; 0 for servers without one). */
  droppedBytes: number;
}

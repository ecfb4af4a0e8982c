/**
 * The chunked pieces of one message (header buffers and views of its payload: encodeShared),
 * shared by every connection that sends it with the same chunk stream id, message stream id and
 * chunk size (RtmpConnection.sendShared: live fan-out and shared-object updates encode once, not
 * once per receiver). Nearly always there is one such combination (every player of a stream got the
 * same createStream id and our chunk size), so the first is kept in two fields; only further ones
 * pay for a Map. One of these exists per media packet that reaches a player, so it is kept small.
 */
export class SharedWire {
  #key: string | null = null;
  #pieces: readonly Buffer[] | null = null;
  #more: Map<string, readonly Buffer[]> | null = null;

  get(key: string): readonly Buffer[] | undefined {
    if (key === this.#key) return this.#pieces!;
    return this.#more?.get(key);
  }

  set(key: string, pieces: readonly Buffer[]): void {
    if (this.#key === null || this.#key === key) {
      this.#key = key;
      this.#pieces = pieces;
      return;
    }
    (this.#more ??= new Map()).set(key, pieces);
  }
}

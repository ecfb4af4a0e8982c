import { ErrorCode, ProtocolError } from '../errors.ts';
import type { RtmpMessage } from './message.ts';

const SUB_HEADER_BYTES = 11;
const BACK_POINTER_BYTES = 4;

/**
 * Splits an aggregate message (type 22) into its sub-messages. Each sub-message carries an FLV-style
 * tag header; its timestamp is rebased so the first sub-message lands on the aggregate's timestamp.
 */
export function splitAggregate(message: RtmpMessage): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const data = message.payload;
  let offset = 0;
  let firstTimestamp: number | null = null;
  while (offset < data.length) {
    if (data.length - offset < SUB_HEADER_BYTES) throw invalid('truncated sub-message header');
    const type = data[offset]!;
    const size = data.readUIntBE(offset + 1, 3);
    const timestamp = (data.readUIntBE(offset + 4, 3) | (data[offset + 7]! << 24)) >>> 0;
    const end = offset + SUB_HEADER_BYTES + size;
    if (end > data.length) throw invalid('sub-message longer than aggregate');
    if (type === 22) throw invalid('nested aggregate');
    firstTimestamp ??= timestamp;
    out.push({
      type,
      streamId: message.streamId,
      timestamp: (message.timestamp + (timestamp - firstTimestamp)) >>> 0,
      payload: data.subarray(offset + SUB_HEADER_BYTES, end),
    });
    offset = Math.min(data.length, end + BACK_POINTER_BYTES);
  }
  return out;
}

function invalid(what: string): ProtocolError {
  return new ProtocolError(ErrorCode.ChunkInvalid, `aggregate message: ${what}`);
}

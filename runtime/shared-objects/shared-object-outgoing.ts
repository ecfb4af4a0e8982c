import { encodeSharedObjectMessage, type SharedObjectMessageModel } from '../rtmp/shared-object-codec.ts';
import { SharedWire } from '../rtmp/shared-wire.ts';

/**
 * One shared-object message on its way to many subscribers. A change fanned out to 100 clients is
 * AMF-encoded once per encoding (AMF0 type 19 / AMF3 type 16) and chunked once per chunk size;
 * every connection then writes the same bytes (RtmpConnection.sendShared, as live media fan-out
 * does). Encoding on demand means a message nobody on AMF3 receives is never encoded for AMF3.
 */
export class OutgoingSoMessage {
  readonly model: SharedObjectMessageModel;
  readonly #payloads: [Buffer | null, Buffer | null] = [null, null];
  readonly #wires: [SharedWire | null, SharedWire | null] = [null, null];

  constructor(model: SharedObjectMessageModel) {
    this.model = model;
  }

  /** The message body for RTMP type 16 (amf3) or 19. Throws a ProtocolError when a value cannot be encoded. */
  payload(amf3: boolean): Buffer {
    const i = amf3 ? 1 : 0;
    return (this.#payloads[i] ??= encodeSharedObjectMessage(this.model, amf3));
  }

  /** The chunked bytes of that body, per chunk stream and chunk size (filled by sendShared). */
  wire(amf3: boolean): SharedWire {
    const i = amf3 ? 1 : 0;
    return (this.#wires[i] ??= new SharedWire());
  }
}

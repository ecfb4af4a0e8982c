/**
 * Routing of RTMPT (RTMP tunnelled over HTTP) requests, FMS's protocol:
 *
 *   POST /fcs/ident2                 answered 404, as FMS does (Flash Player asks before /open)
 *   POST /open/1                     a new session: the body is one byte, the answer `<id>\n`
 *   POST /send/<id>/<seq>            client→server RTMP bytes; the answer is one polling-interval
 *   POST /idle/<id>/<seq>            byte followed by whatever server→client bytes are waiting
 *   POST /close/<id>/<seq>           ends the session; answered with one 0 byte
 *
 * Pure and linear in the length of the path (a fuzz target): no regex over client data.
 */

export type RtmptRequest =
  | { kind: 'ident' }
  | { kind: 'open' }
  | { kind: 'send' | 'idle' | 'close'; id: string; seq: number }
  /** An RTMPT path that does not parse: answered 400. */
  | { kind: 'invalid'; reason: string }
  /** Not an RTMPT path: another route's business. */
  | null;

/** Session ids are ours (32 hex digits); anything longer is not worth looking up. */
const MAX_ID_CHARS = 64;
/** seq is a decimal request counter; 15 digits stay exact in a double. */
const MAX_SEQ_DIGITS = 15;

const COMMANDS = new Set(['send', 'idle', 'close']);

/** Parses the request target of a POST (path, query ignored). */
export function parseRtmptTarget(target: string): RtmptRequest {
  const query = target.indexOf('?');
  const path = query < 0 ? target : target.slice(0, query);
  if (path === '/fcs/ident2') return { kind: 'ident' };
  if (path === '/open/1') return { kind: 'open' };
  const first = path.indexOf('/', 1);
  if (path[0] !== '/' || first < 0) return null;
  const command = path.slice(1, first);
  if (command === 'open') return { kind: 'invalid', reason: 'open takes /open/1 only' };
  if (!COMMANDS.has(command)) return null;
  const second = path.indexOf('/', first + 1);
  if (second < 0) return { kind: 'invalid', reason: `${command} without a sequence number` };
  const id = path.slice(first + 1, second);
  const seqText = path.slice(second + 1);
  if (id.length === 0 || id.length > MAX_ID_CHARS) return { kind: 'invalid', reason: 'bad session id' };
  if (seqText.length === 0 || seqText.length > MAX_SEQ_DIGITS) return { kind: 'invalid', reason: 'bad sequence number' };
  for (let i = 0; i < seqText.length; i++) {
    const c = seqText.charCodeAt(i);
    if (c < 48 || c > 57) return { kind: 'invalid', reason: 'bad sequence number' };
  }
  return { kind: command as 'send' | 'idle' | 'close', id, seq: Number(seqText) };
}

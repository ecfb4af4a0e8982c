/**
 * Credentials never reach the log: `scheme://user:pass@host` loses its user info and the values of
 * password-like query parameters become `***`.
 *
 * Hand-written scanners instead of the two regular expressions this replaces: the user-info pattern
 * (`[a-z][a-z0-9+.-]*:\/\/…`) is tried at every letter of a long run of letters and digits and
 * rescans the run each time, so a 100 KB stream name cost 10 s of the event loop. Each scan below
 * moves forward only (the backward look at a scheme stops at its first letter and never crosses a
 * `:`), so the work is linear in the text, with a fast exit when there is no `://`, `?` or `&`.
 */

const SECRET_KEYS = ['pass', 'password', 'pwd', 'token', 'secret', 'auth', 'key'] as const;

const AT = 0x40;
const SLASH = 0x2f;
const QUESTION = 0x3f;
const AMPERSAND = 0x26;
const EQUALS = 0x3d;

/** The characters of JavaScript's `\s` (what the replaced expressions used). */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/** `[a-z0-9+.-]`, case-insensitive: the characters of a URI scheme. */
function isSchemeChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2e || c === 0x2d;
}

/**
 * rtmp://user:pass@host/app → rtmp://host/app; `?password=abc&x=1` → `?password=***&x=1`.
 * `cut`: the text is the head of a longer one, so user info that runs into its end (no `@` seen
 * yet) is dropped too — the `@` may lie beyond the cut.
 */
export function stripCredentials(text: string, cut = false): string {
  const withoutUserInfo = text.includes('://') ? stripUserInfo(text, cut) : text;
  return withoutUserInfo.includes('?') || withoutUserInfo.includes('&') ? maskSecrets(withoutUserInfo) : withoutUserInfo;
}

function stripUserInfo(text: string, cut: boolean): string {
  let out = '';
  let kept = 0; // text[kept..] not yet copied to out
  let at = text.indexOf('://');
  while (at >= 0) {
    const hostStart = at + 3;
    let next = text.indexOf('://', hostStart);
    if (hasScheme(text, at)) {
      let j = hostStart;
      while (j < text.length) {
        const c = text.charCodeAt(j);
        if (c === AT || c === SLASH || isSpace(c)) break;
        j++;
      }
      const userInfoEnd = j < text.length && text.charCodeAt(j) === AT ? j + 1 : cut && j === text.length ? j : -1;
      if (userInfoEnd > 0) {
        out += text.slice(kept, hostStart);
        kept = userInfoEnd;
        if (next >= 0 && next < userInfoEnd) next = text.indexOf('://', userInfoEnd);
      }
    }
    at = next;
  }
  return kept === 0 ? text : out + text.slice(kept);
}

/** A scheme ends at `colon`: the run of scheme characters before it holds a letter (where it may start). */
function hasScheme(text: string, colon: number): boolean {
  for (let i = colon - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (isLetter(c)) return true;
    if (!isSchemeChar(c)) return false;
  }
  return false;
}

function maskSecrets(text: string): string {
  let out = '';
  let kept = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== QUESTION && c !== AMPERSAND) continue;
    const valueStart = secretValueStart(text, i + 1);
    if (valueStart < 0) continue;
    let end = valueStart;
    while (end < text.length) {
      const v = text.charCodeAt(end);
      if (v === AMPERSAND || isSpace(v)) break;
      end++;
    }
    out += `${text.slice(kept, valueStart)}***`;
    kept = end;
    i = end - 1; // an `&` ending this value may start the next parameter
  }
  return kept === 0 ? text : out + text.slice(kept);
}

/** Index after `key=` when a password-like key starts at `from`, else -1. */
function secretValueStart(text: string, from: number): number {
  for (const key of SECRET_KEYS) {
    const equals = from + key.length;
    if (equals < text.length && text.charCodeAt(equals) === EQUALS && text.slice(from, equals).toLowerCase() === key) return equals + 1;
  }
  return -1;
}

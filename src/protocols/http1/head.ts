/**
 * HTTP/1.x start line and header block parsing (RFC 9112 §2-5), on a complete head held in one Buffer.
 * Header values are decoded as latin1 so every byte survives; obs-fold continuation lines are joined with a
 * space. Errors are returned as strings, never thrown.
 */
import type { OwnHeaderList } from '../types.js';

export interface Http1Head {
  kind: 'request' | 'response';
  method?: string;
  target?: string;
  status?: number;
  reason?: string;
  version: string;
  headers: OwnHeaderList;
}

/** Methods accepted at the start of a request (RFC 9110 plus WebDAV and a few common extensions). */
export const METHODS: ReadonlySet<string> = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH',
  'MKCALENDAR', 'ACL', 'BIND', 'UNBIND', 'REBIND', 'MERGE', 'CHECKOUT', 'CHECKIN', 'UNCHECKOUT',
  'MKWORKSPACE', 'MKACTIVITY', 'UPDATE', 'LABEL', 'BASELINE-CONTROL', 'VERSION-CONTROL', 'PURGE',
  'LINK', 'UNLINK', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'M-SEARCH', 'QUERY',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ ]+) (HTTP\/\d\.\d)$/;
export const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;

/**
 * The lines of a head or trailer block (ending with an empty line), as ranges of one latin1 string: lines
 * are split at LF, lose one trailing CR, and trailing empty lines are dropped. Walked in place rather than
 * split into an array of strings: with the per-line work below this made HTTP/1 head parsing ~2x cheaper
 * (`npm run bench -- pipeline`, parsed; splitLines + parseHeaderLines + the TOKEN regex were ~10% of it).
 */
class Lines {
  readonly text: string;
  /** end of the last line kept (-1: no lines) */
  private readonly end: number;
  private pos = 0;
  /** the current line: text.slice(a, b) */
  a = 0;
  b = 0;

  /** the block is buf[start, end) */
  constructor(buf: Buffer, start = 0, stop = buf.length) {
    const text = (this.text = (buf as unknown as Latin1Sliceable).latin1Slice(start, stop));
    // drop trailing empty lines ("" or "\r" before an LF, or at the very end) looking at their last one or two
    // characters: String#lastIndexOf is a runtime call in V8, and three per head were ~20% of parseHead
    let end = text.length;
    for (;;) {
      let nl: number; // the LF before the last line, -1 when it is the first line
      if (end === 0) nl = -1;
      else {
        const c = text.charCodeAt(end - 1);
        if (c === LF) nl = end - 1;
        else if (c === CR && (end === 1 || text.charCodeAt(end - 2) === LF)) nl = end - 2;
        else break; // the last line is not empty
      }
      end = nl;
      if (end < 0) break;
    }
    this.end = end;
  }

  /** Move to the next line; false when there is none. */
  next(): boolean {
    if (this.pos > this.end) return false;
    let nl = this.text.indexOf('\n', this.pos);
    if (nl < 0 || nl > this.end) nl = this.end;
    this.a = this.pos;
    this.b = nl > this.pos && this.text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    this.pos = nl + 1;
    return true;
  }

  line(): string {
    return this.text.slice(this.a, this.b);
  }
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Buffer's own latin1 decoder, without the encoding lookup and argument checks of Buffer#toString (Node has had
 * it since 0.x; the wrapper cost as much as the decoding for a head of ~150 bytes: ~0.05 µs per message in the
 * parsed pipeline bench). The caller passes a valid range.
 */
interface Latin1Sliceable {
  latin1Slice(start: number, end: number): string;
}

/** tchar (RFC 9110 §5.6.2), by char code */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/** What String.prototype.trim removes, among latin1 characters: TAB, LF, VT, FF, CR, space, NBSP. */
function isTrimmed(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/** text.slice(a, b).trim(), without the intermediate string. */
function trimmed(text: string, a: number, b: number): string {
  while (a < b && isTrimmed(text.charCodeAt(a))) a++;
  while (b > a && isTrimmed(text.charCodeAt(b - 1))) b--;
  return text.slice(a, b);
}

/** Parse the header lines from the current position of `lines` into `out`; returns an error string or undefined. */
function parseLines(lines: Lines, maxCount: number, out: OwnHeaderList): string | undefined {
  const t = lines.text;
  while (lines.next()) {
    const a = lines.a;
    const b = lines.b;
    const c0 = a < b ? t.charCodeAt(a) : NaN;
    if (c0 === 0x20 || c0 === 0x09) {
      const last = out[out.length - 1];
      if (last === undefined) return 'continuation line before any header';
      last[1] = `${last[1]} ${trimmed(t, a, b)}`;
      continue;
    }
    // the name's characters are checked while looking for the colon (one pass, no indexOf); a line where
    // that does not end on a colon after at least one tchar gets the checks below, for their error messages
    let colon = a;
    for (; colon < b; colon++) {
      const c = t.charCodeAt(colon);
      if (c >= 128 || TCHAR[c] === 0) break;
    }
    if (colon === a || colon === b || t.charCodeAt(colon) !== 0x3a) return badLine(lines);
    if (out.length >= maxCount) return `more than ${maxCount} header fields`;
    out.push([t.slice(a, colon), trimmed(t, colon + 1, b)]);
  }
  return undefined;
}

/** The error for the current line of `lines`, which is not `token ":" value`. */
function badLine(lines: Lines): string {
  const { text: t, a, b } = lines;
  let colon = t.indexOf(':', a);
  if (colon >= b) colon = -1;
  if (colon <= a) return `malformed header line ${JSON.stringify(lines.line().slice(0, 40))}`;
  return `invalid header name ${JSON.stringify(t.slice(a, colon).slice(0, 40))}`;
}

/** Parse header lines into `out`; returns an error string or undefined. */
export function parseHeaderLines(lines: string[], from: number, maxCount: number, out: OwnHeaderList): string | undefined {
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09) {
      const last = out[out.length - 1];
      if (last === undefined) return 'continuation line before any header';
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return `malformed header line ${JSON.stringify(line.slice(0, 40))}`;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name.slice(0, 40))}`;
    if (out.length >= maxCount) return `more than ${maxCount} header fields`;
    out.push([name, line.slice(colon + 1).trim()]);
  }
  return undefined;
}

/**
 * Parse a whole head (start line + headers + empty line): buf[start, end), by default all of buf (a range saves
 * the parser a Buffer view per message).
 */
export function parseHead(buf: Buffer, kind: 'request' | 'response', maxCount: number, start = 0, end = buf.length): Http1Head | string {
  if (start < 0 || end > buf.length || start > end) throw new RangeError('parseHead: range outside the buffer');
  const lines = new Lines(buf, start, end);
  if (!lines.next()) return 'empty message head';
  const headers: OwnHeaderList = [];
  let head: Http1Head | undefined;
  if (kind === 'request') {
    head = requestLine(lines.text, lines.a, lines.b, headers);
    if (!head) return `invalid request line ${JSON.stringify(lines.line().slice(0, 60))}`;
  } else {
    head = statusLine(lines.text, lines.a, lines.b, headers);
    if (!head) return `invalid status line ${JSON.stringify(lines.line().slice(0, 60))}`;
  }
  const err = parseLines(lines, maxCount, headers);
  return err ?? head;
}

/*
 * The start lines are matched by hand rather than with REQUEST_LINE / STATUS_LINE (kept above as their
 * definition): a match array and a string per capture per message were ~0.1 µs of the ~0.55 µs a head took
 * (micro-benchmark of parseHead on the heads of `npm run bench -- pipeline`, parsed). Same language, same
 * captures; the unit tests compare both on random lines.
 */

/** t[p, p + 8) is `HTTP/` digit `.` digit. */
function isVersionAt(t: string, p: number): boolean {
  return (
    t.charCodeAt(p) === 0x48 && t.charCodeAt(p + 1) === 0x54 && t.charCodeAt(p + 2) === 0x54 && t.charCodeAt(p + 3) === 0x50 &&
    t.charCodeAt(p + 4) === 0x2f && isDigit(t.charCodeAt(p + 5)) && t.charCodeAt(p + 6) === 0x2e && isDigit(t.charCodeAt(p + 7))
  );
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The version at t[p, p + 8) (checked): the usual one without a new string. */
function versionAt(t: string, p: number): string {
  return t.charCodeAt(p + 5) === 0x31 && t.charCodeAt(p + 7) === 0x31 ? 'HTTP/1.1' : t.slice(p, p + 8);
}

/** REQUEST_LINE on t[a, b): `tchar+ SP [^ ]+ SP HTTP/d.d`. */
function requestLine(t: string, a: number, b: number, headers: OwnHeaderList): Http1Head | undefined {
  let sp1 = a;
  for (; sp1 < b; sp1++) {
    const c = t.charCodeAt(sp1);
    if (c >= 128 || TCHAR[c] === 0) break;
  }
  if (sp1 === a || sp1 === b || t.charCodeAt(sp1) !== 0x20) return undefined;
  const sp2 = t.indexOf(' ', sp1 + 1);
  // the target is not empty, and the version (8 characters, no space) runs to the end of the line
  if (sp2 <= sp1 + 1 || sp2 + 9 !== b || !isVersionAt(t, sp2 + 1)) return undefined;
  const method = sp1 - a === 3 && t.charCodeAt(a) === 0x47 && t.charCodeAt(a + 1) === 0x45 && t.charCodeAt(a + 2) === 0x54 ? 'GET' : t.slice(a, sp1);
  return { kind: 'request', method, target: t.slice(sp1 + 1, sp2), version: versionAt(t, sp2 + 1), headers };
}

/** STATUS_LINE on t[a, b): `HTTP/d.d SP ddd`, then nothing or SP and a reason without CR. */
function statusLine(t: string, a: number, b: number, headers: OwnHeaderList): Http1Head | undefined {
  if (b - a < 12 || !isVersionAt(t, a) || t.charCodeAt(a + 8) !== 0x20) return undefined;
  const d0 = t.charCodeAt(a + 9);
  const d1 = t.charCodeAt(a + 10);
  const d2 = t.charCodeAt(a + 11);
  if (!isDigit(d0) || !isDigit(d1) || !isDigit(d2)) return undefined;
  let reason = '';
  if (b - a > 12) {
    // `.` matches any character but a line terminator; a line holds no LF, and U+2028/9 are not latin1
    if (t.charCodeAt(a + 12) !== 0x20) return undefined;
    const cr = t.indexOf('\r', a + 13);
    if (cr >= 0 && cr < b) return undefined;
    reason = b - a === 15 && t.charCodeAt(a + 13) === 0x4f && t.charCodeAt(a + 14) === 0x4b ? 'OK' : t.slice(a + 13, b);
  }
  return { kind: 'response', version: versionAt(t, a), status: (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30), reason, headers };
}

/** Parse a chunked trailer section (header lines then an empty line). */
export function parseTrailers(buf: Buffer, maxCount: number): OwnHeaderList | string {
  const out: OwnHeaderList = [];
  return parseLines(new Lines(buf), maxCount, out) ?? out;
}

/**
 * `k.toLowerCase() === lower` for a lower-case ASCII `lower`, without allocating (several lookups per
 * message). Exact for names of latin1 characters (HTTP/1 and HPACK names are): no latin1 character other
 * than A-Z lower-cases to ASCII.
 */
function isName(k: string, lower: string): boolean {
  if (k.length !== lower.length) return false;
  for (let i = 0; i < k.length; i++) {
    let c = k.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    else if (c > 0xff) return k.toLowerCase() === lower;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** All values of `name` (lower case), joined with ', ' (list headers), or undefined. */
export function headerList(h: OwnHeaderList, name: string): string | undefined {
  let one: string | undefined;
  let vals: string[] | undefined;
  for (let i = 0; i < h.length; i++) {
    const f = h[i]!;
    if (!isName(f[0], name)) continue;
    if (one === undefined) one = f[1];
    else (vals ??= [one]).push(f[1]);
  }
  return vals ? vals.join(', ') : one;
}

/** Does a comma-separated header contain `token` (case-insensitive)? */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  return value.split(',').some((t) => t.trim().toLowerCase() === token);
}

/**
 * Content-Length of a head: a number, undefined when absent, or an error string (invalid, or several
 * different values — a request smuggling sign).
 */
export function contentLength(h: OwnHeaderList): number | undefined | string {
  let n: number | undefined;
  // indexed, not `for (const [k, v] of h)`: the destructuring iteration showed in the parsed pipeline profile
  for (let i = 0; i < h.length; i++) {
    const k = h[i]![0];
    const v = h[i]![1];
    if (!isName(k, 'content-length')) continue;
    if (v.length > 0 && v.length <= 15 && allDigits(v)) {
      // the usual single value: what the loop below would find, without split and regex
      const x = Number(v);
      if (n !== undefined && n !== x) return 'conflicting content-length values';
      n = x;
      continue;
    }
    for (const part of v.split(',')) {
      const s = part.trim();
      if (!/^\d{1,15}$/.test(s)) return `invalid content-length ${JSON.stringify(v.slice(0, 30))}`;
      const x = Number(s);
      if (n !== undefined && n !== x) return 'conflicting content-length values';
      n = x;
    }
  }
  return n;
}

function allDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

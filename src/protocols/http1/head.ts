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
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ ]+) (HTTP\/\d\.\d)$/;
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;

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

  constructor(buf: Buffer) {
    const text = (this.text = buf.toString('latin1'));
    let end = text.length;
    for (;;) {
      const nl = end > 0 ? text.lastIndexOf('\n', end - 1) : -1;
      const len = end - (nl + 1);
      if (len !== 0 && !(len === 1 && text.charCodeAt(end - 1) === CR)) break;
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
    const { a, b } = lines;
    const c0 = a < b ? t.charCodeAt(a) : NaN;
    if (c0 === 0x20 || c0 === 0x09) {
      const last = out[out.length - 1];
      if (last === undefined) return 'continuation line before any header';
      last[1] = `${last[1]} ${trimmed(t, a, b)}`;
      continue;
    }
    let colon = t.indexOf(':', a);
    if (colon >= b) colon = -1;
    if (colon <= a) return `malformed header line ${JSON.stringify(lines.line().slice(0, 40))}`;
    for (let i = a; i < colon; i++) {
      const c = t.charCodeAt(i);
      if (c >= 128 || TCHAR[c] === 0) return `invalid header name ${JSON.stringify(t.slice(a, colon).slice(0, 40))}`;
    }
    if (out.length >= maxCount) return `more than ${maxCount} header fields`;
    out.push([t.slice(a, colon), trimmed(t, colon + 1, b)]);
  }
  return undefined;
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

/** Parse a whole head (start line + headers + empty line). */
export function parseHead(buf: Buffer, kind: 'request' | 'response', maxCount: number): Http1Head | string {
  const lines = new Lines(buf);
  if (!lines.next()) return 'empty message head';
  const first = lines.line();
  const headers: OwnHeaderList = [];
  let head: Http1Head;
  if (kind === 'request') {
    const m = REQUEST_LINE.exec(first);
    if (!m) return `invalid request line ${JSON.stringify(first.slice(0, 60))}`;
    head = { kind, method: m[1]!, target: m[2]!, version: m[3]!, headers };
  } else {
    const m = STATUS_LINE.exec(first);
    if (!m) return `invalid status line ${JSON.stringify(first.slice(0, 60))}`;
    head = { kind, version: m[1]!, status: Number(m[2]), reason: m[3] ?? '', headers };
  }
  const err = parseLines(lines, maxCount, headers);
  return err ?? head;
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
  for (const [k, v] of h) {
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

/**
 * HTTP/1.x start line and header block parsing (RFC 9112 §2-5), on a complete head held in one Buffer.
 * Header values are decoded as latin1 so every byte survives; obs-fold continuation lines are joined with a
 * space. Errors are returned as strings, never thrown.
 */
import type { HeaderList } from '../types.js';

export interface Http1Head {
  kind: 'request' | 'response';
  method?: string;
  target?: string;
  status?: number;
  reason?: string;
  version: string;
  headers: HeaderList;
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

/** Split `buf` (a head or trailer block ending with an empty line) into lines without their CR/LF. */
function splitLines(buf: Buffer): string[] {
  const text = buf.toString('latin1');
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Parse header lines into `out`; returns an error string or undefined. */
export function parseHeaderLines(lines: string[], from: number, maxCount: number, out: HeaderList): string | undefined {
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
  const lines = splitLines(buf);
  const first = lines[0];
  if (first === undefined) return 'empty message head';
  const headers: HeaderList = [];
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
  const err = parseHeaderLines(lines, 1, maxCount, headers);
  return err ?? head;
}

/** Parse a chunked trailer section (header lines then an empty line). */
export function parseTrailers(buf: Buffer, maxCount: number): HeaderList | string {
  const out: HeaderList = [];
  return parseHeaderLines(splitLines(buf), 0, maxCount, out) ?? out;
}

/** All values of `name`, joined with ', ' (list headers), or undefined. */
export function headerList(h: HeaderList, name: string): string | undefined {
  const vals: string[] = [];
  for (const [k, val] of h) if (k.length === name.length && k.toLowerCase() === name) vals.push(val);
  return vals.length === 0 ? undefined : vals.join(', ');
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
export function contentLength(h: HeaderList): number | undefined | string {
  let n: number | undefined;
  for (const [k, v] of h) {
    if (k.length !== 14 || k.toLowerCase() !== 'content-length') continue;
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

/**
 * Text form of parsed L7 records (plugged into the text encoder as `formatL7`). One block per message:
 *
 *   <time> PID:<pid> TID:<tid> Comm:<comm> UID:<uid> FD:<fd> <src> -> <dst> <protocol>[ stream <id>] <what>
 *   <start line, or HTTP/2 pseudo-headers>
 *   <headers>
 *   <empty line>
 *   <body: decoded text as is; binary as "[binary body, N bytes]" + a hex preview; everything as hex with --hex>
 *   <trailers, gRPC messages and status, and "[...]" lines for truncation, gaps, decoding and notes>
 *
 * gRPC messages are listed one by one (protobuf as hex previews, JSON codecs as text) with the status.
 * Time is local wall-clock time with milliseconds and UTC offset, `YYYY-MM-DDTHH:MM:SS.mmm±HH:MM`
 * (util/time.ts, the same as every other text record). `tsize` limits the body bytes printed, never what
 * was captured; with `tty` every control byte except tab, LF and CR is printed as \xNN.
 */
import type { ConnTuple, L7Record, Who } from '../../model/records.js';
import { flowText } from './text.js';
import { errorName } from '../../protocols/http2/frames.js';
import { grpcStatusName } from '../../protocols/http2/grpc.js';
import type { GrpcInfo, Http2ControlMessage, HttpMessage, L7Message, WebSocketMessage } from '../../protocols/types.js';
import { hexdump } from '../../util/hexdump.js';
import { formatTime } from '../../util/time.js';

export interface TextL7Options {
  /** show bodies and payloads as hex dumps */
  hex?: boolean;
  /** print at most this many body bytes per message (0 or absent = all) */
  tsize?: number;
  /** output is a terminal: escape control bytes */
  tty?: boolean;
}

/** Bytes of a binary body shown as a hex preview (without --hex). */
export const BINARY_PREVIEW = 64;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

function esc(s: string, tty: boolean | undefined): string {
  return tty ? s.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : s;
}

/** Binary: a NUL, invalid UTF-8, or more than 1/8 control bytes in the first 512 bytes. */
export function looksBinary(b: Buffer): boolean {
  const n = Math.min(b.length, 512);
  let ctl = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 0) return true;
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0x7f) ctl++;
  }
  if (ctl > (n >>> 3)) return true;
  return b.toString('utf8', 0, n).slice(0, -4).includes('\ufffd'); // last few bytes may be a cut character
}

function protoLabel(m: L7Message): string {
  switch (m.protocol) {
    case 'http1':
      return m.version;
    case 'http2':
      return m.kind === 'control' ? 'HTTP/2' : `HTTP/2 stream ${m.streamId}`;
    case 'websocket':
      return 'WebSocket';
    case 'raw':
      return 'RAW';
  }
}

function ms(ns: number): string {
  return `${msText(ns)} ms`;
}

/**
 * (ns / 1e6).toFixed(3), in integers when that is exact: ns a whole number below 1e15 and not halfway between
 * two microseconds (toFixed rounds the binary value of ns / 1e6, which is within 1e-7 of the decimal one, so
 * only exact halves can round another way). toFixed took ~0.06-0.1 µs per paired response (micro-benchmark).
 */
export function msText(ns: number): string {
  if (!Number.isInteger(ns) || ns < 0 || ns >= 1e15 || ns % 1000 === 500) return (ns / 1e6).toFixed(3);
  const us = Math.round(ns / 1000);
  const frac = us % 1000;
  return `${(us - frac) / 1000}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

function what(m: HttpMessage | Http2ControlMessage): string {
  if (m.kind === 'control') return `${m.frameType}${m.streamId ? ` stream ${m.streamId}` : ''}`;
  if (m.kind === 'request') return m.pushed ? 'request (pushed)' : 'request';
  let s = `response ${m.status ?? '?'}`;
  if (m.request) s += ` to ${m.request.method ?? '?'} ${m.request.target ?? '?'}`;
  if (m.latencyNs !== undefined) s += ` latency ${ms(m.latencyNs)}`;
  return s;
}

/** " PID:… TID:… Comm:… UID:… FD:… src -> dst " of one Who object (records treat it as read-only), fd and tuple. */
interface WhereText {
  fd: number;
  tuple: ConnTuple | undefined;
  write: string | undefined;
  read: string | undefined;
}

/**
 * The part of the header line between the time and the protocol, per Who object (probes reuse one per
 * connection while it does not change) and direction: built once per connection instead of once per message
 * (~10 string pieces; with the other changes of this commit 1.2 → 0.55 µs to format and stage a small
 * response, micro-benchmark of formatL7 + utf8Write).
 */
const whereCache = new WeakMap<Who, WhereText>();

function whereText(rec: L7Record): string {
  const w = rec.who;
  let c = whereCache.get(w);
  if (c === undefined || c.fd !== rec.fd || c.tuple !== rec.tuple) whereCache.set(w, (c = { fd: rec.fd, tuple: rec.tuple, write: undefined, read: undefined }));
  let s = c[rec.dir];
  if (s === undefined) s = c[rec.dir] = ` PID:${w.pid} TID:${w.tid} Comm:${w.comm} UID:${w.uid} FD:${rec.fd} ${flowText(rec.tuple, rec.dir)} `;
  return s;
}

/** The first line of a record's block: who, where, protocol, stream and what. */
export function l7HeaderLine(rec: L7Record): string {
  const m = rec.msg;
  const detail = m.protocol === 'websocket' ? wsSummary(m) : m.protocol === 'raw' ? `${rec.dir === 'write' ? 'WRITE' : 'READ'} ${m.payload.length} bytes` : what(m);
  const inc = 'incomplete' in m && m.incomplete ? ` [incomplete: ${m.incomplete}]` : '';
  return `${formatTime(rec.ts)}${whereText(rec)}${protoLabel(m)} ${detail}${inc}`;
}

function wsSummary(m: WebSocketMessage): string {
  const flags = [m.masked ? 'masked' : 'unmasked'];
  if (m.fragments) flags.push(`${m.fragments} fragments`);
  if (m.compressed) flags.push('compressed');
  return `${m.opcodeName} ${m.length} bytes (${flags.join(', ')})`;
}

/** Render a body or payload per the options; returns lines (no trailing newline). */
export function renderBody(b: Buffer, opts: TextL7Options, what = 'body', binary = false): string[] {
  if (b.length === 0) return [];
  const limit = opts.tsize && opts.tsize > 0 ? Math.min(opts.tsize, b.length) : b.length;
  const more = b.length - limit;
  const tail = more > 0 ? [`... ${more} more bytes not printed (--tsize ${opts.tsize})`] : [];
  if (opts.hex) return [hexdump(b, limit), ...tail];
  if (binary || looksBinary(b)) {
    const n = Math.min(limit, BINARY_PREVIEW);
    return [`[binary ${what}, ${b.length} bytes${n < b.length ? `, first ${n} shown` : ''}]`, hexdump(b, n)];
  }
  return [esc(b.toString('utf8', 0, limit), opts.tty), ...tail];
}

function headerLines(h: ReadonlyArray<readonly [string, string]>, tty: boolean | undefined): string[] {
  return h.map(([k, v]) => esc(`${k}: ${v}`, tty));
}

/**
 * `${version} ${status} ${reason}`.trimEnd(): when the reason is there and does not end with a character trimEnd
 * removes (the usual case), nothing to trim, and no flattening of the string to look at its end.
 */
function statusLine(m: HttpMessage): string {
  const r = m.reason ?? '';
  if (r.length > 0 && !trimmedAtEnd(r.charCodeAt(r.length - 1))) return `${m.version} ${m.status} ${r}`;
  return `${m.version} ${m.status} ${r}`.trimEnd();
}

/**
 * Could String.prototype.trimEnd remove this last character? Exact for characters up to U+00FF (TAB, LF, VT,
 * FF, CR, space, NBSP); anything above is answered yes, which only sends the caller to trimEnd itself.
 */
function trimmedAtEnd(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c > 0xff;
}

/**
 * text(renderBody(b, opts)) for a message body, with the usual case done directly: no --hex, no --tsize cut,
 * at most 512 bytes (then the bytes looksBinary decodes are the whole body, so they are decoded once, not twice),
 * and no arrays. Measured with the small response of `npm run bench -- pipeline` (parsed): renderBody + text
 * took ~0.2 µs of the ~1.2 µs spent formatting it.
 */
function bodyText(b: Buffer, opts: TextL7Options): string {
  const n = b.length;
  if (n === 0) return '';
  if (opts.hex || n > 512 || (opts.tsize !== undefined && opts.tsize > 0 && opts.tsize < n)) return text(renderBody(b, opts));
  // looksBinary, with the UTF-8 check skipped for ASCII (no replacement character can come out of it)
  let ctl = 0;
  let high = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 0) return text(renderBody(b, opts));
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0x7f) ctl++;
    high |= c;
  }
  if (ctl > n >>> 3) return text(renderBody(b, opts));
  const t = b.toString('utf8', 0, n);
  if (high >= 0x80) {
    // looksBinary: t.slice(0, -4).includes('\ufffd')
    const bad = t.indexOf('\ufffd');
    if (bad >= 0 && bad < t.length - 4) return text(renderBody(b, opts));
  }
  return `${esc(t, opts.tty)}\n`;
}

/** `lines`, each followed by a newline. */
function text(lines: string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** gRPC messages are protobuf unless the content-type says JSON: shown as hex previews. */
function grpcLines(g: GrpcInfo, headers: ReadonlyArray<readonly [string, string]>, opts: TextL7Options): string[] {
  const out: string[] = [];
  const json = headers.some(([k, v]) => k === 'content-type' && v.includes('json'));
  g.messages.forEach((m, i) => {
    const attrs = [`${m.length} bytes`];
    if (m.compressed) attrs.push(`compressed${g.encoding ? ` (${g.encoding})` : ''}`);
    if (m.truncated) attrs.push(`${m.truncated} bytes not kept`);
    if (m.error) attrs.push(m.error);
    out.push(`[gRPC message ${i + 1}: ${attrs.join(', ')}]`, ...renderBody(m.data, opts, 'message', !json));
  });
  if (g.dropped) out.push(`[${g.dropped} more gRPC messages not kept]`);
  if (g.status !== undefined) out.push(`[gRPC status ${g.status} ${grpcStatusName(g.status)}${g.message ? `: ${esc(g.message, opts.tty)}` : ''}]`);
  return out;
}

/**
 * An HTTP message after its header line, every line followed by a newline. Built as one string with `+=`
 * rather than arrays joined (this runs once per message: 1.6 → 1.0 µs per record with the text encoder in a
 * micro-benchmark of a small response, `npm run bench -- pipeline` parsed).
 */
function httpText(m: HttpMessage, opts: TextL7Options): string {
  const tty = opts.tty;
  let s = '';
  if (m.protocol === 'http1') {
    s += esc(m.kind === 'request' ? `${m.method} ${m.target} ${m.version}` : statusLine(m), tty) + '\n';
  }
  const h = m.headers;
  for (let i = 0; i < h.length; i++) s += esc(`${h[i]![0]}: ${h[i]![1]}`, tty) + '\n';
  s += '\n';
  s += m.grpc ? text(grpcLines(m.grpc, m.headers, opts)) : bodyText(m.body, opts);
  if (m.contentEncoding || m.bodyTruncated || m.bodyLost || m.trailers?.length || m.resetCode !== undefined || m.notes?.length) s += text(httpNotes(m, opts));
  return s;
}

/** The "[...]" lines after an HTTP body. */
function httpNotes(m: HttpMessage, opts: TextL7Options): string[] {
  const out: string[] = [];
  if (m.contentEncoding && m.decoded) out.push(`[content-encoding ${m.contentEncoding}: decoded to ${m.body.length} bytes from ${m.bodySize}]`);
  if (m.bodyTruncated) out.push(`[${m.bodyTruncated} of ${m.bodySize} body bytes not kept (size limit)]`);
  if (m.bodyLost) out.push(`[${m.bodyLost} body bytes lost in capture gaps]`);
  if (m.trailers?.length) out.push('[trailers]', ...headerLines(m.trailers, opts.tty));
  if (m.resetCode !== undefined) out.push(`[stream reset: ${errorName(m.resetCode)}]`);
  for (const n of m.notes ?? []) out.push(`[${n}]`);
  return out;
}

function controlLines(m: Http2ControlMessage): string[] {
  const parts: string[] = [];
  if (m.settings) parts.push(m.settings.length ? m.settings.map(([k, v]) => `${k}=${v}`).join(' ') : '(no settings)');
  if (m.ack) parts.push('ACK');
  if (m.lastStreamId !== undefined) parts.push(`last_stream=${m.lastStreamId}`);
  if (m.errorName !== undefined) parts.push(`error=${m.errorName}`);
  if (m.windowIncrement !== undefined) parts.push(`increment=${m.windowIncrement}`);
  if (m.data?.length) parts.push(m.frameType === 'PING' ? `data=${m.data.toString('hex')}` : `debug=${JSON.stringify(m.data.toString('latin1'))}`);
  return parts.length ? [parts.join(' ')] : [];
}

function wsLines(m: WebSocketMessage, opts: TextL7Options): string[] {
  const out: string[] = [];
  if (m.closeCode !== undefined) out.push(`[close ${m.closeCode}${m.closeReason ? ` ${esc(m.closeReason, opts.tty)}` : ''}]`);
  else out.push(...renderBody(m.payload, opts, 'payload'));
  if (m.payloadTruncated) out.push(`[${m.payloadTruncated} payload bytes not kept (size limit)]`);
  for (const n of m.notes ?? []) out.push(`[${n}]`);
  return out;
}

/** Format one L7 record as text (ends with a newline). */
export function formatL7(rec: L7Record, opts: TextL7Options = {}): string {
  const m = rec.msg;
  let body: string[];
  switch (m.protocol) {
    case 'http1':
    case 'http2':
      if (m.kind !== 'control') return `${l7HeaderLine(rec)}\n${httpText(m, opts)}`;
      body = controlLines(m);
      break;
    case 'websocket':
      body = wsLines(m, opts);
      break;
    case 'raw':
      body = renderBody(m.payload, opts, 'data');
      break;
  }
  return `${[l7HeaderLine(rec), ...body].join('\n')}\n`;
}

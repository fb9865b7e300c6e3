/**
 * One direction's half of an HTTP/2 stream while it is assembled (headers, DATA, trailers), and its
 * conversion into an HttpMessage when it ends (END_STREAM, RST_STREAM, connection end, or table limit).
 */
import { EMPTY } from '../byte-queue.js';
import type { BodyCollector } from '../body.js';
import { decodeContent } from '../content-decode.js';
import type { Limits } from '../limits.js';
import { nsBetween, pairResponse, requestOf, type PendingRequest } from '../pairing.js';
import type { HeaderList, HttpMessage, IncompleteReason } from '../types.js';
import { parseGrpc } from './grpc.js';
import { Noted } from './hpack.js';

/** What the message builder needs from a header list, found in one pass (undefined: absent). */
export interface HeaderFacts {
  method: string | undefined;
  path: string | undefined;
  status: string | undefined;
  contentLength: number | undefined;
  contentEncoding: string | undefined;
  grpc: boolean;
}

/**
 * The facts of `headers` are kept on the half itself (set when they were decoded, all undefined until then):
 * no separate object per header block, and one shape for every half.
 */
export interface StreamHalf<T> extends Omit<HeaderFacts, 'contentLength'> {
  id: number;
  kind: 'request' | 'response';
  headers: HeaderList | undefined;
  trailers: HeaderList | undefined;
  /** created with the first DATA byte */
  body: BodyCollector | undefined;
  /** content-length from the headers, to size the body buffer */
  expect: number;
  start: T;
  notes: string[] | undefined;
}

/**
 * The facts of header list `h`, in a new object. (Not into one the parser keeps: the parser is an old-generation
 * object, and storing a just-decoded :path into it took the write barrier's slow path, ~6 ns, on every request;
 * a fresh object costs less.)
 * `noted`: where `h` has fields with a fact name (HpackDecoder.noted: bit i for position i < 30, Noted.Rest
 * for any position from 30 on); only those fields are read, in list order, so the facts are those of a full
 * scan of the list. The names read below must be exactly hpack.ts's isFactName(): a name added here and not
 * there would never be read.
 */
export function headerFacts(h: HeaderList, noted: number): HeaderFacts {
  let method: string | undefined;
  let path: string | undefined;
  let status: string | undefined;
  let contentLength: number | undefined;
  let contentEncoding: string | undefined;
  let grpc = false;
  // up to the last noted position (all of the list when a field beyond bit 29 is noted)
  const n = noted & Noted.Rest ? h.length : 32 - Math.clz32(noted);
  for (let i = 0; i < n; i++) {
    if (i < Noted.Positions && (noted & (1 << i)) === 0) continue;
    const t = h[i]!;
    const k = t[0];
    const v = t[1];
    if (k.charCodeAt(0) === 0x3a) {
      if (k === ':method') method = v;
      else if (k === ':path') path = v;
      else if (k === ':status') status = v;
    } else if (k.length === 14 && k === 'content-length') {
      if (/^\d{1,15}$/.test(v)) contentLength = Number(v);
    } else if (k.length === 16 && k === 'content-encoding') {
      contentEncoding = contentEncoding === undefined ? v : `${contentEncoding}, ${v}`;
    } else if (k.length === 12 && k === 'content-type') {
      grpc = v.startsWith('application/grpc');
    }
  }
  return { method, path, status, contentLength, contentEncoding, grpc };
}

/** Give a half the facts of its headers. */
export function setFacts<T>(h: StreamHalf<T>, f: HeaderFacts): void {
  h.method = f.method;
  h.path = f.path;
  h.status = f.status;
  h.contentEncoding = f.contentEncoding;
  h.grpc = f.grpc;
}

/** A 3-digit :status as a number, else -1 (what /^\d{3}$/ then Number() gave, without a regexp per response). */
export function statusCode(s: string | undefined): number {
  if (s === undefined || s.length !== 3) return -1;
  const a = s.charCodeAt(0) - 48;
  const b = s.charCodeAt(1) - 48;
  const c = s.charCodeAt(2) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9 ? a * 100 + b * 10 + c : -1;
}

export function addNote(o: { notes?: string[] }, note: string): void {
  (o.notes ??= []).push(note);
}

/**
 * Build the message of a finished stream half. A response comes with its `status` (statusCode of its
 * :status) and the request it answers, if any, whose request end is compared with `respStartNs`.
 */
export function buildMessage<T>(
  half: StreamHalf<T>,
  limits: Limits,
  incomplete: IncompleteReason | undefined,
  resetCode: number | undefined,
  status: number,
  req: PendingRequest | undefined,
  respStartNs: bigint,
): HttpMessage {
  const headers = half.headers ?? [];
  const b = half.body;
  const raw = b ? b.finish() : EMPTY;
  const bodySize = b ? b.size : 0;
  // The common messages are built in one literal with their final fields (no shape transition per message);
  // the field order is the same on every path (it is the order encoders write them in).
  let msg: HttpMessage;
  if (half.kind === 'request') {
    const { method, path } = half;
    if (method !== undefined && path !== undefined) {
      msg = { protocol: 'http2', kind: 'request', streamId: half.id, version: 'HTTP/2', headers, body: raw, bodySize, method, target: path };
    } else {
      msg = { protocol: 'http2', kind: 'request', streamId: half.id, version: 'HTTP/2', headers, body: raw, bodySize };
      if (method !== undefined) msg.method = method;
      if (path !== undefined) msg.target = path;
    }
  } else if (b === undefined && half.trailers === undefined && incomplete === undefined && resetCode === undefined && half.headers !== undefined) {
    return headOnlyMessage('response', half.id, half.headers, half, half.notes, limits, status, req, respStartNs);
  } else {
    msg = status >= 0
      ? { protocol: 'http2', kind: 'response', streamId: half.id, version: 'HTTP/2', headers, body: raw, bodySize, status }
      : { protocol: 'http2', kind: 'response', streamId: half.id, version: 'HTTP/2', headers, body: raw, bodySize };
  }
  if (half.trailers) msg.trailers = half.trailers;
  if (b && b.truncated > 0) msg.bodyTruncated = b.truncated;
  if (b && b.lost > 0) msg.bodyLost = b.lost;
  if (incomplete) msg.incomplete = incomplete;
  if (resetCode !== undefined) msg.resetCode = resetCode;
  if (half.notes) msg.notes = [...half.notes];
  if (half.headers === undefined) addNote(msg, 'headers not captured (stream began before the capture, or was evicted)');
  if (half.grpc) {
    msg.grpc = parseGrpc(raw, headers, half.trailers, limits.maxGrpcMessages, limits.maxDecodedBytes);
  } else {
    const ce = half.contentEncoding;
    if (ce !== undefined && raw.length > 0) {
      msg.contentEncoding = ce.toLowerCase();
      const partial = (b !== undefined && (b.truncated > 0 || b.lost > 0)) || incomplete !== undefined;
      const r = decodeContent(raw, ce, limits.maxDecodedBytes, partial);
      msg.body = r.body;
      msg.decoded = r.decoded;
      if (r.note) addNote(msg, r.note);
    }
  }
  if (msg.kind === 'response') pairResponse(msg, req, respStartNs);
  return msg;
}

/**
 * The message of a stream half that is one header block and nothing else (no body, no trailers, complete):
 * what buildMessage makes of such a half, built from the block's facts directly (the HTTP/2 parser's path
 * for the streams a single HEADERS frame opens and ends: a GET, a 204, ...).
 */
export function headOnlyMessage(
  kind: 'request' | 'response',
  id: number,
  headers: HeaderList,
  f: Pick<HeaderFacts, 'method' | 'path' | 'grpc'>,
  notes: string[] | undefined,
  limits: Limits,
  status: number,
  req: PendingRequest | undefined,
  respStartNs: bigint,
): HttpMessage {
  let msg: HttpMessage;
  if (kind === 'request') {
    const { method, path } = f;
    if (method !== undefined && path !== undefined) {
      msg = plainRequest(id, headers, method, path);
    } else {
      msg = { protocol: 'http2', kind: 'request', streamId: id, version: 'HTTP/2', headers, body: EMPTY, bodySize: 0 };
      if (method !== undefined) msg.method = method;
      if (path !== undefined) msg.target = path;
    }
  } else if (status >= 0 && req !== undefined && notes === undefined && !f.grpc) {
    return pairedHeadOnlyResponse(id, headers, status, req, respStartNs);
  } else {
    msg = status >= 0
      ? { protocol: 'http2', kind: 'response', streamId: id, version: 'HTTP/2', headers, body: EMPTY, bodySize: 0, status }
      : { protocol: 'http2', kind: 'response', streamId: id, version: 'HTTP/2', headers, body: EMPTY, bodySize: 0 };
  }
  if (notes) msg.notes = [...notes];
  // no body: nothing to content-decode
  if (f.grpc) msg.grpc = parseGrpc(EMPTY, headers, undefined, limits.maxGrpcMessages, limits.maxDecodedBytes);
  if (kind === 'response') pairResponse(msg, req, respStartNs);
  return msg;
}

// The two messages below are most of the messages of a busy HTTP/2 connection (GETs and HEADERS-only
// answers). They are small functions of their own so that the parser's fast path (headOnlyRequest and
// headOnlyResponse in parser.ts) inlines them: headOnlyMessage, with its nine arguments and every case, was
// a call per message.

/** A request of one header block with :method and :path and nothing to add: one literal. */
export function plainRequest(id: number, headers: HeaderList, method: string, target: string): HttpMessage {
  return { protocol: 'http2', kind: 'request', streamId: id, version: 'HTTP/2', headers, body: EMPTY, bodySize: 0, method, target };
}

/**
 * A paired response of one header block with nothing to add (a 204, a HEADERS-only answer): the literal has
 * the `request` and `latencyNs` fields pairResponse would add after the others (same order), so the object
 * gets no out-of-object property store and no map transitions (measured: ~10 ns per response).
 */
export function pairedHeadOnlyResponse(id: number, headers: HeaderList, status: number, req: PendingRequest, respStartNs: bigint): HttpMessage {
  const r = requestOf(req);
  const endNs = req.endNs;
  return endNs !== undefined && respStartNs >= endNs
    ? { protocol: 'http2', kind: 'response', streamId: id, version: 'HTTP/2', headers, body: EMPTY, bodySize: 0, status, request: r, latencyNs: nsBetween(respStartNs, endNs) }
    : { protocol: 'http2', kind: 'response', streamId: id, version: 'HTTP/2', headers, body: EMPTY, bodySize: 0, status, request: r };
}

/**
 * One direction's half of an HTTP/2 stream while it is assembled (headers, DATA, trailers), and its
 * conversion into an HttpMessage when it ends (END_STREAM, RST_STREAM, connection end, or table limit).
 */
import { EMPTY } from '../byte-queue.js';
import type { BodyCollector } from '../body.js';
import { decodeContent } from '../content-decode.js';
import type { Limits } from '../limits.js';
import type { HeaderList, HttpMessage, IncompleteReason } from '../types.js';
import { parseGrpc } from './grpc.js';

export interface StreamHalf<T> {
  id: number;
  kind: 'request' | 'response';
  headers: HeaderList | undefined;
  trailers?: HeaderList;
  /** created with the first DATA byte */
  body: BodyCollector | undefined;
  /** content-length from the headers, to size the body buffer */
  expect: number;
  start: T;
  notes?: string[];
  /** facts of `headers`, found when they were decoded */
  facts?: HeaderFacts;
}

/** What the message builder needs from a header list, found in one pass. */
export interface HeaderFacts {
  method?: string;
  path?: string;
  status?: string;
  contentLength?: number;
  contentEncoding?: string;
  grpc?: boolean;
}

export function headerFacts(h: HeaderList): HeaderFacts {
  const f: HeaderFacts = {};
  for (let i = 0; i < h.length; i++) {
    const t = h[i]!;
    const k = t[0];
    const v = t[1];
    if (k.charCodeAt(0) === 0x3a) {
      if (k === ':method') f.method = v;
      else if (k === ':path') f.path = v;
      else if (k === ':status') f.status = v;
    } else if (k.length === 14 && k === 'content-length') {
      if (/^\d{1,15}$/.test(v)) f.contentLength = Number(v);
    } else if (k.length === 16 && k === 'content-encoding') {
      f.contentEncoding = f.contentEncoding === undefined ? v : `${f.contentEncoding}, ${v}`;
    } else if (k.length === 12 && k === 'content-type') {
      f.grpc = v.startsWith('application/grpc');
    }
  }
  return f;
}

export function addNote(o: { notes?: string[] }, note: string): void {
  (o.notes ??= []).push(note);
}

/** Build the message of a finished stream half. */
export function buildMessage<T>(
  half: StreamHalf<T>,
  limits: Limits,
  incomplete: IncompleteReason | undefined,
  resetCode: number | undefined,
): HttpMessage {
  const facts = half.facts ?? (half.headers ? headerFacts(half.headers) : {});
  const headers = half.headers ?? [];
  const b = half.body;
  const raw = b ? b.finish() : EMPTY;
  const msg: HttpMessage = {
    protocol: 'http2', kind: half.kind, streamId: half.id, version: 'HTTP/2', headers, body: raw, bodySize: b ? b.size : 0,
  };
  if (half.kind === 'request') {
    if (facts.method !== undefined) msg.method = facts.method;
    if (facts.path !== undefined) msg.target = facts.path;
  } else if (facts.status !== undefined && /^\d{3}$/.test(facts.status)) {
    msg.status = Number(facts.status);
  }
  if (half.trailers) msg.trailers = half.trailers;
  if (b && b.truncated > 0) msg.bodyTruncated = b.truncated;
  if (b && b.lost > 0) msg.bodyLost = b.lost;
  if (incomplete) msg.incomplete = incomplete;
  if (resetCode !== undefined) msg.resetCode = resetCode;
  if (half.notes) msg.notes = [...half.notes];
  if (half.headers === undefined) addNote(msg, 'headers not captured (stream began before the capture, or was evicted)');
  if (facts.grpc) {
    msg.grpc = parseGrpc(raw, headers, half.trailers, limits.maxGrpcMessages, limits.maxDecodedBytes);
    return msg;
  }
  const ce = facts.contentEncoding;
  if (ce !== undefined && raw.length > 0) {
    msg.contentEncoding = ce.toLowerCase();
    const partial = (b !== undefined && (b.truncated > 0 || b.lost > 0)) || incomplete !== undefined;
    const r = decodeContent(raw, ce, limits.maxDecodedBytes, partial);
    msg.body = r.body;
    msg.decoded = r.decoded;
    if (r.note) addNote(msg, r.note);
  }
  return msg;
}

/**
 * One direction's half of an HTTP/2 stream while it is assembled (headers, DATA, trailers), and its
 * conversion into an HttpMessage when it ends (END_STREAM, RST_STREAM, connection end, or table limit).
 */
import { BodyCollector } from '../body.js';
import { decodeContent } from '../content-decode.js';
import type { Limits } from '../limits.js';
import type { HeaderList, HttpMessage, IncompleteReason } from '../types.js';
import { isGrpc, parseGrpc } from './grpc.js';

export interface StreamHalf<T> {
  id: number;
  kind: 'request' | 'response';
  headers: HeaderList | undefined;
  trailers?: HeaderList;
  body: BodyCollector;
  start: T;
  notes?: string[];
}

export function pseudo(h: HeaderList, name: string): string | undefined {
  for (const [k, v] of h) {
    if (k === name) return v;
    if (k.charCodeAt(0) !== 0x3a) break; // pseudo-headers come first
  }
  return undefined;
}

function regular(h: HeaderList, name: string): string | undefined {
  let out: string | undefined;
  for (const [k, v] of h) if (k === name) out = out === undefined ? v : `${out}, ${v}`;
  return out;
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
  const headers = half.headers ?? [];
  const b = half.body;
  const raw = b.finish();
  const msg: HttpMessage = {
    protocol: 'http2', kind: half.kind, streamId: half.id, version: 'HTTP/2', headers, body: raw, bodySize: b.size,
  };
  if (half.kind === 'request') {
    const m = pseudo(headers, ':method');
    const p = pseudo(headers, ':path');
    if (m !== undefined) msg.method = m;
    if (p !== undefined) msg.target = p;
  } else {
    const s = pseudo(headers, ':status');
    if (s !== undefined && /^\d{3}$/.test(s)) msg.status = Number(s);
  }
  if (half.trailers) msg.trailers = half.trailers;
  if (b.truncated > 0) msg.bodyTruncated = b.truncated;
  if (b.lost > 0) msg.bodyLost = b.lost;
  if (incomplete) msg.incomplete = incomplete;
  if (resetCode !== undefined) msg.resetCode = resetCode;
  if (half.notes) msg.notes = [...half.notes];
  if (half.headers === undefined) addNote(msg, 'headers not captured (stream began before the capture, or was evicted)');
  const partial = b.truncated > 0 || b.lost > 0 || incomplete !== undefined;
  if (isGrpc(headers)) {
    msg.grpc = parseGrpc(raw, headers, half.trailers, limits.maxGrpcMessages, limits.maxDecodedBytes);
    return msg;
  }
  const ce = regular(headers, 'content-encoding');
  if (ce !== undefined && raw.length > 0) {
    msg.contentEncoding = ce.toLowerCase();
    const r = decodeContent(raw, ce, limits.maxDecodedBytes, partial);
    msg.body = r.body;
    msg.decoded = r.decoded;
    if (r.note) addNote(msg, r.note);
  }
  return msg;
}

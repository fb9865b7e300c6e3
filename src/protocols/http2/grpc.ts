/**
 * gRPC over HTTP/2 (PROTOCOL-HTTP2.md in grpc/grpc): the body is a sequence of length-prefixed messages,
 * each `compressed flag (1) | length (4, big endian) | message`; compressed messages use the stream's
 * grpc-encoding. Status travels in trailers (grpc-status, grpc-message percent-encoded), or in the headers
 * of a trailers-only response.
 */
import { decodeContent } from '../content-decode.js';
import type { GrpcInfo, GrpcMessage, HeaderList } from '../types.js';

function field(h: HeaderList | undefined, name: string): string | undefined {
  if (h === undefined) return undefined;
  for (const [k, v] of h) if (k === name) return v;
  return undefined;
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Split a gRPC body (the kept bytes; a message running past them is marked truncated). */
export function parseGrpc(
  body: Buffer,
  headers: HeaderList,
  trailers: HeaderList | undefined,
  maxMessages: number,
  maxDecoded: number,
): GrpcInfo {
  const info: GrpcInfo = { messages: [] };
  const enc = field(headers, 'grpc-encoding');
  if (enc !== undefined) info.encoding = enc;
  let pos = 0;
  while (pos < body.length) {
    if (body.length - pos < 5) {
      const m: GrpcMessage = { compressed: false, length: 0, data: Buffer.alloc(0), error: 'truncated message prefix' };
      if (info.messages.length < maxMessages) info.messages.push(m);
      break;
    }
    const compressed = body[pos] === 1;
    const length = body.readUInt32BE(pos + 1);
    const avail = Math.min(length, body.length - pos - 5);
    const raw = body.subarray(pos + 5, pos + 5 + avail);
    pos += 5 + length;
    if (info.messages.length >= maxMessages) {
      info.dropped = (info.dropped ?? 0) + 1;
      continue;
    }
    const m: GrpcMessage = { compressed, length, data: raw };
    if (avail < length) m.truncated = length - avail;
    if (compressed) {
      const r = decodeContent(raw, enc ?? 'gzip', maxDecoded, avail < length);
      if (r.decoded) m.data = r.body;
      else m.error = r.note ?? `grpc-encoding ${enc ?? '(none)'} not decoded`;
    }
    info.messages.push(m);
  }
  const statusSrc = field(trailers, 'grpc-status') !== undefined ? trailers : headers;
  const st = field(statusSrc, 'grpc-status');
  if (st !== undefined && /^\d+$/.test(st)) info.status = Number(st);
  const msg = field(statusSrc, 'grpc-message');
  if (msg !== undefined) info.message = percentDecode(msg);
  return info;
}

const GRPC_STATUS = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

export function grpcStatusName(code: number): string {
  return GRPC_STATUS[code] ?? String(code);
}

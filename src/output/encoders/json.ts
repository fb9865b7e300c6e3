/**
 * JSON Lines encoder: one JSON object per record. Field names are stable and documented in docs/json-format.md;
 * every record of a given `type` has the same keys in the same order (unknown values are null, never absent).
 *
 * Choices (see the doc): `ts` (bigint nanoseconds) is a decimal string, because nanosecond epoch times exceed
 * 2^53 and would lose precision as JSON numbers in JavaScript, jq and most log pipelines; `time` carries the same
 * instant as RFC 3339 UTC text with 9 fractional digits. Byte buffers become UTF-8 text when they are valid UTF-8
 * without control characters (other than \t \n \r), else base64, with a sibling `<name>_encoding` field saying
 * which. TLS secrets and client randoms are lower-case hex, as in the NSS key log format.
 */
import { isUtf8 } from 'node:buffer';
import type { CaptureRecord, ConnTuple, Direction } from '../../model/records.js';
import { flowEndpoints } from '../../model/records.js';
import type { Encoder, EncoderOptions } from './types.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };
export type BytesEncoding = 'utf8' | 'base64';

const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** Text when the bytes are valid, printable UTF-8; base64 otherwise. */
export function bytesToJson(buf: Buffer): { data: string; encoding: BytesEncoding } {
  if (isUtf8(buf)) {
    const s = buf.toString('utf8');
    if (!CONTROL.test(s)) return { data: s, encoding: 'utf8' };
  }
  return { data: buf.toString('base64'), encoding: 'base64' };
}

/** RFC 3339 UTC with nanoseconds, e.g. 2026-06-21T10:11:12.123456789Z. */
export function isoNanos(ts: bigint): string {
  const ms = ts / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...ss.mmmZ
  const sub = ((ts % 1_000_000n) + 1_000_000n) % 1_000_000n;
  return `${iso.slice(0, -1)}${sub.toString().padStart(6, '0')}Z`;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Generic conversion for parts whose shape is owned elsewhere (L7 messages): camelCase keys → snake_case,
 * bigint → decimal string, Buffer `k` → `k` + `k_encoding`, undefined → omitted, arrays and objects recursed.
 */
export function toJsonGeneric(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : null;
    case 'bigint':
      return v.toString();
    case 'object':
      break;
    default:
      return null;
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
    const b = bytesToJson(Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    return { data: b.data, encoding: b.encoding };
  }
  if (Array.isArray(v)) return v.map(toJsonGeneric);
  const out: JsonObject = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === undefined) continue;
    const key = snake(k);
    if (Buffer.isBuffer(val)) {
      const b = bytesToJson(val);
      out[key] = b.data;
      out[`${key}_encoding`] = b.encoding;
    } else {
      out[key] = toJsonGeneric(val);
    }
  }
  return out;
}

function tupleFields(o: JsonObject, tuple: ConnTuple | undefined, dir: Direction): void {
  if (!tuple) {
    o.family = null;
    o.src_ip = null;
    o.src_port = null;
    o.dst_ip = null;
    o.dst_port = null;
    return;
  }
  const { src, dst } = flowEndpoints(tuple, dir);
  o.family = tuple.family;
  o.src_ip = src.addr;
  o.src_port = src.port;
  o.dst_ip = dst.addr;
  o.dst_port = dst.port;
}

const nul = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** The JSON object for one record (before serialisation). */
export function recordToJson(rec: CaptureRecord): JsonObject {
  const o: JsonObject = {
    type: rec.type,
    ts: rec.ts.toString(),
    time: isoNanos(rec.ts),
    module: rec.module,
    pid: rec.who.pid,
    tid: rec.who.tid,
    uid: rec.who.uid,
    comm: rec.who.comm,
    cgroup_id: rec.who.cgroupId === undefined ? null : rec.who.cgroupId.toString(),
  };
  switch (rec.type) {
    case 'data': {
      o.dir = rec.dir;
      o.fd = rec.fd;
      o.conn_id = rec.connId;
      tupleFields(o, rec.tuple, rec.dir);
      o.seq = rec.seq;
      o.len = rec.payload.length;
      const b = bytesToJson(rec.payload);
      o.payload = b.data;
      o.payload_encoding = b.encoding;
      o.lib = nul(rec.lib);
      break;
    }
    case 'gap':
      o.dir = rec.dir;
      o.fd = rec.fd;
      o.conn_id = rec.connId;
      tupleFields(o, rec.tuple, rec.dir);
      o.seq = rec.seq;
      o.lost_bytes = rec.lostBytes;
      break;
    case 'conn_close':
      o.fd = rec.fd;
      o.conn_id = rec.connId;
      tupleFields(o, rec.tuple, 'write'); // src = the traced process's socket, dst = its peer
      o.reason = rec.reason;
      o.bytes_read = rec.bytesRead;
      o.bytes_written = rec.bytesWritten;
      break;
    case 'key':
      o.label = rec.label;
      o.client_random = rec.clientRandom.toString('hex');
      o.secret = rec.secret.toString('hex');
      o.tls_version = nul(rec.tlsVersion);
      break;
    case 'shell':
      o.shell = rec.shell;
      o.line = rec.line;
      o.retval = nul(rec.retval);
      o.tty = nul(rec.tty);
      o.cwd = nul(rec.cwd);
      o.truncated = rec.truncated ?? false;
      break;
    case 'query':
      o.db = rec.db;
      o.query = rec.query;
      o.length = rec.length;
      o.status = nul(rec.status);
      o.retval = nul(rec.retval);
      o.database = nul(rec.database);
      o.client = nul(rec.client);
      o.kind = nul(rec.kind);
      o.truncated = rec.truncated ?? false;
      break;
    case 'l7':
      o.dir = rec.dir;
      o.fd = rec.fd;
      o.conn_id = rec.connId;
      tupleFields(o, rec.tuple, rec.dir);
      o.msg = toJsonGeneric(rec.msg);
      break;
    case 'notice':
      o.level = rec.level;
      o.message = rec.message;
      break;
    default: {
      const never: never = rec;
      o.unknown = toJsonGeneric(never);
    }
  }
  return o;
}

export class JsonEncoder implements Encoder {
  readonly format = 'json' as const;
  readonly #eol: string;
  constructor(opts: EncoderOptions = {}) {
    this.#eol = (opts.framing ?? 'stream') === 'stream' ? '\n' : '';
  }
  encode(rec: CaptureRecord): string {
    return JSON.stringify(recordToJson(rec)) + this.#eol;
  }
}

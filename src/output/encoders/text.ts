/**
 * The text encoder: one block per record, a header line that says who/where/when, then the payload.
 *
 *   2026-11-26T01:39:52.123+01:00 PID:1234 TID:1234 Comm:curl UID:0 FD:5 127.0.0.1:53412 -> 127.0.0.1:8443 WRITE 78 bytes [openssl 3.0.22]
 *   GET / HTTP/1.1
 *   ...
 *
 * Payloads: a payload whose first 512 bytes hold a NUL or more than 1/8 control bytes is binary and
 * becomes a hex dump (as every payload does with --hex). Otherwise, on a terminal (`tty`), control bytes
 * other than tab, LF and CR are escaped as \xNN so captured bytes cannot drive the terminal; to files,
 * pipes and sockets the payload is written byte-exact (a 16 KiB payload then costs one copy, which keeps
 * text output above 1 GB/s). -t/--tsize limits the printed payload bytes, never what is captured.
 */
import type { CaptureRecord, DataRecord, Direction } from '../../model/records.js';
import { flowEndpoints, formatEndpoint } from '../../model/records.js';
import { hexdump } from '../../util/hexdump.js';
import { formatTime } from '../../util/time.js';

export interface TextOptions {
  hex?: boolean;
  /** the destination is a terminal: escape every control byte */
  tty?: boolean;
  /** print at most this many payload bytes (0 = all) */
  tsize?: number;
  /** formatter for parsed L7 records (src/output/encoders/text-l7.ts) */
  formatL7?: (rec: Extract<CaptureRecord, { type: 'l7' }>, opts: TextOptions) => string | Buffer;
}

// 1 = byte needs escaping in text mode (C0 controls except \t \n \r, and DEL)
const BAD = new Uint8Array(256);
for (let i = 0; i < 32; i++) if (i !== 9 && i !== 10 && i !== 13) BAD[i] = 1;
BAD[0x7f] = 1;

/** Bytes inspected to tell text from binary. */
const SNIFF = 512;

/**
 * Count bytes that need escaping among the first n, stopping early once the payload is clearly binary.
 * Hand-written loop on the hot path of text output (measured in `npm run bench`): JS scans ~0.3 GB/s,
 * so whole-payload scans happen only for terminals.
 */
function countBad(b: Buffer, n: number): number {
  let bad = 0;
  const stopAt = (n >>> 3) + 1; // > 1/8 bad bytes: binary
  for (let i = 0; i < n; i++) {
    if (BAD[b[i]!] === 1 && ++bad > stopAt) return bad;
  }
  return bad;
}

function escapeText(b: Buffer, n: number): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (BAD[c] === 1) {
      out += b.toString('latin1', start, i) + `\\x${c.toString(16).padStart(2, '0')}`;
      start = i + 1;
    }
  }
  return out + b.toString('latin1', start, n);
}

/** Render a payload for text output; returns a Buffer when it can be written unchanged. */
export function renderPayload(payload: Buffer, opts: TextOptions): Buffer | string {
  // strings returned here are ASCII (hex dumps, notes); payload bytes always travel as Buffers
  const limit = opts.tsize && opts.tsize > 0 ? Math.min(opts.tsize, payload.length) : payload.length;
  const more = payload.length - limit;
  const tail = more > 0 ? `\n... ${more} more bytes not printed (--tsize ${opts.tsize})` : '';
  if (opts.hex) return hexdump(payload, limit) + tail;
  const sniff = Math.min(limit, SNIFF);
  const sniffBad = countBad(payload, sniff);
  if (sniffBad > (sniff >>> 3) + 1 || payload.subarray(0, sniff).indexOf(0) >= 0) return hexdump(payload, limit) + tail;
  const bad = opts.tty ? (limit > sniff ? countBad(payload, limit) : sniffBad) : 0;
  if (bad === 0) return tail ? Buffer.concat([payload.subarray(0, limit), Buffer.from(tail)]) : payload.subarray(0, limit);
  return Buffer.from(escapeText(payload, limit) + tail, 'latin1');
}

const DIR_WORD: Record<Direction, string> = { read: 'READ', write: 'WRITE' };

// "src -> dst" per tuple object and direction: probes reuse one tuple object per connection, so this is
// computed once per connection instead of once per event
const flowCache = new WeakMap<NonNullable<DataRecord['tuple']>, { read?: string; write?: string }>();

/** "src -> dst" of a tuple seen in direction `dir`, or "?:? -> ?:?" without one. */
export function flowText(t: DataRecord['tuple'], dir: Direction): string {
  if (!t) return '?:? -> ?:?';
  let c = flowCache.get(t);
  if (!c) flowCache.set(t, (c = {}));
  let s = c[dir];
  if (s === undefined) {
    const { src, dst } = flowEndpoints(t, dir);
    s = c[dir] = `${formatEndpoint(src, t.family)} -> ${formatEndpoint(dst, t.family)}`;
  }
  return s;
}

function flow(rec: { tuple?: DataRecord['tuple']; dir: Direction }): string {
  return flowText(rec.tuple, rec.dir);
}

// " PID:… TID:… Comm:… UID:…" per Who object: probes reuse one Who per connection while it does not change
const whoText = new WeakMap<CaptureRecord['who'], string>();

function whoLine(rec: CaptureRecord): string {
  const w = rec.who;
  let t = whoText.get(w);
  if (t === undefined) whoText.set(w, (t = ` PID:${w.pid} TID:${w.tid} Comm:${w.comm} UID:${w.uid}`));
  return formatTime(rec.ts) + t;
}

export function dataHeader(rec: DataRecord): string {
  return `${whoLine(rec)} FD:${rec.fd} ${flow(rec)} ${DIR_WORD[rec.dir]} ${rec.payload.length} bytes${rec.lib ? ` [${rec.lib}]` : ''}`;
}

/** A header field on one line: control characters (newlines too) as \xNN. */
function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A header line and a captured text (shell line, SQL) rendered as a payload. */
function withBody(head: string, text: string, opts: TextOptions): Encoded {
  const body = renderPayload(Buffer.from(text, 'utf8'), opts);
  if (typeof body === 'string') return `${head}${body}\n`;
  return [head, body, '\n'];
}

/** Encoded output: one chunk, or several to be written back to back (lets sinks use writev, no copy). */
export type Encoded = Buffer | string | (Buffer | string)[];

/** Encode one record as text; the result ends with a newline. */
export function encodeText(rec: CaptureRecord, opts: TextOptions = {}): Encoded {
  switch (rec.type) {
    case 'data': {
      const body = renderPayload(rec.payload, opts);
      const head = `${dataHeader(rec)}\n`;
      if (typeof body === 'string') return `${head}${body}\n`;
      return [head, body, '\n'];
    }
    case 'gap':
      return `${whoLine(rec)} FD:${rec.fd} ${flow(rec)} ${DIR_WORD[rec.dir]} [GAP ${rec.lostBytes} bytes lost at offset ${rec.seq}]\n`;
    case 'conn_close':
      return `${whoLine(rec)} FD:${rec.fd} connection ${rec.reason}: ${rec.bytesWritten} bytes written, ${rec.bytesRead} bytes read\n`;
    case 'key':
      return `${rec.label} ${rec.clientRandom.toString('hex')} ${rec.secret.toString('hex')}\n`;
    case 'shell': {
      // the command as typed: rendered like a payload (control bytes escaped on a terminal, --hex, -t)
      const status = rec.retval === undefined ? '' : ` Retval:${rec.retval}`;
      const where = `${rec.tty ? ` TTY:${oneLine(rec.tty)}` : ''}${rec.cwd ? ` CWD:${oneLine(rec.cwd)}` : ''}`;
      return withBody(`${whoLine(rec)} ${rec.shell}${where}${status}${rec.truncated ? ' [TRUNCATED]' : ''}\n`, rec.line, opts);
    }
    case 'query': {
      // Status is free text (an error message), so it comes last and runs to the end of the line
      const parts = [`${rec.db}`];
      if (rec.kind) parts.push(`Kind:${rec.kind}`);
      parts.push(`Len:${rec.length}`);
      if (rec.database) parts.push(`DB:${oneLine(rec.database)}`);
      if (rec.client) parts.push(`Client:${oneLine(rec.client)}`);
      if (rec.retval !== undefined) parts.push(`Retval:${rec.retval}`);
      if (rec.truncated) parts.push('[TRUNCATED]');
      if (rec.status) parts.push(`Status:${oneLine(rec.status)}`);
      return withBody(`${whoLine(rec)} ${parts.join(' ')}\n`, rec.query, opts);
    }
    case 'l7':
      if (opts.formatL7) {
        const r = opts.formatL7(rec, opts);
        return typeof r === 'string' && !r.endsWith('\n') ? `${r}\n` : r;
      }
      return `${whoLine(rec)} FD:${rec.fd} ${flow(rec)} ${rec.msg.protocol} ${rec.msg.kind}\n`;
    case 'notice':
      return `${formatTime(rec.ts)} ${rec.level.toUpperCase()} ${rec.message}\n`;
  }
}


/** Records the tracker makes: L7 records from parser messages, gaps, closes and notices. */
import type { ConnCloseRecord, ConnTuple, DataRecord, Direction, GapRecord, L7Record, NoticeRecord } from '../model/records.js';
import type { L7Message } from '../protocols/types.js';

/** What parsers and connections remember of a record: all but the payload (it may be a view into a reused batch). */
export type Tag = Omit<DataRecord, 'payload'> | GapRecord;

/**
 * Written out as a literal (optional fields added only when present, as the rest spread did) rather than
 * `const { payload, ...meta } = r`: the rest spread is a generic property copy, one per event in the parsed
 * pipeline, and showed as ~4% self time of the tracker's profile (`npm run bench -- pipeline`, parsed).
 * The keys are those of DataRecord, in the probes' order; nothing reads a record's keys in order.
 */
export function tagOf(r: DataRecord | GapRecord): Tag {
  if (r.type === 'gap') return r;
  const t: Omit<DataRecord, 'payload'> = { type: 'data', ts: r.ts, module: r.module, who: r.who, dir: r.dir, fd: r.fd, connId: r.connId, seq: r.seq };
  if ('tuple' in r) t.tuple = r.tuple;
  if ('lib' in r) t.lib = r.lib;
  return t;
}

export function l7Record(start: Tag, dir: Direction, msg: L7Message, tuple: ConnTuple | undefined): L7Record {
  const r: L7Record = { type: 'l7', ts: start.ts, module: start.module, who: start.who, dir, fd: start.fd, connId: start.connId, msg };
  const t = start.tuple ?? tuple;
  if (t) r.tuple = t;
  return r;
}

export function gapRecord(last: Tag, dir: Direction, fd: number, tuple: ConnTuple | undefined, seq: number, lostBytes: number): GapRecord {
  const g: GapRecord = { type: 'gap', ts: last.ts, module: last.module, who: last.who, dir, fd, connId: last.connId, seq, lostBytes };
  if (tuple) g.tuple = tuple;
  return g;
}

export function closeRecord(
  last: Tag,
  fd: number,
  tuple: ConnTuple | undefined,
  ts: bigint,
  reason: ConnCloseRecord['reason'],
  bytes: Record<Direction, number>,
): ConnCloseRecord {
  const rec: ConnCloseRecord = {
    type: 'conn_close', ts, module: last.module, who: last.who, fd, connId: last.connId, reason, bytesRead: bytes.read, bytesWritten: bytes.write,
  };
  if (tuple) rec.tuple = tuple;
  return rec;
}

export function noticeRecord(last: Tag, fd: number, tuple: ConnTuple | undefined, level: NoticeRecord['level'], message: string): NoticeRecord {
  const where = tuple ? ` ${tuple.local.addr}:${tuple.local.port}<->${tuple.remote.addr}:${tuple.remote.port}` : '';
  return { type: 'notice', ts: last.ts, module: last.module, who: last.who, level, message: `conn pid ${last.who.pid} fd ${fd} id ${last.connId}${where}: ${message}` };
}

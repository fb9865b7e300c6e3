/**
 * Protobuf encoder: CaptureRecord → event.LogEntry{LOG_TYPE_EVENT, Event{...}} with the field numbers of
 * eCapture's ecaptureq.proto (proto/ecaptureq.proto; generated module src/gen/proto/ecaptureq.ts).
 *
 * Event fields: timestamp = Unix seconds (as eCapture and its consumers use it; the nanosecond time is in the
 * payload and in the JSON format), uuid = `<pid>_<tid>_<comm>_<fd>_<dir>_<src>-<dst>` for connection records
 * (dir 1 = write/request, 0 = read/response, as eCapture's dataType) and `<pid>_<tid>_<comm>_<type>` for the
 * others, src/dst from the tuple oriented by direction, pid, pname = comm, type (0 unknown, 1 HTTP/1 request,
 * 2 HTTP/2 request, 3 HTTP/1 response, 4 HTTP/2 response, 5 WebSocket), length = payload bytes, payload = the
 * record's text rendering, supplied by the caller (`textOf`).
 */
import type { CaptureRecord, ConnTuple, Direction } from '../../model/records.js';
import { flowEndpoints, formatEndpoint } from '../../model/records.js';
import { LogEntry, LogType } from '../../gen/proto/ecaptureq.js';
import type { IEvent, IHeartbeat, ILogEntry } from '../../gen/proto/ecaptureq.js';
import type { Encoder, EncoderOptions, Framing, TextOf } from './types.js';

/** eCapture's ParserType values, which are Event.type on the wire. */
export const EventType = {
  UNKNOWN: 0,
  HTTP1_REQUEST: 1,
  HTTP2_REQUEST: 2,
  HTTP1_RESPONSE: 3,
  HTTP2_RESPONSE: 4,
  WEBSOCKET: 5,
} as const;

export function eventType(rec: CaptureRecord): number {
  if (rec.type !== 'l7') return EventType.UNKNOWN;
  const m = rec.msg as { protocol: string; kind: string };
  const req = m.kind === 'request';
  const resp = m.kind === 'response';
  switch (m.protocol) {
    case 'http1':
      return req ? EventType.HTTP1_REQUEST : resp ? EventType.HTTP1_RESPONSE : EventType.UNKNOWN;
    case 'http2':
      return req ? EventType.HTTP2_REQUEST : resp ? EventType.HTTP2_RESPONSE : EventType.UNKNOWN;
    case 'websocket':
      return EventType.WEBSOCKET;
    default:
      return EventType.UNKNOWN;
  }
}

interface ConnPart {
  fd: number;
  dir: Direction;
  tuple: ConnTuple | undefined;
}

function connPart(rec: CaptureRecord): ConnPart | undefined {
  switch (rec.type) {
    case 'data':
    case 'gap':
    case 'l7':
      return { fd: rec.fd, dir: rec.dir, tuple: rec.tuple };
    case 'conn_close':
      return { fd: rec.fd, dir: 'write', tuple: rec.tuple };
    default:
      return undefined;
  }
}

export function eventUuid(rec: CaptureRecord): string {
  const w = rec.who;
  const c = connPart(rec);
  if (!c) return `${w.pid}_${w.tid}_${w.comm}_${rec.type}`;
  const dir = c.dir === 'write' ? 1 : 0;
  let tuple = '';
  if (c.tuple) {
    const { src, dst } = flowEndpoints(c.tuple, c.dir);
    tuple = `${formatEndpoint(src, c.tuple.family)}-${formatEndpoint(dst, c.tuple.family)}`;
  }
  return `${w.pid}_${w.tid}_${w.comm}_${c.fd}_${dir}_${tuple}`;
}

// protobufjs's typings say int64 is number | Long; its writer also takes decimal strings (LongBits.from), which
// keeps nanosecond-scale values exact without a Long dependency here.
type Int64 = number | string;
export interface EventMsg extends Omit<IEvent, 'timestamp' | 'pid'> {
  timestamp?: Int64 | null;
  pid?: Int64 | null;
}
export interface LogEntryMsg extends Omit<ILogEntry, 'eventPayload' | 'heartbeatPayload'> {
  eventPayload?: EventMsg | null;
  heartbeatPayload?: IHeartbeat | null;
}

/** The Event message for a record (plain object in protobufjs's camelCase field names). */
export function recordToEvent(rec: CaptureRecord, textOf: TextOf): EventMsg {
  const payload = textOf(rec);
  const ev: EventMsg = {
    timestamp: (rec.ts / 1_000_000_000n).toString(),
    uuid: eventUuid(rec),
    pid: rec.who.pid,
    pname: rec.who.comm,
    type: eventType(rec),
    length: payload.length,
    payload,
  };
  const c = connPart(rec);
  if (c?.tuple) {
    const { src, dst } = flowEndpoints(c.tuple, c.dir);
    ev.srcIp = src.addr;
    ev.srcPort = src.port;
    ev.dstIp = dst.addr;
    ev.dstPort = dst.port;
  }
  return ev;
}

type Wire = Parameters<typeof LogEntry.encode>[0];

/** Serialise a LogEntry; 'stream' framing prefixes the varint length (protobufjs encodeDelimited). */
export function encodeLogEntry(entry: LogEntryMsg, framing: Framing = 'message'): Buffer {
  const w = framing === 'stream' ? LogEntry.encodeDelimited(entry as Wire) : LogEntry.encode(entry as Wire);
  const u8 = w.finish();
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

export function eventEntry(rec: CaptureRecord, textOf: TextOf): LogEntryMsg {
  return { logType: LogType.EVENT, eventPayload: recordToEvent(rec, textOf) };
}

export function runLogEntry(line: string): LogEntryMsg {
  return { logType: LogType.PROCESS_LOG, runLog: line };
}

/** eCapture's heartbeat: timestamp in Unix seconds, count from 0 per client, message "heartbeat:<count>". */
export function heartbeatEntry(count: number, nowMs: number = Date.now()): LogEntryMsg {
  return {
    logType: LogType.HEARTBEAT,
    heartbeatPayload: { timestamp: Math.floor(nowMs / 1000), count, message: `heartbeat:${count}` },
  };
}

export class ProtobufEncoder implements Encoder {
  readonly format = 'protobuf' as const;
  readonly #textOf: TextOf;
  readonly #framing: Framing;
  constructor(textOf: TextOf, opts: EncoderOptions = {}) {
    this.#textOf = textOf;
    this.#framing = opts.framing ?? 'stream';
  }
  encode(rec: CaptureRecord): Buffer {
    return encodeLogEntry(eventEntry(rec, this.#textOf), this.#framing);
  }
}

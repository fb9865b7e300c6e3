/**
 * Decoding of the kernel's TLS data events (bpf/lib/tls_data.bpf.h) into DataRecords, shared by every
 * TLS-library module. Never throws on a bad sample: short or unknown samples are counted.
 */
import {
  DataDir,
  EventFlags,
  EventKind,
  TlsDataEventLayout,
  decodeConnBindEvent,
  decodeConnCloseEvent,
  decodeTlsDataEvent,
  type EventHdr,
  type SockTuple,
} from '../../gen/events.js';
import type { CaptureRecord, ConnTuple, DataRecord, ModuleName, Who } from '../../model/records.js';
import { ipv4ToString, ipv6ToString } from '../../util/ip.js';

export interface TlsDataCounters {
  events: number;
  bytes: number;
  binds: number;
  short: number;
  unknown: number;
  noTuple: number;
}

export function tupleOf(t: SockTuple): ConnTuple | undefined {
  if (t.family === 2) {
    return { family: 4, local: { addr: ipv4ToString(t.laddr), port: t.lport }, remote: { addr: ipv4ToString(t.raddr), port: t.rport } };
  }
  if (t.family === 10) {
    return { family: 6, local: { addr: ipv6ToString(t.laddr), port: t.lport }, remote: { addr: ipv6ToString(t.raddr), port: t.rport } };
  }
  return undefined;
}

export function whoOf(h: EventHdr): Who {
  return { pid: h.pid, tid: h.tid, uid: h.uid, comm: h.comm, cgroupId: BigInt(h.cgroupId) };
}

export class TlsDataDecoder {
  readonly counters: TlsDataCounters = { events: 0, bytes: 0, binds: 0, short: 0, unknown: 0, noTuple: 0 };
  /** lib_id (attach cookie) → library description, e.g. "openssl 3.0.22" */
  readonly libs = new Map<number, string>();

  constructor(
    private readonly module: ModuleName,
    private readonly wallClock: (monoNs: number) => bigint,
    private readonly emit: (rec: CaptureRecord) => void,
  ) {}

  /** Handle one ring-buffer sample. The payload is a view into the batch (see DataRecord docs). */
  handle(sample: Buffer): void {
    if (sample.length < 4) {
      this.counters.short++;
      return;
    }
    const kind = sample.readUInt32LE(0);
    if (kind === EventKind.EVENT_TLS_DATA) this.data(sample);
    else if (kind === EventKind.EVENT_CONN_BIND) {
      if (decodeConnBindEvent(sample)) this.counters.binds++;
      else this.counters.short++;
    } else if (kind === EventKind.EVENT_CONN_CLOSE) this.close(sample);
    else this.counters.unknown++;
  }

  private close(sample: Buffer): void {
    const e = decodeConnCloseEvent(sample);
    if (!e) {
      this.counters.short++;
      return;
    }
    const [read, write] = [e.seq[0] ?? 0, e.seq[1] ?? 0];
    const rec: CaptureRecord = {
      type: 'conn_close',
      ts: this.wallClock(e.hdr.tsNs),
      module: this.module,
      who: whoOf(e.hdr),
      fd: e.fd,
      connId: e.connId.toString(16),
      reason: 'closed',
      bytesRead: read,
      bytesWritten: write,
      finalSeq: { read, write },
    };
    const tuple = e.hdr.flags & EventFlags.EVF_TUPLE ? tupleOf(e.tuple) : undefined;
    if (tuple) rec.tuple = tuple;
    this.emit(rec);
  }

  private data(sample: Buffer): void {
    const e = decodeTlsDataEvent(sample);
    if (!e) {
      this.counters.short++;
      return;
    }
    const n = Math.min(e.payloadLen, sample.length - TlsDataEventLayout.PAYLOAD_OFFSET);
    const tuple = e.hdr.flags & EventFlags.EVF_TUPLE ? tupleOf(e.tuple) : undefined;
    if (!tuple) this.counters.noTuple++;
    this.counters.events++;
    this.counters.bytes += n;
    const rec: DataRecord = {
      type: 'data',
      ts: this.wallClock(e.hdr.tsNs),
      module: this.module,
      who: whoOf(e.hdr),
      dir: e.dir === DataDir.DIR_WRITE ? 'write' : 'read',
      fd: e.fd,
      connId: e.connId.toString(16),
      seq: e.seq,
      payload: e.payload.subarray(0, n),
    };
    if (tuple) rec.tuple = tuple;
    const lib = this.libs.get(e.libId);
    if (lib) rec.lib = lib;
    this.emit(rec);
  }
}

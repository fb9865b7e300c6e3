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
  decodeSockTupleAt,
  EventHdrLayout,
  SockTupleLayout,
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

  /**
   * Per-connection facts that do not change from one event to the next (the tuple and its text, the
   * connection id's hex): decoded once per connection. This is the hot path of the capture (one call per
   * read/write), so it reads the scalars it needs straight from the sample through the generated layout
   * instead of decoding the whole struct (measured with `npm run bench -- pipeline`).
   */
  private conns = new Map<number, Map<number, ConnFacts>>();

  /** The connection of the previous event (pid, connId, facts): consecutive events are often on one connection. */
  private lastPid = -1;
  private lastConnId = -1;
  private lastConn: ConnFacts | undefined;

  private data(b: Buffer): void {
    if (b.length < TlsDataEventLayout.MIN_SIZE) {
      this.counters.short++;
      return;
    }
    // fields read with u32/s32 (indexed loads) rather than Buffer#readUInt32LE, whose argument checks are paid
    // on every call: ~0.05 µs per event in the parsed pipeline bench. All offsets are below MIN_SIZE.
    const flags = u32(b, O.flags);
    const pid = u32(b, O.pid);
    const connId = u32(b, O.conn_id) + u32(b, O.conn_id + 4) * 4294967296;
    const fd = s32(b, O.fd);
    let c = pid === this.lastPid && connId === this.lastConnId ? this.lastConn : this.lookup(pid, connId);
    const hasTuple = (flags & EventFlags.EVF_TUPLE) !== 0;
    if (!c || c.fd !== fd || (hasTuple ? !c.tupleBytes || !sameBytes(b, O.tuple, c.tupleBytes) : c.tupleBytes !== undefined)) {
      c = {
        fd,
        tupleBytes: hasTuple ? Buffer.from(b.subarray(O.tuple, O.tuple + TUPLE_SIZE)) : undefined,
        tuple: hasTuple ? tupleOf(decodeSockTupleAt(b, O.tuple)) : undefined,
        hex: connId.toString(16),
        who: undefined,
      };
      let perPid = this.conns.get(pid);
      if (!perPid) {
        perPid = new Map();
        this.conns.set(pid, perPid);
      }
      if (perPid.size > 4096) perPid.clear(); // bounded: a process with that many live connections re-decodes
      perPid.set(connId, c);
    }
    this.lastPid = pid;
    this.lastConnId = connId;
    this.lastConn = c;
    const n = Math.min(u32(b, O.payload_len), b.length - TlsDataEventLayout.PAYLOAD_OFFSET);
    if (!c.tuple) this.counters.noTuple++;
    this.counters.events++;
    this.counters.bytes += n;
    const rec: DataRecord = {
      type: 'data',
      ts: this.wallClock(u32(b, O.ts_ns) + u32(b, O.ts_ns + 4) * 4294967296),
      module: this.module,
      who: this.whoFor(c, b, pid),
      dir: u32(b, O.dir) === DataDir.DIR_WRITE ? 'write' : 'read',
      fd,
      connId: c.hex,
      seq: u32(b, O.seq) + u32(b, O.seq + 4) * 4294967296,
      payload: b.subarray(TlsDataEventLayout.PAYLOAD_OFFSET, TlsDataEventLayout.PAYLOAD_OFFSET + n),
    };
    if (c.tuple) rec.tuple = c.tuple;
    const lib = this.libs.get(u32(b, O.lib_id));
    if (lib) rec.lib = lib;
    this.emit(rec);
  }

  private lookup(pid: number, connId: number): ConnFacts | undefined {
    return this.conns.get(pid)?.get(connId);
  }

  /**
   * The Who of an event: the connection's previous one when tid, uid, comm and cgroup are the same (the
   * usual case), so an event costs no object and no comm string. Records treat `who` as read-only.
   */
  private whoFor(c: ConnFacts, b: Buffer, pid: number): Who {
    const tid = u32(b, O.tid);
    const uid = u32(b, O.uid);
    const cg = this.cgroup(u32(b, O.cgroup_id) + u32(b, O.cgroup_id + 4) * 4294967296);
    const w = c.who;
    if (w !== undefined && w.tid === tid && w.uid === uid && w.cgroupId === cg && c.commBytes !== undefined && sameBytes(b, O.comm, c.commBytes)) return w;
    const z = b.indexOf(0, O.comm);
    c.who = { pid, tid, uid, comm: b.toString('utf8', O.comm, z >= 0 && z < O.comm + 16 ? z : O.comm + 16), cgroupId: cg };
    c.commBytes = Buffer.from(b.subarray(O.comm, O.comm + 16));
    return c.who;
  }

  // the last cgroup id seen, as a bigint: it rarely changes, and a BigInt per event shows in GC time
  private lastCg = -1;
  private lastCgBig = 0n;
  private cgroup(n: number): bigint {
    if (n !== this.lastCg) {
      this.lastCg = n;
      this.lastCgBig = BigInt(n);
    }
    return this.lastCgBig;
  }

  /** Forget a process's connections (it exited). */
  forgetProcess(pid: number): void {
    this.conns.delete(pid);
    if (pid === this.lastPid) {
      this.lastPid = -1;
      this.lastConn = undefined;
    }
  }
}

/** Offsets of struct tls_data_event fields (nested header fields flattened), from the generated layout. */
const O = (() => {
  const top = Object.fromEntries(TlsDataEventLayout.fields.map((f) => [f.name, f.offset]));
  const hdr = Object.fromEntries(EventHdrLayout.fields.map((f) => [f.name, f.offset + top.hdr!]));
  return { ...top, ...hdr } as Record<string, number>;
})();
const TUPLE_SIZE = SockTupleLayout.SIZE;

interface ConnFacts {
  fd: number;
  tupleBytes: Buffer | undefined;
  tuple: ConnTuple | undefined;
  hex: string;
  /** the Who of the last event and the comm bytes it was made from */
  who: Who | undefined;
  commBytes?: Buffer;
}

/** Little-endian u32 at o (caller checked the bounds). */
export function u32(b: Buffer, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
}

/** Little-endian s32 at o (caller checked the bounds). */
export function s32(b: Buffer, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/** b[off, off + ref.length) equals ref: no subarray per event. */
function sameBytes(b: Buffer, off: number, ref: Buffer): boolean {
  // indexed loads, not readUInt32LE: its argument validation made this loop 5% of the 100-byte benchmark
  for (let i = 0; i < ref.length; i++) if (b[off + i] !== ref[i]) return false;
  return true;
}

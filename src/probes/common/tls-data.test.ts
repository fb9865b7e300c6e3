import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EventFlags, EventHdrLayout, EventKind, TlsDataEventLayout, decodeTlsDataEvent } from '../../gen/events.js';
import type { CaptureRecord, DataRecord } from '../../model/records.js';
import { s32, tupleOf, TlsDataDecoder, u32 } from './tls-data.js';

const F = Object.fromEntries(TlsDataEventLayout.fields.map((f) => [f.name, f.offset]));
const H = Object.fromEntries(EventHdrLayout.fields.map((f) => [f.name, f.offset]));

interface Ev {
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  cg: number;
  connId: number;
  fd: number;
  port: number;
  tuple: boolean;
  dir: 0 | 1;
  seq: number;
  ts: number;
  lib: number;
  payload: string;
}

function sample(e: Ev): Buffer {
  const b = Buffer.alloc(TlsDataEventLayout.PAYLOAD_OFFSET + e.payload.length);
  b.writeUInt32LE(EventKind.EVENT_TLS_DATA, 0);
  b.writeUInt32LE(e.tuple ? EventFlags.EVF_TUPLE : 0, H.flags!);
  b.writeBigUInt64LE(BigInt(e.ts), H.ts_ns!);
  b.writeUInt32LE(e.pid, H.pid!);
  b.writeUInt32LE(e.tid, H.tid!);
  b.writeUInt32LE(e.uid, H.uid!);
  b.writeBigUInt64LE(BigInt(e.cg), H.cgroup_id!);
  b.write(e.comm, H.comm!, 'latin1');
  b.writeBigUInt64LE(BigInt(e.connId), F.conn_id!);
  b.writeBigUInt64LE(BigInt(e.seq), F.seq!);
  b.writeInt32LE(e.fd, F.fd!);
  b.writeUInt32LE(e.dir, F.dir!);
  b.writeUInt32LE(e.lib, F.lib_id!);
  b.writeUInt32LE(e.payload.length, F.payload_len!);
  if (e.tuple) {
    b.writeUInt16LE(2, F.tuple!);
    b.writeUInt16LE(e.port, F.tuple! + 2);
    b.writeUInt16LE(443, F.tuple! + 4);
    b.set([127, 0, 0, 1], F.tuple! + 8);
    b.set([10, 0, 0, 2], F.tuple! + 24);
  }
  b.write(e.payload, TlsDataEventLayout.PAYLOAD_OFFSET, 'latin1');
  return b;
}

/** What the decoder must make of a sample, from the generated full decoder. */
function expected(b: Buffer, libs: Map<number, string>): DataRecord {
  const e = decodeTlsDataEvent(b)!;
  const r: DataRecord = {
    type: 'data', ts: BigInt(e.hdr.tsNs) + 7n, module: 'tls',
    who: { pid: e.hdr.pid, tid: e.hdr.tid, uid: e.hdr.uid, comm: e.hdr.comm, cgroupId: BigInt(e.hdr.cgroupId) },
    dir: e.dir === 1 ? 'write' : 'read', fd: e.fd, connId: e.connId.toString(16), seq: e.seq, payload: e.payload.subarray(0, e.payloadLen),
  };
  const t = e.hdr.flags & EventFlags.EVF_TUPLE ? tupleOf(e.tuple) : undefined;
  if (t) r.tuple = t;
  const lib = libs.get(e.libId);
  if (lib) r.lib = lib;
  return r;
}

describe('TlsDataDecoder', () => {
  it('u32 and s32 read what readUInt32LE and readInt32LE read', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 12 }), fc.nat(8), (a, o) => {
        const b = Buffer.from(a);
        if (o + 4 > b.length) return;
        assert.equal(u32(b, o), b.readUInt32LE(o));
        assert.equal(s32(b, o), b.readInt32LE(o));
      }),
    );
  });

  it('decodes every event as the full decoder does, whatever it caches per connection', () => {
    const ev = fc.record({
      pid: fc.constantFrom(100, 200), tid: fc.constantFrom(100, 101), uid: fc.constantFrom(0, 1000), comm: fc.constantFrom('curl', 'nginx', 'a-sixteen-chars!'),
      cg: fc.constantFrom(0, 5, 2 ** 40), connId: fc.constantFrom(1, 0x55d0c0ffee00, 2 ** 52 + 2), fd: fc.constantFrom(-1, 3, 5), port: fc.constantFrom(1000, 2000),
      tuple: fc.boolean(), dir: fc.constantFrom<0 | 1>(0, 1), seq: fc.nat(), ts: fc.nat(), lib: fc.constantFrom(0, 1, 2), payload: fc.string({ maxLength: 20 }),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(ev, fc.constantFrom('event', 'event', 'event', 'forget'))), (evs) => {
        const out: CaptureRecord[] = [];
        const d = new TlsDataDecoder('tls', (m) => BigInt(m) + 7n, (r) => out.push(r));
        d.libs.set(1, 'openssl 3.0.2');
        for (const [e, what] of evs) {
          if (what === 'forget') {
            d.forgetProcess(e.pid);
            continue;
          }
          const b = sample(e);
          d.handle(b);
          assert.deepStrictEqual(out.pop(), expected(b, d.libs));
        }
      }),
      { numRuns: 300 },
    );
  });
});

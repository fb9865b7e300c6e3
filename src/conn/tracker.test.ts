import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CaptureRecord, ConnCloseRecord, ConnTuple, DataRecord, Direction, GapRecord, L7Record } from '../model/records.js';
import type { HttpMessage } from '../protocols/types.js';
import { ConnTracker } from './tracker.js';

const TUPLE: ConnTuple = { family: 4, local: { addr: '10.0.0.2', port: 40000 }, remote: { addr: '10.0.0.9', port: 443 } };
const who = { pid: 100, tid: 101, uid: 0, comm: 'curl' };

function data(dir: Direction, seq: number, payload: string | Buffer, o: { ts?: number; fd?: number; connId?: string; pid?: number } = {}): DataRecord {
  return {
    type: 'data', ts: BigInt(o.ts ?? 1000) * 1_000_000n, module: 'tls', who: { ...who, pid: o.pid ?? 100 }, dir, fd: o.fd ?? 5,
    connId: o.connId ?? 'c0ffee', tuple: TUPLE, seq, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
  };
}

const REQ = 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n';
const RESP = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';

function all(t: ConnTracker, recs: CaptureRecord[]): CaptureRecord[] {
  return recs.flatMap((r) => t.push(r));
}
const l7 = (out: CaptureRecord[]): HttpMessage[] => out.filter((r): r is L7Record => r.type === 'l7').map((r) => r.msg as HttpMessage);
const types = (out: CaptureRecord[]): string[] => out.map((r) => r.type);

describe('ConnTracker', () => {
  it('turns an HTTP exchange into L7Records that carry who, where and latency', () => {
    const t = new ConnTracker();
    const out = all(t, [data('write', 0, REQ, { ts: 1000 }), data('read', 0, RESP, { ts: 1003 })]);
    const recs = out.filter((r): r is L7Record => r.type === 'l7');
    assert.deepEqual(recs.map((r) => [r.dir, r.msg.kind, r.who.comm, r.fd, r.tuple?.remote.port]), [['write', 'request', 'curl', 5, 443], ['read', 'response', 'curl', 5, 443]]);
    assert.equal((recs[1]!.msg as HttpMessage).latencyNs, 3_000_000);
  });

  it('a connection first seen without its socket (fd -1) learns it: same connection, no gap', () => {
    const t = new ConnTracker({ parse: false });
    const first = { ...data('read', 0, 'GET /a HTTP/1.1\r\nHost: h\r\n\r\n', { fd: -1 }) };
    delete first.tuple;
    const out = all(t, [first, data('read', 28, 'GET /b HTTP/1.1\r\nHost: h\r\n\r\n'), data('write', 0, RESP)]);
    assert.deepEqual(types(out), ['data', 'data', 'data'], 'no gap, no close of a phantom connection');
    assert.equal(t.counters.connsOpened, 1);
  });

  it('passes unknown protocols through as DataRecords, in order', () => {
    const t = new ConnTracker();
    const out = all(t, [data('read', 0, 'SSH-2.0-OpenSSH_9.2\r\n'), data('write', 0, 'SSH-2.0-x\r\n'), data('read', 21, Buffer.alloc(50, 1))]);
    assert.deepEqual(types(out), ['data', 'data', 'data']);
    assert.deepEqual(out.map((r) => (r as DataRecord).payload.length), [21, 11, 50]);
  });

  it('reorders by seq and keeps a copy of what it holds (payloads may be views into a reused batch)', () => {
    const t = new ConnTracker();
    const batch = Buffer.from(REQ);
    const late = data('write', 10, batch.subarray(10));
    const held = t.push(late);
    assert.deepEqual(held, []);
    batch.fill(0x41); // the ring-buffer batch is reused
    const out = t.push(data('write', 0, Buffer.from(REQ).subarray(0, 10)));
    assert.deepEqual(l7(out).map((m) => m.target), ['/x']);
    assert.equal(t.counters.reorderHeld, 1);
  });

  it('declares a hole lost after the reorder wait and tells the parser (gap record, then resync)', () => {
    const t = new ConnTracker({ reorderWaitMs: 100 });
    const a = all(t, [data('write', 0, 'GET /a HTTP/1.1\r\nHo', { ts: 1000 }), data('write', 40, 'GET /b HTTP/1.1\r\n\r\n', { ts: 1001 })]);
    assert.deepEqual(a, []);
    const out = t.tick(1200n * 1_000_000n);
    const gap = out.find((r): r is GapRecord => r.type === 'gap')!;
    assert.deepEqual([gap.seq, gap.lostBytes, gap.dir], [19, 21, 'write']);
    assert.deepEqual(l7(out).map((m) => m.target), ['/b']);
  });

  it('forces a hole when the reorder window is full', () => {
    const t = new ConnTracker({ reorderMaxChunks: 2 });
    const out = all(t, [data('read', 100, 'a'), data('read', 101, 'b'), data('read', 102, 'c')]);
    assert.deepEqual(types(out).slice(0, 1), ['gap']);
    assert.equal(t.counters.reorderForced, 1);
  });

  it('passes kernel gap records through and uses finalSeq at close for tail losses', () => {
    const t = new ConnTracker();
    const kgap: GapRecord = { type: 'gap', ts: 1n, module: 'tls', who, dir: 'read', fd: 5, connId: 'c0ffee', tuple: TUPLE, seq: 0, lostBytes: 7 };
    const close: ConnCloseRecord = { type: 'conn_close', ts: 2n, module: 'tls', who, fd: 5, connId: 'c0ffee', tuple: TUPLE, reason: 'closed', bytesRead: 7, bytesWritten: 60, finalSeq: { read: 7, write: 60 } };
    const out = all(t, [data('write', 0, 'POST /p HTTP/1.1\r\nContent-Length: 30\r\n\r\n0123'), kgap, close]);
    assert.deepEqual(types(out), ['gap', 'gap', 'l7', 'conn_close']);
    const [, tail, msg] = out as [GapRecord, GapRecord, L7Record];
    assert.deepEqual([tail.dir, tail.seq, tail.lostBytes], ['write', 44, 16]);
    assert.deepEqual([(msg.msg as HttpMessage).bodyLost, (msg.msg as HttpMessage).incomplete], [16, 'closed']);
    assert.equal(t.size, 0);
  });

  it('closes idle connections on tick, flushing pending messages first', () => {
    const t = new ConnTracker({ idleTimeoutMs: 5000 });
    all(t, [data('write', 0, REQ, { ts: 1000 }), data('read', 0, 'HTTP/1.1 200 OK\r\n\r\nbody until close', { ts: 1001 })]);
    assert.deepEqual(t.tick(5000n * 1_000_000n), []);
    const out = t.tick(7000n * 1_000_000n);
    assert.deepEqual(types(out), ['l7', 'conn_close']);
    assert.equal((out[1] as ConnCloseRecord).reason, 'idle');
    assert.equal(l7(out)[0]!.body.toString(), 'body until close');
  });

  it('continues a connection closed for idleness at its stream positions, with its HPACK tables', () => {
    const t = new ConnTracker({ idleTimeoutMs: 1000 });
    const frame = (type: number, flags: number, sid: number, p: number[]): Buffer => Buffer.concat([Buffer.from([0, 0, p.length, type, flags, 0, 0, 0, sid]), Buffer.from(p)]);
    const lit = [0x40, 1, 0x78, 2, 0x79, 0x7a]; // literal with indexing: x: yz
    const first = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(1, 5, 1, [0x82, 0x86, 0x84, ...lit])]);
    const out1 = all(t, [data('write', 0, first, { ts: 1000 })]);
    assert.deepEqual(l7(out1).map((m) => m.headers.at(-1)), [['x', 'yz']]);
    assert.deepEqual(types(t.tick(3000n * 1_000_000n)), ['conn_close']);
    const again = frame(1, 5, 3, [0x82, 0x86, 0x84, 0xbe]); // index 62: the entry added before the idle close
    const out2 = all(t, [data('write', first.length, again, { ts: 4000 })]);
    assert.deepEqual(types(out2), ['l7'], 'no gap: the positions were remembered');
    assert.deepEqual(l7(out2)[0]!.headers.at(-1), ['x', 'yz']);
    assert.equal(t.stats().dormantResumed, 1);
  });

  it('starts a new connection when the same id shows up with another fd', () => {
    const t = new ConnTracker();
    const out = all(t, [data('write', 0, REQ), data('write', 0, REQ, { fd: 9 })]);
    assert.deepEqual(types(out), ['l7', 'conn_close', 'l7']);
    assert.equal(t.counters.connReused, 1);
  });

  it('evicts the least recently active connection beyond maxConns, with a notice', () => {
    const t = new ConnTracker({ maxConns: 2 });
    const out = all(t, [data('write', 0, 'GET /a HTTP/1.1\r\n', { connId: 'a' }), data('write', 0, REQ, { connId: 'b' }), data('write', 0, REQ, { connId: 'c' })]);
    assert.ok(types(out).includes('notice'));
    const closed = out.find((r): r is ConnCloseRecord => r.type === 'conn_close')!;
    assert.deepEqual([closed.connId, closed.reason, t.size, t.counters.evicted], ['a', 'limit', 2, 1]);
  });

  it('caps kept bytes per connection, counts the hits and says so once', () => {
    const t = new ConnTracker({ maxConnBytes: 1000 });
    const body = 'x'.repeat(4000);
    const out = all(t, [data('read', 0, `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`), data('read', 4041, 'HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n' + 'y'.repeat(3000))]);
    const msgs = l7(out);
    assert.deepEqual(msgs.map((m) => [m.body.length, m.bodyTruncated]), [[1000, 3000], [1000, 2000]]);
    assert.equal(out.filter((r) => r.type === 'notice').length, 1);
    assert.ok(t.counters.connLimitHits > 0);
    assert.equal(t.keptBytes, 0);
  });

  it('passes other records through and reports stats', () => {
    const t = new ConnTracker({ parse: false });
    const note: CaptureRecord = { type: 'notice', ts: 1n, module: 'tls', who, level: 'info', message: 'hi' };
    assert.deepEqual(t.push(note), [note]);
    assert.deepEqual(types(all(t, [data('write', 0, REQ)])), ['data']);
    const s = t.stats();
    assert.equal(s.conns, 1);
    assert.equal(s.dataBytes, REQ.length);
    assert.ok('parser.messages' in s);
    assert.deepEqual(types(t.flush()), ['conn_close']);
  });

  it('never throws and never keeps more than maxTotalBytes, whatever it is fed', () => {
    const rec = fc.record({
      conn: fc.constantFrom('a', 'b', 'c', 'd'),
      dir: fc.constantFrom<Direction>('read', 'write'),
      seq: fc.nat(3000),
      payload: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(REQ, RESP, 'HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n').map((s) => Buffer.from(s))),
      gap: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(rec, { maxLength: 60 }), (recs) => {
        const t = new ConnTracker({ maxConns: 3, maxConnBytes: 800, maxTotalBytes: 1500, reorderMaxChunks: 4 });
        let ts = 1000;
        for (const r of recs) {
          ts += 10;
          const d = data(r.dir, r.seq, Buffer.from(r.payload), { connId: r.conn, ts });
          t.push(r.gap ? { type: 'gap', ts: d.ts, module: 'tls', who, dir: r.dir, fd: 5, connId: r.conn, seq: r.seq, lostBytes: r.payload.length + 1 } : d);
          assert.ok(t.keptBytes <= 1500);
          if (ts % 100 === 0) t.tick(BigInt(ts) * 1_000_000n);
        }
        t.flush();
        assert.equal(t.keptBytes, 0);
        assert.equal(t.size, 0);
      }),
      { numRuns: 200 },
    );
  });
});

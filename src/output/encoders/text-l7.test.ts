process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureDir, loadFixture, recordedChunks } from '../../../test/fixtures/http/normalize.js';
import { ConnTracker } from '../../conn/tracker.js';
import type { ConnTuple, DataRecord, L7Record } from '../../model/records.js';
import type { L7Message } from '../../protocols/types.js';
import fc from 'fast-check';
import { formatL7, l7HeaderLine, msText, renderBody } from './text-l7.js';
import { encodeText } from './text.js';

const TUPLE: ConnTuple = { family: 4, local: { addr: '127.0.0.1', port: 51000 }, remote: { addr: '127.0.0.1', port: 8443 } };
const TS = 1764121192123000000n; // 2025-11-26T01:39:52.123Z

function rec(msg: L7Message, dir: 'read' | 'write' = 'write'): L7Record {
  return { type: 'l7', ts: TS, module: 'tls', who: { pid: 42, tid: 43, uid: 0, comm: 'curl' }, dir, fd: 5, connId: 'ab', tuple: TUPLE, msg };
}

const req: L7Message = {
  protocol: 'http1', kind: 'request', method: 'GET', target: '/x', version: 'HTTP/1.1', headers: [['Host', 'h']], body: Buffer.alloc(0), bodySize: 0,
};

describe('text-l7', () => {
  it('writes the header line: time, pid, comm, src -> dst, protocol, what', () => {
    assert.equal(l7HeaderLine(rec(req)), '2025-11-26T01:39:52.123+00:00 PID:42 TID:43 Comm:curl UID:0 FD:5 127.0.0.1:51000 -> 127.0.0.1:8443 HTTP/1.1 request');
    assert.equal(formatL7(rec(req)), `${l7HeaderLine(rec(req))}\nGET /x HTTP/1.1\nHost: h\n\n`);
  });

  it('plugs into the text encoder as formatL7', () => {
    assert.equal(encodeText(rec(req), { formatL7 }), formatL7(rec(req)));
  });

  it('shows responses with pairing, latency, decoding and limits', () => {
    const resp: L7Message = {
      protocol: 'http1', kind: 'response', status: 200, reason: 'OK', version: 'HTTP/1.1', headers: [['Content-Encoding', 'gzip']],
      body: Buffer.from('hello'), bodySize: 25, contentEncoding: 'gzip', decoded: true, bodyTruncated: 5, latencyNs: 1_234_567,
      request: { method: 'GET', target: '/x' }, incomplete: 'closed',
    };
    const text = formatL7(rec(resp, 'read'));
    const lines = text.split('\n');
    assert.match(lines[0]!, /127\.0\.0\.1:8443 -> 127\.0\.0\.1:51000 HTTP\/1\.1 response 200 to GET \/x latency 1\.235 ms \[incomplete: closed\]$/);
    assert.deepEqual(lines.slice(1), ['HTTP/1.1 200 OK', 'Content-Encoding: gzip', '', 'hello', '[content-encoding gzip: decoded to 5 bytes from 25]', '[5 of 25 body bytes not kept (size limit)]', '']);
  });

  it('shows binary bodies as size + hex preview, everything as hex with --hex, and honours tsize and tty', () => {
    const bin: L7Message = { ...req, kind: 'response', body: Buffer.from(Array.from({ length: 100 }, (_, i) => i)), bodySize: 100 } as L7Message;
    const t = formatL7(rec(bin)).split('\n');
    assert.equal(t[4], '[binary body, 100 bytes, first 64 shown]');
    assert.equal(t.length, 5 + 4 + 1);
    const hex = formatL7(rec({ ...req, body: Buffer.from('hi\n'), bodySize: 3 } as L7Message), { hex: true });
    assert.match(hex, /00000000 {2}68 69 0a/);
    const long = { ...req, body: Buffer.from('0123456789'), bodySize: 10 } as L7Message;
    assert.match(formatL7(rec(long), { tsize: 4 }), /\n0123\n\.\.\. 6 more bytes not printed \(--tsize 4\)\n$/);
    const ctl = { ...req, headers: [['X', 'a\x1bb']] } as L7Message;
    assert.match(formatL7(rec(ctl), { tty: true }), /X: a\\x1bb/);
  });

  it('shows HTTP/2 streams with pseudo-headers, gRPC messages and status, control frames', () => {
    const g: L7Message = {
      protocol: 'http2', kind: 'response', streamId: 3, status: 200, version: 'HTTP/2', headers: [[':status', '200'], ['content-type', 'application/grpc']],
      body: Buffer.alloc(0), bodySize: 12, grpc: { messages: [{ compressed: false, length: 7, data: Buffer.from('\x0a\x05hello') }], status: 5, message: 'no such thing' },
    };
    const t = formatL7(rec(g, 'read')).split('\n');
    assert.match(t[0]!, /HTTP\/2 stream 3 response 200$/);
    assert.deepEqual(t.slice(1), [':status: 200', 'content-type: application/grpc', '', '[gRPC message 1: 7 bytes]', '[binary message, 7 bytes]', `00000000  0a 05 68 65 6c 6c 6f ${' '.repeat(29)}|..hello|`, '[gRPC status 5 NOT_FOUND: no such thing]', '']);
    const goaway: L7Message = { protocol: 'http2', kind: 'control', frameType: 'GOAWAY', type: 7, flags: 0, streamId: 0, length: 11, lastStreamId: 5, errorCode: 0, errorName: 'NO_ERROR', data: Buffer.from('bye') };
    assert.match(formatL7(rec(goaway)), /HTTP\/2 GOAWAY\nlast_stream=5 error=NO_ERROR debug="bye"\n$/);
  });

  it('shows WebSocket frames and raw data', () => {
    const ws: L7Message = { protocol: 'websocket', kind: 'message', opcode: 1, opcodeName: 'text', masked: true, length: 5, payload: Buffer.from('hello'), fragments: 2 };
    assert.match(formatL7(rec(ws)), /WebSocket text 5 bytes \(masked, 2 fragments\)\nhello\n$/);
    const close: L7Message = { protocol: 'websocket', kind: 'control', opcode: 8, opcodeName: 'close', masked: false, length: 5, payload: Buffer.from('\x03\xe8bye', 'latin1'), closeCode: 1000, closeReason: 'bye' };
    assert.match(formatL7(rec(close)), /\n\[close 1000 bye\]\n$/);
    assert.match(formatL7(rec({ protocol: 'raw', kind: 'data', payload: Buffer.from('tunnel') })), /RAW WRITE 6 bytes\ntunnel\n$/);
  });

  it('renders a body as renderBody does, whatever its bytes and the options (the small-body shortcut included)', () => {
    const head = (m: L7Message, o: Parameters<typeof formatL7>[1]): string => formatL7(rec({ ...m, body: Buffer.alloc(0) } as L7Message), o);
    const bodies = [
      Buffer.from('hello\n'), Buffer.from('héllo ✓\n'), Buffer.from('a\x1bb\tc\r\n'), Buffer.from([0xff, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46]),
      Buffer.from([0x41, 0x42, 0x43, 0xe2, 0x9c]), Buffer.from('x'.repeat(512)), Buffer.from('y'.repeat(513)), Buffer.from('\x01\x02\x03abc'),
    ];
    const check = (body: Buffer, o: Parameters<typeof formatL7>[1]): void => {
      const m = { ...req, body, bodySize: body.length } as L7Message;
      const lines = renderBody(body, o ?? {});
      assert.equal(formatL7(rec(m), o), head(m, o) + (lines.length === 0 ? '' : `${lines.join('\n')}\n`));
    };
    const optsArb = fc.record({ tty: fc.boolean(), hex: fc.boolean(), tsize: fc.constantFrom(undefined, 0, 3, 512, 1000) });
    for (const b of bodies) for (const o of [{}, { tty: true }, { tsize: 3 }, { tsize: 600 }, { hex: true }]) check(b, o);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), optsArb, (b, o) => check(Buffer.from(b), o)), { numRuns: 300 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 100 }), optsArb, (s, o) => check(Buffer.from(s), o)), { numRuns: 200 });
  });

  it('writes latencies as (ns / 1e6).toFixed(3)', () => {
    const check = (ns: number): void => assert.equal(msText(ns), (ns / 1e6).toFixed(3), String(ns));
    for (const ns of [0, 1, 499, 500, 501, 999, 1000, 1499, 1500, 1501, 999_499, 999_500, 999_501, 1_234_567, 2_500, 12_345_500, 1e15 - 1, 1e15, 1e15 + 500, 2 ** 53, 0.5, 1499.5, -1, -1500]) check(ns);
    fc.assert(fc.property(fc.nat({ max: 2 ** 31 }), (n) => check(n)), { numRuns: 5000 });
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => check(n)), { numRuns: 5000 });
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e12 }), (n) => check(n * 1000 + 500)), { numRuns: 2000 });
  });

  it('writes the status line as `${version} ${status} ${reason}` with trailing white space removed', () => {
    for (const reason of [undefined, '', 'OK', 'OK ', 'OK\t', ' ', 'Not Found', 'caf\xe9', 'x\xa0', 'x\u2003', 'x\r', 'x\u0100']) {
      const m = { ...req, kind: 'response', status: 404, reason } as L7Message;
      assert.equal(formatL7(rec(m)).split('\n')[1], `HTTP/1.1 404 ${reason ?? ''}`.trimEnd(), JSON.stringify(reason));
    }
  });

  it('writes who and where from the record even when records share a Who object', () => {
    const who = { pid: 7, tid: 8, uid: 9, comm: 'x' };
    const other: ConnTuple = { family: 6, local: { addr: '::1', port: 1 }, remote: { addr: '::2', port: 2 } };
    const line = (fd: number, tuple: ConnTuple | undefined, dir: 'read' | 'write'): string => {
      const r: L7Record = { type: 'l7', ts: TS, module: 'tls', who, dir, fd, connId: 'ab', msg: req };
      if (tuple) r.tuple = tuple;
      return l7HeaderLine(r);
    };
    const at = '2025-11-26T01:39:52.123+00:00 PID:7 TID:8 Comm:x UID:9';
    assert.equal(line(5, TUPLE, 'write'), `${at} FD:5 127.0.0.1:51000 -> 127.0.0.1:8443 HTTP/1.1 request`);
    assert.equal(line(5, TUPLE, 'read'), `${at} FD:5 127.0.0.1:8443 -> 127.0.0.1:51000 HTTP/1.1 request`);
    assert.equal(line(6, TUPLE, 'write'), `${at} FD:6 127.0.0.1:51000 -> 127.0.0.1:8443 HTTP/1.1 request`);
    assert.equal(line(6, other, 'write'), `${at} FD:6 [::1]:1 -> [::2]:2 HTTP/1.1 request`);
    assert.equal(line(6, undefined, 'write'), `${at} FD:6 ?:? -> ?:? HTTP/1.1 request`);
    assert.equal(line(5, TUPLE, 'write'), `${at} FD:5 127.0.0.1:51000 -> 127.0.0.1:8443 HTTP/1.1 request`);
  });

  it('matches the golden text of real fixtures run through the tracker', () => {
    let out = '';
    for (const name of ['h1-keepalive', 'h1-gzip-chunked', 'h2-grpc', 'ws-plain']) {
      const t = new ConnTracker();
      let i = 0;
      const seq = { c2s: 0, s2c: 0 };
      for (const [d, b] of recordedChunks(loadFixture(name))) {
        const r: DataRecord = {
          type: 'data', ts: TS + BigInt(i++) * 1_000_000n, module: 'tls', who: { pid: 42, tid: 43, uid: 0, comm: 'client' }, dir: d === 'c2s' ? 'write' : 'read',
          fd: 5, connId: name, tuple: TUPLE, seq: seq[d], payload: b,
        };
        seq[d] += b.length;
        for (const x of t.push(r)) if (x.type === 'l7') out += formatL7(x, { tsize: 600 });
      }
      for (const x of t.flush()) if (x.type === 'l7') out += formatL7(x, { tsize: 600 });
    }
    const file = join(fixtureDir(), 'text-l7.golden.txt');
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, out);
    assert.equal(out, readFileSync(file, 'utf8'));
  });
});

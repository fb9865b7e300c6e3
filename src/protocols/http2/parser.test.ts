import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { ConnParser, type ConnEvent } from '../connection.js';
import { H2_PREFACE } from '../detect.js';
import { makeLimits, unlimitedBudget, type Limits } from '../limits.js';
import type { Http2ControlMessage, HttpMessage, L7Message } from '../types.js';

function frame(type: number, flags: number, sid: number, payload: Buffer | number[] = []): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(sid, 5);
  return Buffer.concat([h, p]);
}
/** literal header field: without indexing (0x00) or with incremental indexing (0x40), new name */
const lit = (n: string, v: string, indexing = false): Buffer => Buffer.concat([Buffer.from([indexing ? 0x40 : 0x00, n.length]), Buffer.from(n), Buffer.from([v.length]), Buffer.from(v)]);
const block = (...parts: Array<Buffer | number[]>): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p)));
const GET_ROOT = [0x82, 0x86, 0x84]; // :method GET, :scheme http, :path /
const S200 = [0x88];
const SETTINGS = frame(4, 0, 0, [0, 3, 0, 0, 0, 100]);

type Step = ['w' | 'r', Buffer] | ['gap-w' | 'gap-r', number];

function run(steps: Step[], limits: Partial<Limits> = {}): { msgs: L7Message[]; events: Array<ConnEvent<number>> } {
  const p = new ConnParser<number>({ limits: makeLimits(limits), budget: unlimitedBudget(), timeOf: (t) => BigInt(t) * 1000n });
  const events: Array<ConnEvent<number>> = [];
  steps.forEach(([k, v], i) => {
    if (k === 'gap-w' || k === 'gap-r') p.gap(k === 'gap-w' ? 'write' : 'read', v as number, i);
    else p.push(k === 'w' ? 'write' : 'read', v as Buffer, i);
    events.push(...p.drain());
  });
  p.end();
  events.push(...p.drain());
  return { msgs: events.flatMap((e) => (e.type === 'message' ? [e.msg] : [])), events };
}
const streams = (m: L7Message[]): HttpMessage[] => m.filter((x): x is HttpMessage => x.protocol === 'http2' && x.kind !== 'control');

describe('HTTP/2 parser', () => {
  it('assembles padded, prioritised and CONTINUATION-split header blocks and padded DATA', () => {
    const hb = block(GET_ROOT, lit('x-long', 'v'.repeat(40)));
    const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), hb.subarray(0, 10), Buffer.alloc(3)]);
    const { msgs } = run([
      ['w', Buffer.concat([H2_PREFACE, SETTINGS, frame(1, 0x08 | 0x20 | 0x01, 1, padded), frame(9, 0, 1, hb.subarray(10, 20)), frame(9, 0x04, 1, hb.subarray(20))])],
      ['r', Buffer.concat([SETTINGS, frame(1, 0x04, 1, block(S200)), frame(0, 0x08, 1, Buffer.concat([Buffer.from([2]), Buffer.from('hello'), Buffer.alloc(2)])), frame(0, 0x01, 1, Buffer.from(' world'))])],
    ]);
    const [req, resp] = streams(msgs);
    assert.deepEqual(req!.headers, [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], ['x-long', 'v'.repeat(40)]]);
    assert.deepEqual([resp!.status, resp!.body.toString(), resp!.request?.target, resp!.latencyNs], [200, 'hello world', '/', 1000]);
  });

  it('takes the facts of fields anywhere in a long header list (positions past the decoder\'s 30 noted bits)', () => {
    const filler = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => lit(`x-f${i}`, 'v'));
    // content-type (static name, index 31) and content-length (a new name, then the dynamic entry it made,
    // index 62) far down the list
    const reqBlock = block(...filler(33), [0x82], lit('content-length', '5', true), [0x86, 0x84, 0xbe], [0x0f, 0x10, 16], Buffer.from('application/grpc'));
    const respBlock = block(...filler(31), S200, [0x0f, 0x10, 10], Buffer.from('text/plain'), [0x5c, 1], Buffer.from('3'));
    const { msgs } = run([
      ['w', Buffer.concat([H2_PREFACE, SETTINGS, frame(1, 0x04, 1, reqBlock), frame(0, 0x01, 1, Buffer.from([0, 0, 0, 0, 0]))])],
      ['r', Buffer.concat([SETTINGS, frame(1, 0x04, 1, respBlock), frame(0, 0x01, 1, Buffer.from('abc'))])],
    ]);
    const [req, resp] = streams(msgs);
    assert.deepEqual([req!.method, req!.target, req!.headers.length, req!.grpc?.messages.length], ['GET', '/', 39, 1]);
    assert.deepEqual([resp!.status, resp!.request?.target, resp!.headers.length, resp!.grpc, resp!.body.toString()], [200, '/', 34, undefined, 'abc']);
  });

  it('keeps one HPACK table per direction for the connection life (eCapture #744)', () => {
    const first = block(GET_ROOT, lit('authorization', 'token-1', true));
    const again = block(GET_ROOT, [0xbe]); // index 62 = the entry added by the first block
    const { msgs } = run([['w', Buffer.concat([H2_PREFACE, frame(1, 0x05, 1, first)])], ['w', frame(1, 0x05, 3, again)], ['w', frame(1, 0x05, 5, again)]]);
    assert.deepEqual(streams(msgs).map((m) => m.headers.at(-1)), [['authorization', 'token-1'], ['authorization', 'token-1'], ['authorization', 'token-1']]);
  });

  it('parses a capture that starts mid-connection, noting references to entries it never saw', () => {
    const { msgs, events } = run([['w', Buffer.concat([frame(1, 0x05, 7, block(GET_ROOT, [0xc0])), frame(8, 0, 0, [0, 0, 1, 0])])]]);
    assert.equal(events[0]!.type === 'detected' && events[0]!.protocol, 'http2');
    const m = streams(msgs)[0]!;
    assert.deepEqual([m.kind, m.streamId, m.headers.length], ['request', 7, 3]);
    assert.match(m.notes?.[0] ?? '', /before the capture/);
  });

  it('ends both halves of a stream on RST_STREAM, whichever side sent it', () => {
    const { msgs } = run([
      ['w', Buffer.concat([H2_PREFACE, frame(1, 0x04, 1, block([0x83, 0x86, 0x84])), frame(0, 0, 1, Buffer.from('part'))])],
      ['r', Buffer.concat([frame(1, 0x04, 1, block(S200)), frame(0, 0, 1, Buffer.from('half'))])],
      ['w', frame(3, 0, 1, [0, 0, 0, 8])],
    ]);
    const s = streams(msgs);
    assert.deepEqual(s.map((m) => [m.kind, m.incomplete, m.resetCode, m.body.toString()]), [['request', 'reset', 8, 'part'], ['response', 'reset', 8, 'half']]);
  });

  it('skips unknown frame types, reports SETTINGS and GOAWAY, and more with h2Control all', () => {
    const steps: Step[] = [['w', Buffer.concat([H2_PREFACE, SETTINGS, frame(0xa, 0, 0, Buffer.from('altsvc')), frame(6, 0, 0, Buffer.alloc(8)), frame(7, 0, 0, Buffer.concat([Buffer.from([0, 0, 0, 5, 0, 0, 0, 2]), Buffer.from('bye')]))])]];
    const important = run(steps).msgs as Http2ControlMessage[];
    assert.deepEqual(important.map((m) => m.frameType), ['SETTINGS', 'GOAWAY']);
    assert.deepEqual([important[0]!.settings, important[1]!.errorName, important[1]!.lastStreamId, important[1]!.data?.toString()], [[['MAX_CONCURRENT_STREAMS', 100]], 'INTERNAL_ERROR', 5, 'bye']);
    assert.deepEqual((run(steps, { h2Control: 'all' }).msgs as Http2ControlMessage[]).map((m) => m.frameType), ['SETTINGS', 'PING', 'GOAWAY']);
    assert.equal(run(steps, { h2Control: 'none' }).msgs.length, 0);
  });

  it('flushes the oldest stream when more than maxStreams are open', () => {
    const open = (sid: number): Buffer => frame(1, 0x04, sid, block(GET_ROOT));
    const { msgs } = run([['w', Buffer.concat([H2_PREFACE, open(1), open(3), open(5), frame(0, 1, 3, Buffer.from('x')), frame(0, 1, 5, Buffer.from('y'))])]], { maxStreams: 2 });
    assert.deepEqual(streams(msgs).map((m) => [m.streamId, m.incomplete]), [[1, 'limit'], [3, undefined], [5, undefined]]);
  });

  it('counts a gap inside DATA; a gap elsewhere makes the connection raw', () => {
    const data = frame(0, 1, 1, Buffer.from('0123456789'));
    const ok = run([['r', Buffer.concat([SETTINGS, frame(1, 0x04, 1, block(S200)), data.subarray(0, 12)])], ['gap-r', 5], ['r', data.subarray(17)]]);
    assert.deepEqual([streams(ok.msgs)[0]!.bodyLost, streams(ok.msgs)[0]!.body.toString()], [5, '01289']);
    const bad = run([['r', Buffer.concat([SETTINGS, frame(1, 0x04, 1, block(S200))])], ['gap-r', 20], ['r', data]]);
    assert.ok(bad.events.some((e) => e.type === 'error'));
    assert.deepEqual(streams(bad.msgs).map((m) => m.incomplete), ['gap']);
  });

  it('rejects a CONTINUATION sequence interrupted by another frame', () => {
    const { events } = run([['w', Buffer.concat([H2_PREFACE, frame(1, 0, 1, block(GET_ROOT)), frame(0, 0, 1, Buffer.from('x'))])]]);
    assert.match((events.find((e) => e.type === 'error') as { reason: string }).reason, /CONTINUATION/);
  });

  it('decodes gRPC framing, compressed messages and trailers-only status', () => {
    const msg = (flag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([flag]), Buffer.from([0, 0, 0, body.length]), body]);
    const gz = zlib.gzipSync(Buffer.from('zipped'));
    const grpcHeaders = block(S200, lit('content-type', 'application/grpc'), lit('grpc-encoding', 'gzip'));
    const { msgs } = run([
      ['r', Buffer.concat([SETTINGS, frame(1, 0x04, 1, grpcHeaders), frame(0, 0, 1, Buffer.concat([msg(0, Buffer.from('plain')), msg(1, gz)])), frame(1, 0x05, 1, block(lit('grpc-status', '0')))])],
      ['r', frame(1, 0x05, 3, block(S200, lit('content-type', 'application/grpc'), lit('grpc-status', '13'), lit('grpc-message', 'bad%20thing')))],
    ]);
    const [a, b] = streams(msgs);
    assert.deepEqual(a!.grpc!.messages.map((m) => [m.compressed, m.data.toString()]), [[false, 'plain'], [true, 'zipped']]);
    assert.deepEqual([a!.grpc!.status, b!.grpc!.status, b!.grpc!.message], [0, 13, 'bad thing']);
  });

  it('switches an HTTP/1 connection to HTTP/2 on Upgrade: h2c, pairing stream 1 with the HTTP/1 request', () => {
    const { msgs } = run([
      ['w', Buffer.from('GET /up HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n')],
      ['r', Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'), SETTINGS, frame(1, 0x04, 1, block(S200)), frame(0, 1, 1, Buffer.from('via h2'))])],
      ['w', Buffer.concat([H2_PREFACE, SETTINGS])],
    ]);
    const h2 = streams(msgs);
    assert.deepEqual(h2.map((m) => [m.streamId, m.status, m.body.toString(), m.request?.target]), [[1, 200, 'via h2', '/up']]);
  });
});

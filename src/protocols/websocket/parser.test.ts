import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { makeLimits, unlimitedBudget, type Limits } from '../limits.js';
import { newParserCounters } from '../parser.js';
import type { WebSocketMessage } from '../types.js';
import { WebSocketParser } from './parser.js';

function frame(opcode: number, payload: Buffer, o: { fin?: boolean; mask?: number[]; rsv1?: boolean } = {}): Buffer {
  const fin = o.fin ?? true;
  const len = payload.length;
  const head = [(fin ? 0x80 : 0) | (o.rsv1 ? 0x40 : 0) | opcode];
  const m = o.mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
  if (!o.mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = o.mask;
  return Buffer.concat([Buffer.from([...head, ...key]), payload.map((c, i) => c ^ key[i & 3]!)]);
}

function parse(chunks: Array<Buffer | ['gap', number]>, limits: Partial<Limits> = {}): { msgs: WebSocketMessage[]; error: string | undefined } {
  const msgs: WebSocketMessage[] = [];
  const p = new WebSocketParser<number>(makeLimits(limits), unlimitedBudget(), newParserCounters(), { message: (m) => msgs.push(m as WebSocketMessage) });
  chunks.forEach((c, i) => (Buffer.isBuffer(c) ? p.push(c, i) : p.gap(c[1], i)));
  p.end();
  return { msgs, error: p.error };
}

const key = [0x37, 0xfa, 0x21, 0x3d];

describe('WebSocket parser', () => {
  it('unmasks, and reads 7-, 16- and 64-bit lengths', () => {
    const big = Buffer.alloc(70000, 0x61);
    const { msgs } = parse([frame(1, Buffer.from('Hello'), { mask: key }), frame(2, Buffer.alloc(300, 7)), frame(2, big, { mask: key })]);
    assert.deepEqual(msgs.map((m) => [m.opcodeName, m.length, m.masked]), [['text', 5, true], ['binary', 300, false], ['binary', 70000, true]]);
    assert.equal(msgs[0]!.payload.toString(), 'Hello');
    assert.ok(msgs[2]!.payload.equals(big));
  });

  it('joins fragments, with a control frame in between emitted first', () => {
    const { msgs } = parse([
      frame(1, Buffer.from('Hel'), { fin: false, mask: key }),
      frame(9, Buffer.from('ping!'), { mask: key }),
      frame(0, Buffer.from('lo, '), { fin: false, mask: key }),
      frame(0, Buffer.from('world'), { mask: [9, 8, 7, 6] }),
    ]);
    assert.deepEqual(msgs.map((m) => [m.kind, m.opcodeName, m.payload.toString(), m.fragments]), [
      ['control', 'ping', 'ping!', undefined],
      ['message', 'text', 'Hello, world', 3],
    ]);
  });

  it('reads close codes and reasons', () => {
    const { msgs } = parse([frame(8, Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('going away')]))]);
    assert.deepEqual([msgs[0]!.closeCode, msgs[0]!.closeReason], [1001, 'going away']);
  });

  it('truncates large payloads to the limit, counting the rest', () => {
    const { msgs } = parse([frame(2, Buffer.alloc(5000, 1), { mask: key })], { maxBodyBytes: 1000 });
    assert.deepEqual([msgs[0]!.payload.length, msgs[0]!.payloadTruncated, msgs[0]!.length], [1000, 4000, 5000]);
    assert.ok(msgs[0]!.payload.every((b) => b === 1), 'unmasked with the right key offsets');
  });

  it('inflates permessage-deflate messages, and says so when it cannot', () => {
    const deflated = (s: string): Buffer => {
      const d = zlib.deflateRawSync(Buffer.from(s), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      return d.subarray(0, d.length - 4);
    };
    const { msgs } = parse([frame(1, deflated('compressed hello'), { rsv1: true, mask: key }), frame(1, Buffer.from([0xff, 0xff, 0x00]), { rsv1: true })]);
    assert.deepEqual([msgs[0]!.compressed, msgs[0]!.payload.toString()], [true, 'compressed hello']);
    assert.match(msgs[1]!.notes?.[0] ?? '', /not decoded/);
  });

  it('counts a gap inside a payload; a gap in a frame header or a reserved opcode is an error', () => {
    const f = frame(1, Buffer.from('abcdefgh'));
    const a = parse([f.subarray(0, 4), ['gap', 3], f.subarray(7)]);
    assert.deepEqual([a.msgs[0]!.length, a.msgs[0]!.payload.toString(), a.error], [8, 'abfgh', undefined]);
    assert.ok(parse([f.subarray(0, 1), ['gap', 3], f.subarray(4)]).error);
    assert.match(parse([Buffer.from([0x83, 0x00])]).error ?? '', /reserved opcode/);
  });

  it('flushes a message cut by the end of the connection as incomplete', () => {
    const f = frame(1, Buffer.from('abcdefgh'));
    const { msgs } = parse([f.subarray(0, 6)]);
    assert.deepEqual([msgs[0]!.incomplete, msgs[0]!.payload.toString()], ['closed', 'abcd']);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HpackDecoder } from './hpack.js';
import { huffmanCodes, huffmanDecode } from './huffman.js';
import type { HeaderList } from '../types.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A test-only Huffman encoder over the same code table. */
function huffmanEncode(s: Buffer): Buffer {
  const codes = huffmanCodes();
  const bits: number[] = [];
  for (const c of s) {
    const [code, len] = codes[c]!;
    for (let i = len - 1; i >= 0; i--) bits.push(Math.floor(code / 2 ** i) & 1);
  }
  while (bits.length % 8) bits.push(1);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < bits.length; i++) out[i >> 3]! |= bits[i]! << (7 - (i & 7));
  return out;
}

function decodeAll(d: HpackDecoder, blocks: string[]): HeaderList[] {
  return blocks.map((b) => {
    const out: HeaderList = [];
    const r = d.decode(hex(b), out, 65536, 256);
    assert.equal(r.error, undefined);
    return out;
  });
}

describe('huffman', () => {
  it('decodes the RFC 7541 C.4 strings', () => {
    const h = (s: string): string | undefined => {
      const b = hex(s);
      return huffmanDecode(b, 0, b.length);
    };
    assert.equal(h('f1e3 c2e5 f23a 6ba0 ab90 f4ff'), 'www.example.com');
    assert.equal(h('a8eb 1064 9cbf'), 'no-cache');
    assert.equal(h('25a8 49e9 5ba9 7d7f'), 'custom-key');
    assert.equal(h('25a8 49e9 5bb8 e8b4 bf'), 'custom-value');
  });

  it('the code is complete (Kraft sum 1) and prefix-free by construction', () => {
    const sum = huffmanCodes().reduce((a, [, len]) => a + 2 ** -len, 0);
    assert.equal(sum, 1);
  });

  it('round-trips every byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
        const b = Buffer.from(a);
        const e = huffmanEncode(b);
        assert.equal(huffmanDecode(e, 0, e.length), b.toString('latin1'));
      }),
      { numRuns: 500 },
    );
  });

  it('decodes literals longer than the shared output buffer (8 KiB encoded) and at its edge, and an invalid long one', () => {
    for (const n of [8191, 8192, 40000]) {
      // bytes of 8-bit and longer codes: n input bytes encode to n bytes or more
      const b = Buffer.alloc(n, 'abc{|}~\x80\xff', 'latin1');
      const e = huffmanEncode(b);
      assert.equal(huffmanDecode(e, 0, e.length), b.toString('latin1'), `${n} bytes`);
      // within a larger buffer, at an offset
      const framed = Buffer.concat([Buffer.from([1, 2, 3]), e, Buffer.from([4])]);
      assert.equal(huffmanDecode(framed, 3, 3 + e.length), b.toString('latin1'));
    }
    const bad = Buffer.alloc(9000, 0xff); // EOS inside
    assert.equal(huffmanDecode(bad, 0, bad.length), undefined);
  });

  it('rejects padding longer than 7 bits, padding that is not EOS bits, and EOS itself', () => {
    const www = hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff');
    const longPad = Buffer.concat([www, Buffer.from([0xff])]);
    assert.equal(huffmanDecode(longPad, 0, longPad.length), undefined);
    // 'a' = 00011 (5 bits): padding with zeros is invalid
    assert.equal(huffmanDecode(Buffer.from([0x18]), 0, 1), undefined);
    assert.equal(huffmanDecode(Buffer.from([0x1f]), 0, 1), 'a');
    assert.equal(huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xfc]), 0, 4), undefined); // EOS (30 ones) + 2 zero bits
  });
});

describe('hpack decoder', () => {
  it('RFC 7541 C.3: requests without Huffman, dynamic table kept between blocks', () => {
    const d = new HpackDecoder();
    const [a, b, c] = decodeAll(d, [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ]);
    assert.deepEqual(a, [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
    assert.deepEqual(b, [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']]);
    assert.deepEqual(c, [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]);
    assert.equal(d.tableBytes, 164);
    assert.equal(d.entryCount, 3);
  });

  it('RFC 7541 C.4: the same requests with Huffman', () => {
    const d = new HpackDecoder();
    const [, , c] = decodeAll(d, ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']);
    assert.deepEqual(c, [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]);
    assert.equal(d.tableBytes, 164);
  });

  it('RFC 7541 C.5: responses with eviction (table of 256 bytes)', () => {
    const d = new HpackDecoder(65536, 256);
    const [a, b] = decodeAll(d, [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
    ]);
    const date = 'Mon, 21 Oct 2013 20:13:21 GMT';
    assert.deepEqual(a, [[':status', '302'], ['cache-control', 'private'], ['date', date], ['location', 'https://www.example.com']]);
    assert.deepEqual(b, [[':status', '307'], ['cache-control', 'private'], ['date', date], ['location', 'https://www.example.com']]);
    assert.equal(d.tableBytes, 222);
    assert.equal(d.entryCount, 4);
  });

  it('honours dynamic table size updates (and refuses ones over the limit)', () => {
    const d = new HpackDecoder(4096);
    decodeAll(d, ['4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']);
    assert.equal(d.entryCount, 1);
    decodeAll(d, ['20']); // size update to 0 empties the table
    assert.equal(d.entryCount, 0);
    const r = d.decode(hex('3fe1 3f'), [], 65536, 256); // size update to 31 + 97 + 63·128 = 8192 > 4096
    assert.match(r.error ?? '', /over limit/);
  });

  it('reports references to entries from before the capture and keeps later indices aligned', () => {
    const d = new HpackDecoder();
    const out: HeaderList = [];
    // 0xbe = index 62 (an entry we never saw); then a literal with indexing whose name is index 63 (unknown too)
    const r = d.decode(hex('82 be 7f00 0178'), out, 65536, 256);
    assert.deepEqual(r.unknownRefs, [62, 63 + 0x00 + 0]);
    assert.deepEqual(out, [[':method', 'GET']]);
    assert.equal(d.entryCount, 1, 'the literal still took a slot');
  });

  it('errors on malformed blocks without throwing', () => {
    for (const b of ['80', '41', '418f', 'ff ff ff ff ff 0f', '40 85 ffff ffff ff 00']) {
      const r = new HpackDecoder().decode(hex(b), [], 65536, 256);
      assert.ok(r.error, b);
    }
  });

  it('makes lists from newList() exact whatever the previous list held (longer, shorter, empty, an error)', () => {
    const d = new HpackDecoder();
    const blocks = ['82 86 84 87 88', '82', '', '82 86 84 87 88 89 8a 8b 8c 8d', '80', '86 84'];
    const want = [5, 1, 0, 10, 0, 2];
    blocks.forEach((b, i) => {
      const out = d.newList();
      const r = d.decode(hex(b), out, 65536, 256);
      assert.equal(out.length, want[i], `block ${i}`);
      for (let k = 0; k < out.length; k++) assert.ok(k in out && Array.isArray(out[k]), `block ${i}: slot ${k} filled`);
      if (b === '80') assert.match(r.error ?? '', /index 0/);
    });
  });

  it('bounds the decoded list (an indexed-reference bomb stays small)', () => {
    const d = new HpackDecoder();
    decodeAll(d, ['4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']);
    const out: HeaderList = [];
    const r = d.decode(Buffer.alloc(10000, 0xbe), out, 4096, 1000);
    assert.equal(r.truncated, true);
    assert.ok(out.length < 100);
  });
});

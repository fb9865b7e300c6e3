import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { decodeContent } from './content-decode.js';

const text = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(50));

describe('content decoding', () => {
  it('undoes gzip, x-gzip, deflate (zlib-wrapped and raw), br and stacked codings', () => {
    for (const [enc, body] of [
      ['gzip', zlib.gzipSync(text)],
      ['x-gzip', zlib.gzipSync(text)],
      ['deflate', zlib.deflateSync(text)],
      ['deflate', zlib.deflateRawSync(text)],
      ['br', zlib.brotliCompressSync(text)],
      ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(text))],
      ['identity', text],
    ] as Array<[string, Buffer]>) {
      const r = decodeContent(body, enc, 1 << 20, false);
      assert.ok(r.body.equals(text), enc);
      assert.equal(r.note, undefined, enc);
    }
  });

  it('leaves unknown and broken encodings as they are, with a note', () => {
    const z = decodeContent(text, 'zstd', 1 << 20, false);
    assert.deepEqual([z.decoded, z.body, z.note], [false, text, 'content-encoding zstd not decoded']);
    const bad = decodeContent(Buffer.from('not gzip at all'), 'gzip', 1 << 20, false);
    assert.equal(bad.decoded, false);
    assert.match(bad.note ?? '', /gzip decoding failed/);
  });

  it('decodes the prefix of a truncated body', () => {
    const gz = zlib.gzipSync(text);
    const r = decodeContent(gz.subarray(0, gz.length >> 1), 'gzip', 1 << 20, true);
    assert.ok(r.decoded && r.body.length > 0 && text.subarray(0, r.body.length).equals(r.body));
  });

  it('bounds the output of a decompression bomb', () => {
    for (const [enc, bomb] of [
      ['gzip', zlib.gzipSync(Buffer.alloc(64 << 20))],
      ['br', zlib.brotliCompressSync(Buffer.alloc(64 << 20))],
    ] as Array<[string, Buffer]>) {
      const t = process.hrtime.bigint();
      const r = decodeContent(bomb, enc, 1 << 20, false);
      assert.ok(r.body.length <= 1 << 20, enc);
      assert.match(r.note ?? '', /exceeds/);
      assert.ok(process.hrtime.bigint() - t < 2_000_000_000n, 'bounded work');
    }
  });
});

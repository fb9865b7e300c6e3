import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBatch, forEachSample } from './ringbuf.js';

test('batches round-trip, with 8-byte aligned records', () => {
  const samples = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('hello world!'), Buffer.alloc(100, 7)];
  const batch = buildBatch(samples);
  assert.equal(batch.length % 8, 0);
  const got: Buffer[] = [];
  assert.equal(forEachSample(batch, samples.length, (s) => got.push(Buffer.from(s))), samples.length);
  assert.deepEqual(got, samples);
});

test('a malformed batch never reads past its end', () => {
  const batch = buildBatch([Buffer.from('abcdef')]);
  batch.writeUInt32LE(1000, 0); // length larger than the batch
  let n = 0;
  assert.equal(forEachSample(batch, 5, () => n++), 0);
  assert.equal(forEachSample(Buffer.alloc(2), 1, () => n++), 0);
  assert.equal(n, 0);
});

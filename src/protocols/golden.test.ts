/**
 * Golden fixtures (test/fixtures/http, recorded from real traffic by test/fixtures/http/record.ts): the
 * recorded bytes must parse into the recorded messages — as recorded, split at random points, and byte by
 * byte.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fixtureDir, loadFixture, recordedChunks, replay } from '../../test/fixtures/http/normalize.js';

const names = readdirSync(fixtureDir())
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -5))
  .sort();

/** Split a buffer at the given cut fractions. */
function cutAt(b: Buffer, fractions: number[]): Buffer[] {
  const cuts = [...new Set(fractions.map((f) => Math.floor(f * b.length)))].filter((x) => x > 0 && x < b.length).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(b.subarray(prev, c));
    prev = c;
  }
  out.push(b.subarray(prev));
  return out;
}

describe('golden fixtures', () => {
  it('has fixtures for every feature', () => {
    for (const n of ['h1-keepalive', 'h1-gzip-chunked', 'h1-pipelined', 'h1-encodings', 'h2c-nginx', 'h2-grpc', 'h2-node-misc', 'ws-plain', 'ws-deflate']) {
      assert.ok(names.includes(n), `fixture ${n}`);
    }
  });

  for (const name of names) {
    describe(name, () => {
      const l = loadFixture(name);
      const chunks = recordedChunks(l);
      const limits = l.fixture.limits ?? {};

      it('parses the recorded chunks into the expected messages', () => {
        const { messages, events } = replay(chunks, limits);
        assert.deepEqual(messages, l.fixture.messages);
        assert.equal(events.filter((e) => e.type === 'error' || e.type === 'raw').length, 0, 'no parse errors, no raw fallback');
      });

      it('gives the same messages when the chunks are split at random points', () => {
        fc.assert(
          fc.property(fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), { minLength: chunks.length, maxLength: chunks.length }), (cuts) => {
            let i = 0;
            const { messages } = replay(chunks, limits, (b) => cutAt(b, cuts[i++ % cuts.length] ?? []));
            assert.deepEqual(messages, l.fixture.messages);
          }),
          { numRuns: 25 },
        );
      });

      it('gives the same messages when fed byte by byte', () => {
        const { messages } = replay(chunks, limits, (b) => Array.from({ length: b.length }, (_, k) => b.subarray(k, k + 1)));
        assert.deepEqual(messages, l.fixture.messages);
      });
    });
  }
});

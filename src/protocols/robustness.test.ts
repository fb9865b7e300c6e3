/**
 * Bad bytes never escape a parser: random bytes, and real fixtures mutated (bytes flipped, cut, spliced,
 * started mid-stream), fed in random chunks, never throw, never hit an internal error (a parser must fail
 * by reporting, not by throwing), and never hold more than the limits allow.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fixtureDir, loadFixture, recordedChunks, type Dir } from '../../test/fixtures/http/normalize.js';
import { ConnParser } from './connection.js';
import { makeLimits, MemBudget, type Limits } from './limits.js';

const SMALL: Partial<Limits> = {
  maxHeaderBytes: 2048, maxHeaderCount: 32, maxBodyBytes: 300, maxDecodedBytes: 4096, maxChunkLineBytes: 64,
  maxStreams: 4, maxHpackTableBytes: 4096, maxGrpcMessages: 3, maxControlFrameBytes: 256, maxDetectBytes: 256,
  h2Control: 'all',
};

function feed(chunks: Array<[Dir, Buffer]>, over: Partial<Limits>, budgetLimit: number): void {
  const limits = makeLimits(over);
  const total = new MemBudget(budgetLimit * 2);
  const budget = new MemBudget(budgetLimit, total);
  const p = new ConnParser<number>({ limits, budget, timeOf: (t) => BigInt(t) });
  // detection buffer + per direction one unfinished unit (header block, frame, chunk line)
  const bound = limits.maxDetectBytes + 2 * Math.max(limits.maxHeaderBytes, limits.maxControlFrameBytes) + 2 * limits.maxHeaderBytes;
  let tag = 0;
  const check = (): void => {
    for (const e of p.drain()) {
      if (e.type === 'error') assert.ok(!e.reason.startsWith('internal'), e.reason);
    }
    assert.ok(budget.used <= budget.limit, `budget ${budget.used} > ${budget.limit}`);
    assert.ok(p.queuedBytes() <= bound, `queued ${p.queuedBytes()} > ${bound}`);
  };
  for (const [d, b] of chunks) {
    p.push(d === 'c2s' ? 'write' : 'read', b, tag++);
    check();
    if (tag % 7 === 3) {
      p.gap(d === 'c2s' ? 'read' : 'write', (tag * 13) % 50, tag);
      check();
    }
  }
  p.end();
  check();
  assert.equal(budget.used, 0, 'everything given back after end()');
}

const fixtures = readdirSync(fixtureDir())
  .filter((f) => f.endsWith('.json'))
  .map((f) => recordedChunks(loadFixture(f.slice(0, -5))));

const dirArb = fc.constantFrom<Dir>('c2s', 's2c');

describe('robustness', () => {
  it('random bytes in random chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(dirArb, fc.uint8Array({ maxLength: 400 })), { maxLength: 30 }), fc.boolean(), (chunks, small) => {
        feed(chunks.map(([d, b]) => [d, Buffer.from(b)]), small ? SMALL : {}, 4096);
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes after a valid start (HTTP/1, HTTP/2 preface, WebSocket upgrade)', () => {
    const starts = [
      'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      'GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...starts), fc.array(fc.tuple(dirArb, fc.uint8Array({ maxLength: 300 })), { maxLength: 20 }), (start, rest) => {
        const chunks: Array<[Dir, Buffer]> = [['c2s', Buffer.from(start)]];
        if (start.includes('websocket')) chunks.push(['s2c', Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')]);
        feed([...chunks, ...rest.map(([d, b]): [Dir, Buffer] => [d, Buffer.from(b)])], SMALL, 2048);
      }),
      { numRuns: 300 },
    );
  });

  it('mutated real traffic (flipped, cut, spliced, mid-stream)', () => {
    const mutation = fc.record({
      fixture: fc.nat(fixtures.length - 1),
      flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      skipChunks: fc.nat(4),
      cutFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      resplit: fc.integer({ min: 1, max: 700 }),
      small: fc.boolean(),
    });
    fc.assert(
      fc.property(mutation, (m) => {
        const src = fixtures[m.fixture]!.slice(m.skipChunks);
        const chunks: Array<[Dir, Buffer]> = [];
        for (const [d, b0] of src) {
          const b = Buffer.from(b0);
          for (const [at, v] of m.flips) if (b.length > 0) b[Math.floor(at * b.length)] = v;
          const start = chunks.length === 0 ? Math.floor(m.cutFraction * b.length) : 0; // begin mid-chunk
          for (let o = start; o < b.length; o += m.resplit) chunks.push([d, b.subarray(o, o + m.resplit)]);
        }
        feed(chunks, m.small ? SMALL : {}, m.small ? 1000 : 1 << 20);
      }),
      { numRuns: 400 },
    );
  });
});

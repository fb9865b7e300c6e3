import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { StreamMap } from './stream-map.js';

/** Apply the same operations to a StreamMap and a Map; they must agree after each one. */
function agree(ops: Array<[number, number]>): void {
  const m = new StreamMap<number>();
  const ref = new Map<number, number>();
  ops.forEach(([op, key], n) => {
    if (op < 4) {
      m.set(key, n);
      ref.set(key, n);
    } else if (op < 7) {
      assert.equal(m.delete(key), ref.delete(key));
    } else {
      assert.equal(m.get(key), ref.get(key));
    }
    assert.equal(m.size, ref.size);
    assert.equal(m.firstKey(), ref.keys().next().value);
    if (n % 16 === 0) assert.deepEqual(m.values(), [...ref.values()]);
  });
  assert.deepEqual(m.values(), [...ref.values()]);
}

describe('StreamMap', () => {
  it('behaves as a Map: get, set, delete, size, oldest key, values in insertion order', () => {
    // few distinct keys: collisions, deletes in the middle of probe runs, keys set again after a delete
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 40 })), { maxLength: 400 }), agree), { numRuns: 300 });
    // stream-like ids over the whole range
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 0x7fffffff })), { maxLength: 200 }), agree), { numRuns: 100 });
  });

  it('keeps order across growth, compaction and emptying', () => {
    const ops: Array<[number, number]> = [];
    for (let i = 0; i < 3000; i++) {
      ops.push([0, 2 * i + 1]); // open stream 2i+1
      if (i >= 50) ops.push([5, 2 * (i - 50) + 1]); // and close one opened 50 streams before
    }
    for (let i = 2950; i < 3000; i++) ops.push([5, 2 * i + 1]);
    ops.push([0, 7], [0, 9], [5, 7], [0, 7], [5, 7], [5, 9]);
    // a burst large enough that the emptied map lets its slots go, then use after that
    for (let i = 0; i < 400; i++) ops.push([0, 10001 + 2 * i]);
    for (let i = 399; i >= 0; i--) ops.push([5, 10001 + 2 * i]);
    ops.push([0, 5], [0, 3], [9, 5], [5, 3]);
    agree(ops);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { nsBetween } from './pairing.js';

describe('nsBetween', () => {
  it('equals Number(later - earlier) on edge cases', () => {
    const epoch = 1764150000123456789n; // ns since 1970, as the capture's timestamps
    const cases: Array<[bigint, bigint]> = [
      [0n, 0n],
      [1n, 0n],
      [epoch, epoch],
      [epoch + 1n, epoch],
      [epoch + 1_500_000n, epoch],
      [0x1_0000_0000n, 0xffff_ffffn], // the low halves wrap
      [0x5_0000_0001n, 0x4_ffff_ffffn],
      [epoch + 2n ** 40n + 12345n, epoch],
      [2n ** 53n - 1n, 0n],
      [2n ** 64n - 1n, 2n ** 64n - 2n ** 52n],
    ];
    for (const [a, b] of cases) assert.equal(nsBetween(a, b), Number(a - b), `${a} - ${b}`);
  });

  it('equals Number(later - earlier) for any pair less than 2^53 apart', () => {
    fc.assert(
      fc.property(fc.bigUintN(64), fc.bigUintN(53), (earlier, gap) => {
        const later = earlier + gap;
        fc.pre(later < 2n ** 64n);
        return nsBetween(later, earlier) === Number(gap);
      }),
      { numRuns: 2000 },
    );
  });
});

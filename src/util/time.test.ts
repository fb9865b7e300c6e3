import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTime } from './time.js';

/** The exact rendering, from the exact millisecond (BigInt division). */
function exact(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(ms % 1000, 3)}${off >= 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}

test('formatTime: the exact millisecond, also a few ns either side of a millisecond boundary', () => {
  const base = 1_764_000_000_000n * 1_000_000n; // a millisecond boundary
  const cases: bigint[] = [];
  for (const d of [-3000n, -1n, 0n, 1n, 255n, 256n, 257n, 999_999n, 1_000_000n, 1_000_001n]) cases.push(base + d);
  for (let i = 0; i < 2000; i++) cases.push(base + BigInt(Math.floor(Math.random() * 1e12)));
  for (const ns of cases) assert.equal(formatTime(ns), exact(ns), `${ns}`);
});

test('formatTime: events of one millisecond share the cached text, and the next one is new', () => {
  const t = 1_764_000_000_123_000_000n;
  const a = formatTime(t + 10n);
  assert.equal(formatTime(t + 999_000n), a);
  assert.notEqual(formatTime(t + 1_000_000n), a);
  assert.match(a, /\.123[+-]\d\d:\d\d$/);
});

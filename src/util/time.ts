/**
 * Wall-clock timestamps for output: local time with milliseconds and the UTC offset,
 * e.g. 2026-11-26T01:39:52.123+01:00. The formatted second is cached: output runs at
 * hundreds of thousands of events per second and Date formatting is the costliest part.
 */
let cachedSec = -1;
let cachedPrefix = '';
let cachedOffset = '';

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

let lastMs = -1;
let lastText = '';

/** Format wall-clock nanoseconds since the epoch. */
export function formatTime(tsNs: bigint): string {
  // Number(tsNs) is exact to ~256 ns at today's dates: enough for milliseconds, except within a few hundred
  // ns of a millisecond boundary, where the exact BigInt division decides. Events of one millisecond share
  // one string (a BigInt division and a string per event showed in the capture's profile).
  const f = Number(tsNs);
  let ms = Math.floor(f / 1e6);
  const rem = f - ms * 1e6;
  if (rem < 2048 || rem > 1e6 - 2048) ms = Number(tsNs / 1_000_000n);
  if (ms === lastMs) return lastText;
  lastMs = ms;
  const sec = Math.floor(ms / 1000);
  if (sec !== cachedSec) {
    const d = new Date(sec * 1000);
    cachedSec = sec;
    cachedPrefix = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    const off = -d.getTimezoneOffset();
    cachedOffset = `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  }
  lastText = `${cachedPrefix}.${pad(ms - sec * 1000, 3)}${cachedOffset}`;
  return lastText;
}

/** Wall-clock now in nanoseconds. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

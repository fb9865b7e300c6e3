/**
 * Protocol detection from the first bytes of a connection direction. Strict on purpose (eCapture's HTTP/2
 * "first 9 bytes look like a frame header" rule mistakes other protocols for HTTP/2): an HTTP/1 request
 * needs a known method, a space and a target; a response "HTTP/1.x NNN"; HTTP/2 the client preface, or a
 * SETTINGS frame on stream 0, or two consecutive frame headers that are valid for their types.
 * Returns 'more' while the bytes seen are a prefix of something recognisable (unless `final`).
 */
import { METHODS } from './http1/head.js';

export type Detected =
  | { protocol: 'http1'; side: 'request' | 'response' }
  | { protocol: 'http2'; preface: boolean }
  | { protocol: 'tls' }
  | { protocol: 'unknown' };

export type Verdict = 'yes' | 'no' | 'more';

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const MAX_METHOD = 17; // 'BASELINE-CONTROL' + 1
const SP = 0x20;

function isUpperOrDash(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || c === 0x2d;
}

/** Does `b` start with an HTTP/1 request line? */
export function checkRequestStart(b: Buffer): Verdict {
  const n = Math.min(b.length, MAX_METHOD + 1);
  let sp = -1;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === SP) {
      sp = i;
      break;
    }
    if (!isUpperOrDash(c)) return 'no';
  }
  if (sp < 0) {
    if (b.length > MAX_METHOD) return 'no';
    const pre = b.toString('latin1');
    for (const m of METHODS) if (m.startsWith(pre)) return 'more';
    return 'no';
  }
  // GET without a string and a Set lookup (~0.06 µs per request head in the parsed pipeline bench)
  const get = sp === 3 && b[0] === 0x47 && b[1] === 0x45 && b[2] === 0x54;
  if (!get && !METHODS.has(b.toString('latin1', 0, sp))) return 'no';
  if (b.length <= sp + 1) return 'more';
  const t = b[sp + 1]!;
  return t > SP && t < 0x7f ? 'yes' : 'no';
}

const HTTP1 = Buffer.from('HTTP/1.', 'latin1');

/** Does `b` start with an HTTP/1 status line ("HTTP/1.x NNN")? */
export function checkResponseStart(b: Buffer): Verdict {
  const n = Math.min(b.length, 12);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    const ok =
      i < 7 ? c === HTTP1[i] : i === 7 ? c >= 0x30 && c <= 0x39 : i === 8 ? c === SP : c >= 0x30 && c <= 0x39;
    if (!ok) return 'no';
  }
  return b.length >= 12 ? 'yes' : 'more';
}

function checkPreface(b: Buffer): Verdict {
  const n = Math.min(b.length, H2_PREFACE.length);
  if (b.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'no';
  return n === H2_PREFACE.length ? 'yes' : 'more';
}

/** Flags each frame type defines (RFC 9113 §6). */
const FRAME_FLAGS = [0x09, 0x2d, 0x00, 0x00, 0x01, 0x0c, 0x01, 0x00, 0x00, 0x04];

/** Is there a frame header at `off` that is valid for its type? Returns its payload length, or -1. */
export function plausibleFrame(b: Buffer, off: number): number {
  const len = (b[off]! << 16) | (b[off + 1]! << 8) | b[off + 2]!;
  const type = b[off + 3]!;
  const flags = b[off + 4]!;
  const sid = b.readUInt32BE(off + 5);
  if (type > 9 || (flags & ~FRAME_FLAGS[type]!) !== 0 || sid > 0x7fffffff || len > 1 << 20) return -1;
  const zeroStream = type === 4 || type === 6 || type === 7;
  if (zeroStream ? sid !== 0 : type !== 8 && sid === 0) return -1;
  switch (type) {
    case 2: return len === 5 ? len : -1;
    case 3: return len === 4 ? len : -1;
    case 4: return (flags & 1 ? len === 0 : len % 6 === 0) ? len : -1;
    case 6: return len === 8 ? len : -1;
    case 7: return len >= 8 ? len : -1;
    case 8: return len === 4 ? len : -1;
    default: return len;
  }
}

function checkFrames(b: Buffer, final: boolean, expectH2: boolean): Verdict {
  if (b.length < 9) return final ? 'no' : 'more';
  const len = plausibleFrame(b, 0);
  if (len < 0) return 'no';
  if (b[3] === 4 || expectH2) return 'yes'; // SETTINGS on stream 0 with a valid length: strong enough alone
  const next = 9 + len;
  if (b.length < next + 9) return final ? 'no' : 'more';
  return plausibleFrame(b, next) >= 0 ? 'yes' : 'no';
}

/**
 * Detect the protocol of a direction from its first bytes. `expectH2`: this connection was HTTP/2 before
 * an idle close, so one valid frame header is enough.
 */
export function detect(b: Buffer, final: boolean, expectH2 = false): Detected | 'more' {
  if (b.length === 0) return final ? { protocol: 'unknown' } : 'more';
  const pre = checkPreface(b);
  if (pre === 'yes') return { protocol: 'http2', preface: true };
  const req = checkRequestStart(b);
  if (req === 'yes') return { protocol: 'http1', side: 'request' };
  const resp = checkResponseStart(b);
  if (resp === 'yes') return { protocol: 'http1', side: 'response' };
  if (b.length >= 3 && b[0]! >= 0x14 && b[0]! <= 0x17 && b[1] === 0x03 && b[2]! <= 0x04) return { protocol: 'tls' };
  const frames = checkFrames(b, final, expectH2);
  if (frames === 'yes') return { protocol: 'http2', preface: false };
  if (!final && (pre === 'more' || req === 'more' || resp === 'more' || frames === 'more' || b.length < 3)) return 'more';
  return { protocol: 'unknown' };
}

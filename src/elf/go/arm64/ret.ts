/**
 * Offsets of every RET instruction of an arm64 function. A64 instructions are fixed 4-byte little-endian
 * words, so no decoding is needed: RET is `RET Xn` = 0xd65f0000 | n << 5 (plain `RET` uses X30:
 * 0xd65f03c0). Go never emits the pointer-authentication forms (RETAA/RETAB).
 */
import { CaptureError } from '../../../errors.js';

export const ARM64_RET = 0xd65f03c0;
const RET_MASK = 0xfffffc1f;
const RET_BITS = 0xd65f0000;

/** True when the 32-bit word is `RET Xn` for any n. */
export function isArm64Ret(word: number): boolean {
  return ((word & RET_MASK) >>> 0) === RET_BITS;
}

/** Offsets (relative to the start of `code`, multiples of 4) of the RET words in one function's code. */
export function findArm64Rets(code: Uint8Array, what: string): number[] {
  if (code.length % 4 !== 0) {
    throw new CaptureError('ECAP_ELF', `decode arm64 machine code of ${what}: length ${code.length} is not a multiple of 4`);
  }
  const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const out: number[] = [];
  for (let off = 0; off < code.length; off += 4) {
    if (isArm64Ret(view.getUint32(off, true))) out.push(off);
  }
  return out;
}

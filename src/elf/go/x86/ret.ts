/**
 * Offsets of every RET instruction of an x86-64 function, found by decoding its machine code from the entry
 * to the end (never by scanning for 0xC3 bytes, which also occur inside immediates and displacements).
 *
 * Decoding is checked for desynchronisation two ways: the last instruction must end exactly at the
 * function's end, and every direct branch whose target lies inside the function must land on an
 * instruction boundary. Either failure is an error, never a silently wrong offset.
 */
import { CaptureError } from '../../../errors.js';
import { decodeX86, X86DecodeError } from './length.js';

export interface RetScan {
  /** offsets of RET instructions, relative to the start of `code` */
  rets: number[];
  /** number of instructions decoded */
  instructions: number;
  /** whether any VEX/EVEX-encoded (AVX) instruction was seen */
  vex: boolean;
  /** instruction start offsets (only when asked for with `boundaries: true`) */
  boundaries?: number[];
}

/**
 * Find the RET instructions in `code` (the bytes of one function, entry first).
 * `what` names the function for error messages (e.g. "crypto/tls.(*Conn).Read in /path/bin").
 */
export function findX86Rets(code: Uint8Array, what: string, opts: { boundaries?: boolean } = {}): RetScan {
  const rets: number[] = [];
  const starts: number[] = [];
  const targets: { from: number; to: number }[] = [];
  let off = 0;
  let vex = false;
  try {
    while (off < code.length) {
      const insn = decodeX86(code, off, code.length);
      starts.push(off);
      if (insn.isRet) rets.push(off);
      if (insn.vex) vex = true;
      if (insn.branchTarget !== undefined && insn.branchTarget >= 0 && insn.branchTarget < code.length) {
        targets.push({ from: off, to: insn.branchTarget });
      }
      off += insn.length;
    }
  } catch (e) {
    if (e instanceof X86DecodeError) {
      throw new CaptureError('ECAP_ELF', `decode x86-64 machine code of ${what}: ${e.message}`, {
        cause: e,
        hint: 'the function could not be decoded, so its RET offsets are unknown; please report this binary',
      });
    }
    throw e;
  }
  const isStart = new Uint8Array(code.length);
  for (const s of starts) isStart[s] = 1;
  for (const t of targets) {
    if (!isStart[t.to]) {
      throw new CaptureError(
        'ECAP_ELF',
        `decode x86-64 machine code of ${what}: the branch at +0x${t.from.toString(16)} targets +0x${t.to.toString(16)}, ` +
          'which is not an instruction boundary (decoder out of step)',
        { hint: 'the RET offsets of this function cannot be trusted; please report this binary' },
      );
    }
  }
  const scan: RetScan = { rets, instructions: starts.length, vex };
  if (opts.boundaries) scan.boundaries = starts;
  return scan;
}

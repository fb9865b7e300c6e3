/**
 * A minimal x86-64 instruction LENGTH decoder (64-bit mode only).
 *
 * Why hand-written: the only maintained npm disassembler that fits (iced-x86, Rust compiled to WebAssembly,
 * ~MBs) is not among the project's dependencies and may not be installed, and we need much less than a
 * disassembler: only where each instruction starts, so that we can find the RET instructions of a Go
 * function without ever mistaking an immediate or displacement byte 0xC3 for a RET. The decoder knows, per
 * opcode, whether a ModRM byte follows and how many immediate bytes follow; it handles legacy prefixes,
 * REX, VEX (2 and 3 byte), EVEX, the 0F / 0F38 / 0F3A maps, SIB and displacements, operand-size and
 * address-size overrides, and the odd cases (F6/F7 TEST immediates, A0–A3 moffs, C8 ENTER, B8–BF imm64,
 * 0F 20–23 register-only ModRM, 3DNow! suffix byte). ret.test.ts checks it against `go tool objdump` and
 * GNU objdump on every function (runtime, crypto/tls and all others) of a real Go binary; findX86Rets
 * (ret.ts) also refuses any decode that falls out of step with the function's own branch targets.
 *
 * It is only as precise as lengths need: invalid opcodes (in 64-bit mode) are rejected, but operand
 * combinations that would #UD are not.
 */

/** Per-opcode shape codes, one character per opcode, 16 per row. */
// n: no operands   m: ModRM   b: imm8   z: imm16/32 (66 prefix → 16)   M: ModRM+imm8   Z: ModRM+imm16/32
// w: imm16   v: imm16/32/64 (B8–BF)   o: moffs (addr size)   e: imm16+imm8 (ENTER)   r: rel32
// g/G: F6/F7 group (imm8 / imm16/32 when ModRM.reg is 0 or 1)   p: legacy prefix   R: REX
// X: 0F escape   V: VEX/EVEX escape   c: ModRM, register form only (0F 20–23)   T/U: 0F38 / 0F3A escapes
// x: invalid in 64-bit mode
const ONE_BYTE = [
  'mmmmbzxxmmmmbzxX', 'mmmmbzxxmmmmbzxx', 'mmmmbzpxmmmmbzpx', 'mmmmbzpxmmmmbzpx',
  'RRRRRRRRRRRRRRRR', 'nnnnnnnnnnnnnnnn', 'xxVmppppzZbMnnnn', 'bbbbbbbbbbbbbbbb',
  'MZxMmmmmmmmmmmmm', 'nnnnnnnnnnxnnnnn', 'oooonnnnbznnnnnn', 'bbbbbbbbvvvvvvvv',
  'MMwnVVMZenwnnbxn', 'mmmmxxxnmmmmmmmm', 'bbbbbbbbrrxbnnnn', 'pnppnngGnnnnnnmm',
].join('');

const TWO_BYTE = [
  'mmmmxnnnnnxnxmnM', 'mmmmmmmmmmmmmmmm', 'ccccxxxxmmmmmmmm', 'nnnnnnnnTxUxxxxx',
  'mmmmmmmmmmmmmmmm', 'mmmmmmmmmmmmmmmm', 'mmmmmmmmmmmmmmmm', 'MMMMmmmnmmmmmmmm',
  'rrrrrrrrrrrrrrrr', 'mmmmmmmmmmmmmmmm', 'nnnmMmxxnnnmMmmm', 'mmmmmmmmmmMmmmmm',
  'mmMmMMMmnnnnnnnn', 'mmmmmmmmmmmmmmmm', 'mmmmmmmmmmmmmmmm', 'mmmmmmmmmmmmmmmm',
].join('');

/** VEX/EVEX map 0F opcodes that take an imm8 (PSHUFD/PSRL*I, CMPPS, PINSRW, PEXTRW, SHUFPS). */
const VEX_0F_IMM8 = new Set([0x70, 0x71, 0x72, 0x73, 0xc2, 0xc4, 0xc5, 0xc6]);

export const MAX_INSN_LENGTH = 15;

export class X86DecodeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'X86DecodeError';
  }
}

export interface X86Insn {
  /** offset of the first byte (prefixes included) in the code buffer */
  offset: number;
  length: number;
  /** opcode byte (without map escape) and map: 0 one-byte, 1 0F, 2 0F38, 3 0F3A; VEX/EVEX use their map */
  opcode: number;
  map: number;
  /** VEX/EVEX encoded */
  vex: boolean;
  /** near RET (C3, C2 iw), with or without prefixes (REP RET = F3 C3) */
  isRet: boolean;
  /** target offset (in the same buffer) of a direct relative JMP/Jcc/CALL/LOOP/JRCXZ, else undefined */
  branchTarget?: number;
}

/**
 * Decode the instruction at `code[off]`, reading no byte at or beyond `end`.
 * Throws X86DecodeError for an opcode invalid in 64-bit mode, for truncation and for >15 byte instructions.
 */
export function decodeX86(code: Uint8Array, off: number, end: number = code.length): X86Insn {
  let p = off;
  let opsize16 = false;
  let addr32 = false;
  let rexW = false;
  const byte = (): number => {
    if (p >= end) throw new X86DecodeError(`truncated instruction at offset 0x${off.toString(16)}`, off);
    return code[p++]!;
  };

  let b = byte();
  let kind = ONE_BYTE[b]!;
  // Prefixes. A REX byte only counts when the opcode follows it directly.
  while (kind === 'p' || kind === 'R') {
    if (kind === 'p') {
      if (b === 0x66) opsize16 = true;
      else if (b === 0x67) addr32 = true;
      rexW = false;
    } else {
      rexW = (b & 8) !== 0;
    }
    if (p - off >= MAX_INSN_LENGTH) throw tooLong(off);
    b = byte();
    kind = ONE_BYTE[b]!;
  }

  let map = 0;
  let vex = false;
  let modrm = false;
  let regOnly = false;
  let imm = 0;
  let rel = 0;
  let group: 'g' | 'G' | undefined;
  const immz = opsize16 ? 2 : 4;

  if (kind === 'X') {
    map = 1;
    b = byte();
    kind = TWO_BYTE[b]!;
    if (kind === 'T' || kind === 'U') {
      map = kind === 'T' ? 2 : 3;
      b = byte();
      modrm = true;
      imm = map === 3 ? 1 : 0;
      kind = '';
    }
  } else if (kind === 'V') {
    vex = true;
    const escape = b;
    if (b === 0xc5) {
      byte();
      map = 1;
    } else if (b === 0xc4) {
      map = byte() & 0x1f;
      byte();
    } else {
      map = byte() & 0x07; // EVEX P0.mmm
      byte();
      byte();
    }
    if (map < 1 || map > 6 || map === 4) throw new X86DecodeError(`VEX/EVEX opcode map ${map} at offset 0x${off.toString(16)}`, off);
    b = byte();
    kind = '';
    modrm = !(map === 1 && b === 0x77 && escape !== 0x62); // VZEROUPPER/VZEROALL have no ModRM
    imm = map === 3 || (map === 1 && VEX_0F_IMM8.has(b)) ? 1 : 0;
  }

  switch (kind) {
    case '':
      break;
    case 'n':
      break;
    case 'm':
      modrm = true;
      break;
    case 'c':
      modrm = true;
      regOnly = true;
      break;
    case 'b':
      imm = 1;
      if ((map === 0 && ((b >= 0x70 && b <= 0x7f) || (b >= 0xe0 && b <= 0xe3) || b === 0xeb))) rel = 1;
      break;
    case 'z':
      imm = immz;
      break;
    case 'M':
      modrm = true;
      imm = 1;
      break;
    case 'Z':
      modrm = true;
      imm = immz;
      break;
    case 'w':
      imm = 2;
      break;
    case 'v':
      imm = rexW ? 8 : immz;
      break;
    case 'o':
      imm = addr32 ? 4 : 8;
      break;
    case 'e':
      imm = 3;
      break;
    case 'r':
      imm = 4; // near JMP/CALL/Jcc rel32: operand size is fixed at 64 bits in 64-bit mode (Intel)
      rel = 4;
      break;
    case 'g':
    case 'G':
      modrm = true;
      group = kind;
      break;
    default:
      throw new X86DecodeError(
        `invalid opcode ${map === 1 ? '0f ' : ''}${b.toString(16).padStart(2, '0')} at offset 0x${off.toString(16)}`,
        off,
      );
  }

  if (modrm) {
    const m = byte();
    const mod = m >> 6;
    const rm = m & 7;
    if (group && ((m >> 3) & 7) < 2) imm = group === 'g' ? 1 : immz;
    if (mod !== 3 && !regOnly) {
      if (rm === 4) {
        const sib = byte();
        if (mod === 0 && (sib & 7) === 5) p += 4;
      } else if (mod === 0 && rm === 5) {
        p += 4; // RIP-relative disp32
      }
      if (mod === 1) p += 1;
      else if (mod === 2) p += 4;
    }
  }
  p += imm;
  const length = p - off;
  if (length > MAX_INSN_LENGTH) throw tooLong(off);
  if (p > end) throw new X86DecodeError(`truncated instruction at offset 0x${off.toString(16)}`, off);

  const insn: X86Insn = { offset: off, length, opcode: b, map, vex, isRet: map === 0 && !vex && (b === 0xc3 || b === 0xc2) };
  if (rel) {
    const disp = rel === 1 ? (code[p - 1]! << 24) >> 24 : readInt32(code, p - 4);
    insn.branchTarget = p + disp;
  }
  return insn;
}

function readInt32(code: Uint8Array, at: number): number {
  return (code[at]! | (code[at + 1]! << 8) | (code[at + 2]! << 16) | (code[at + 3]! << 24)) | 0;
}

function tooLong(off: number): X86DecodeError {
  return new X86DecodeError(`instruction longer than ${MAX_INSN_LENGTH} bytes at offset 0x${off.toString(16)}`, off);
}

/** Decode `code[start..end)` instruction by instruction. Throws X86DecodeError on the first failure. */
export function* decodeAllX86(code: Uint8Array, start = 0, end: number = code.length): Generator<X86Insn> {
  for (let off = start; off < end; ) {
    const insn = decodeX86(code, off, end);
    yield insn;
    off += insn.length;
  }
}

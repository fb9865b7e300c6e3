/**
 * Cross-checks a layout against the library's own code. Small exported accessors such as
 * `SSL_SESSION *SSL_get_session(const SSL *s) { return s->session; }` compile to one load from the first
 * argument plus `ret`; decoding that load gives the real member offset. This catches a wrong layout choice
 * (e.g. OpenSSL 3.0.12's shifted `session`) and tells BoringSSL builds apart, which carry no version string.
 *
 * Only pure accessors are decoded (load from rdi/x0 into rax/x0, optional register clearing, ret); anything
 * else is "not checkable" rather than a mismatch. x86-64 and arm64.
 */
import { EM_AARCH64, EM_X86_64, type ElfFile } from '../elf/elf-file.js';
import type { LibOffsetField, LibOffsets } from './lib-offsets.js';

/** Offset loaded by a pure accessor function, or undefined if `symbol` is absent or not such a function. */
export function accessorLoadOffset(elf: ElfFile, symbol: string): number | undefined {
  const off = elf.symbolFileOffset(symbol);
  if (off === undefined) return undefined;
  const code = elf.read(off, 32);
  if (elf.machine === EM_X86_64) return decodeX86(code);
  if (elf.machine === EM_AARCH64) return decodeArm64(code);
  return undefined;
}

function decodeX86(c: Buffer): number | undefined {
  let i = 0;
  if (c.readUInt32BE(0) === 0xf30f1efa) i = 4; // endbr64
  if (c[i] === 0x48) i++; // REX.W (64-bit load); without it a 32-bit load
  if (c[i] !== 0x8b) return undefined; // mov r, r/m
  const modrm = c[i + 1]!;
  const mod = modrm >> 6;
  if (((modrm >> 3) & 7) !== 0 || (modrm & 7) !== 7) return undefined; // reg must be eax/rax, base rdi
  let disp: number;
  if (mod === 0) {
    disp = 0;
    i += 2;
  } else if (mod === 1) {
    disp = c.readInt8(i + 2);
    i += 3;
  } else if (mod === 2) {
    disp = c.readInt32LE(i + 2);
    i += 6;
  } else return undefined;
  // allow zeroing of scratch registers (xor r32, r32), then ret / repz ret
  while (c[i] === 0x31 && c[i + 1] !== undefined && (c[i + 1]! >> 6) === 3 && ((c[i + 1]! >> 3) & 7) === (c[i + 1]! & 7)) i += 2;
  if (c[i] === 0xc3 || (c[i] === 0xf3 && c[i + 1] === 0xc3)) return disp >= 0 ? disp : undefined;
  return undefined;
}

function decodeArm64(c: Buffer): number | undefined {
  let i = 0;
  const BTI_C = 0xd503245f;
  const PACIASP = 0xd503233f;
  while (i < 8 && (c.readUInt32LE(i) === BTI_C || c.readUInt32LE(i) === PACIASP)) i += 4;
  const insn = c.readUInt32LE(i);
  let off: number;
  if ((insn & 0xffc003ff) === 0xf9400000) off = ((insn >>> 10) & 0xfff) * 8; // ldr x0, [x0, #imm]
  else if ((insn & 0xffc003ff) === 0xb9400000) off = ((insn >>> 10) & 0xfff) * 4; // ldr w0, [x0, #imm]
  else return undefined;
  const next = c.readUInt32LE(i + 4);
  return next === 0xd65f03c0 ? off : undefined; // ret
}

export interface LayoutCheckItem {
  field: LibOffsetField;
  symbol: string;
  expected: number;
  actual: number;
}

export interface LayoutCheck {
  /** accessors that could be decoded and were compared */
  checked: LayoutCheckItem[];
  mismatches: LayoutCheckItem[];
}

/** Which accessors reveal which fields, per layout kind. */
function accessorsFor(o: LibOffsets): [LibOffsetField, string][] {
  const common: [LibOffsetField, string][] = [
    ['session_cipher', 'SSL_SESSION_get0_cipher'],
    ['cipher_id', 'SSL_CIPHER_get_id'],
  ];
  if (o.flags.boringssl) return [['ssl_rbio', 'SSL_get_rbio'], ['ssl_wbio', 'SSL_get_wbio'], ...common];
  // OpenSSL ≥ 3.2 SSL accessors first convert SSL* to SSL_CONNECTION* (a type check): not pure loads.
  if (o.flags.sslConnection) return common;
  return [['ssl_rbio', 'SSL_get_rbio'], ['ssl_session', 'SSL_get_session'], ['ssl_version', 'SSL_version'], ...common];
}

/** Compare a layout with what the library's accessors load. */
export function checkLayout(elf: ElfFile, o: LibOffsets): LayoutCheck {
  const out: LayoutCheck = { checked: [], mismatches: [] };
  for (const [field, symbol] of accessorsFor(o)) {
    const expected = o[field];
    if (expected === undefined) continue;
    const actual = accessorLoadOffset(elf, symbol);
    if (actual === undefined) continue;
    const item = { field, symbol, expected, actual };
    out.checked.push(item);
    if (actual !== expected) out.mismatches.push(item);
  }
  return out;
}

export function describeMismatches(c: LayoutCheck): string {
  return c.mismatches
    .map((m) => `${m.symbol} reads 0x${m.actual.toString(16)}, layout ${m.field} is 0x${m.expected.toString(16)}`)
    .join('; ');
}

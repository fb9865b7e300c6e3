/**
 * Go calling conventions, as data the BPF side can use.
 *
 * ABIInternal (register-based arguments and results) replaced the stack ABI0 for Go functions in
 * Go 1.17 on amd64 and in Go 1.18 on arm64, ppc64/ppc64le and riscv64 (Go 1.17 and 1.18 release notes).
 * eCapture gets the amd64 case wrong (it treats Go 1.17 as stack-based); `goAbi` does not.
 *
 * Register ABI: integer/pointer arguments (a string or slice takes 2 or 3 consecutive words) are passed in
 * the argument registers in order; results reuse the same registers from the first. A function that needs
 * them spills its register arguments to the caller-reserved spill area, argument word N at SP+8·N as seen
 * at entry (and again at RET, where SP is back to its entry value), which is what the read probes rely on.
 * Stack ABI: argument word N (1-based) is at SP+8·N at function entry (SP+0 holds the return address on
 * amd64; on arm64 the caller's frame starts at SP+8 as well); results follow the arguments.
 *
 * Minimum supported Go version: 1.17. Reasons: (1) it is the first release with the register ABI on
 * amd64, the main target, so amd64 binaries are always register-ABI and only arm64 Go 1.17 needs the stack
 * programs; (2) the struct offsets the BPF side uses (offsets.ts) were checked against Go ≥ 1.17 sources;
 * (3) the pclntab layouts since Go 1.16 are the ones tested here; (4) Go 1.16 and older have been out of
 * upstream support since August 2022.
 */
import type { GoVersion } from './buildinfo.js';
import type { GoArch } from './image.js';

export type GoAbi = 'register' | 'stack';

export const MIN_GO_VERSION: GoVersion = { major: 1, minor: 17, patch: 0 };

/** First Go minor version (of Go 1) with the register ABI, per GOARCH. Architectures not listed: stack. */
export const REGISTER_ABI_SINCE: Readonly<Record<string, number>> = {
  amd64: 17,
  arm64: 18,
  ppc64: 18,
  ppc64le: 18,
  riscv64: 18,
};

/** 'register' or 'stack' for functions compiled by this Go version on this architecture. */
export function goAbi(version: GoVersion, arch: GoArch | string): GoAbi {
  const since = REGISTER_ABI_SINCE[arch];
  if (since === undefined) return 'stack';
  if (version.major !== 1) return version.major > 1 ? 'register' : 'stack';
  return version.minor >= since ? 'register' : 'stack';
}

/**
 * amd64 integer argument registers of the Go register ABI, in order (argument word 1 = RAX, …), as field
 * names of the kernel's `struct pt_regs` (arch/x86/include/asm/ptrace.h).
 */
export const AMD64_ARG_REGS = ['rax', 'rbx', 'rcx', 'rdi', 'rsi', 'r8', 'r9', 'r10', 'r11'] as const;

/** Field order of x86-64 `struct pt_regs`; byte offset of a field = 8 × index. */
export const AMD64_PT_REGS_FIELDS = [
  'r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi',
  'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss',
] as const;

export type Amd64PtRegsField = (typeof AMD64_PT_REGS_FIELDS)[number];

/** Byte offset of a field in x86-64 `struct pt_regs`. */
export function amd64PtRegsOffset(field: Amd64PtRegsField): number {
  return AMD64_PT_REGS_FIELDS.indexOf(field) * 8;
}

/** Byte offsets in x86-64 `struct pt_regs` of the amd64 Go argument registers (word 1 first). */
export const AMD64_ARG_PT_REGS_OFFSETS: readonly number[] = AMD64_ARG_REGS.map((r) => amd64PtRegsOffset(r));

/**
 * arm64 integer argument registers of the Go register ABI: X0..X15. In arm64 `struct user_pt_regs`
 * (= the start of `struct pt_regs`) they are regs[0..15], so byte offset = 8 × n.
 */
export const ARM64_ARG_REGS = Array.from({ length: 16 }, (_, n) => `x${n}`) as readonly string[];
export const ARM64_ARG_PT_REGS_OFFSETS: readonly number[] = ARM64_ARG_REGS.map((_, n) => n * 8);
/** arm64 `struct user_pt_regs`: regs[31], sp, pc, pstate. */
export const ARM64_PT_REGS_SP_OFFSET = 31 * 8;
export const ARM64_PT_REGS_PC_OFFSET = 32 * 8;

/** Register holding the current goroutine (g) under the register ABI: amd64 R14, arm64 X28. */
export const G_REGISTER = { amd64: 'r14', arm64: 'x28' } as const;

export interface AbiTable {
  abi: GoAbi;
  arch: GoArch;
  /** pt_regs byte offsets of argument words 1..N (register ABI); empty for the stack ABI */
  argRegOffsets: readonly number[];
  argRegNames: readonly string[];
  /** pt_regs byte offset of the stack pointer */
  spOffset: number;
  /** stack ABI: argument word N (1-based) is at SP + stackArgBase + 8·(N-1) at function entry */
  stackArgBase: number;
}

/** Everything the BPF side needs to read argument word N for this binary. */
export function abiTable(abi: GoAbi, arch: GoArch): AbiTable {
  const reg = abi === 'register';
  if (arch === 'amd64') {
    return {
      abi,
      arch,
      argRegOffsets: reg ? AMD64_ARG_PT_REGS_OFFSETS : [],
      argRegNames: reg ? AMD64_ARG_REGS : [],
      spOffset: amd64PtRegsOffset('rsp'),
      stackArgBase: 8,
    };
  }
  return {
    abi,
    arch,
    argRegOffsets: reg ? ARM64_ARG_PT_REGS_OFFSETS : [],
    argRegNames: reg ? ARM64_ARG_REGS : [],
    spOffset: ARM64_PT_REGS_SP_OFFSET,
    stackArgBase: 8,
  };
}

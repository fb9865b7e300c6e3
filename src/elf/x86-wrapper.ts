/**
 * Two questions about x86-64 machine code, answered from a function's first bytes, for choosing where a
 * uprobe goes (src/probes/tls/targets.ts):
 *
 *   passThroughCallee(): is the function a thin wrapper whose first real instruction calls another function
 *   with its own arguments untouched? (OpenSSL's SSL_read_ex is `sub $8,%rsp; call ssl_read_internal; ...`.)
 *   callsTo(): does a function contain a direct call to a given address?
 *
 * Why: a uprobe hit costs a trap, plus a second one (single-stepping a copy of the instruction) unless the
 * kernel emulates the probed instruction. Recent x86 kernels emulate push, nop and direct jumps/calls; a
 * function starting with `sub $n,%rsp` or `endbr64` is single-stepped. On this project's VM a single-stepped
 * hit costs ~20 µs and an emulated one ~6 µs (docs/architecture.md, "Where the probes go").
 *
 * Written by hand: only a handful of prologue encodings matter and a full disassembler (e.g. iced-x86, ~1 MB
 * of WebAssembly) would add startup time for no more certainty: anything not listed here means "no".
 */

/** Instructions allowed before the call in a pass-through wrapper: none of them touches an argument register. */
function prologueLength(code: Buffer, i: number): number {
  const b = code[i];
  if (b === undefined) return 0;
  if (b === 0xf3 && code[i + 1] === 0x0f && code[i + 2] === 0x1e && code[i + 3] === 0xfa) return 4; // endbr64
  if (b === 0x90) return 1; // nop
  if (b >= 0x50 && b <= 0x57) return 1; // push %rax..%rdi (a push reads its register, never writes it)
  if (b === 0x41 && code[i + 1]! >= 0x50 && code[i + 1]! <= 0x57) return 2; // push %r8..%r15
  if (b === 0x48) {
    const op = code[i + 1];
    const modrm = code[i + 2];
    if (op === 0x83 && modrm === 0xec) return 4; // sub $imm8,%rsp
    if (op === 0x81 && modrm === 0xec) return 7; // sub $imm32,%rsp
    if (op === 0x89 && modrm === 0xe5) return 3; // mov %rsp,%rbp
  }
  return 0;
}

/**
 * The address a wrapper calls with its arguments unchanged: `code` holds the first bytes of a function at
 * virtual address `vaddr`; only the prologue instructions above may precede a `call rel32`. Undefined for
 * anything else (the call is not first, an argument register is written, an indirect call, a jump).
 */
export function passThroughCallee(code: Buffer, vaddr: number): number | undefined {
  let i = 0;
  for (let n = 0; n < 12; n++) {
    const len = prologueLength(code, i);
    if (len === 0) break;
    i += len;
  }
  if (code[i] !== 0xe8 || i + 5 > code.length) return undefined;
  return vaddr + i + 5 + code.readInt32LE(i + 1);
}

/**
 * Whether the function's bytes contain `call rel32` to `target`. A byte scan, not a decode: five bytes that
 * happen to read as that exact call inside other instructions are vanishingly unlikely, and a false "yes"
 * is caught by the caller's other check (both wrappers must agree).
 */
export function callsTo(code: Buffer, vaddr: number, target: number): boolean {
  for (let i = code.indexOf(0xe8); i >= 0 && i + 5 <= code.length; i = code.indexOf(0xe8, i + 1)) {
    if (vaddr + i + 5 + code.readInt32LE(i + 1) === target) return true;
  }
  return false;
}

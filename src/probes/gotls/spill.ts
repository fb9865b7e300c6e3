/**
 * A check of the assumption the read probes rest on (bpf/tls/gotls.bpf.c): under the amd64 register ABI,
 * crypto/tls.(*Conn).Read spills its receiver (AX) and the buffer pointer (BX) to the caller-reserved spill slots
 * 1 and 2 (entry SP + 8 and + 16) in its prologue, so that at every RET, when SP is back to its entry value, they
 * are readable there. go1.19.8 does:
 *
 *     SUBQ $0x68, SP            48 83 ec 68
 *     ...
 *     MOVQ BX, 0x78(SP)         48 89 5c 24 78        (0x68 + 0x10)
 *     MOVQ AX, 0x70(SP)         48 89 44 24 70        (0x68 + 0x08)
 *
 * A compiler that kept them elsewhere would make the read probes report nothing or the wrong bytes (whatever the
 * slots then hold), so the module warns when it cannot find these two stores.
 */

/** Bytes of Read's start that are searched (prologue and argument spills come first). */
const SEARCH = 192;

function frameSize(code: Buffer): { size: number; at: number } | undefined {
  const n = Math.min(code.length, 64);
  for (let i = 0; i + 4 <= n; i++) {
    if (code[i] !== 0x48) continue;
    // SUBQ $imm8, SP: 48 83 ec ib
    if (code[i + 1] === 0x83 && code[i + 2] === 0xec) return { size: code[i + 3]!, at: i + 4 };
    // SUBQ $imm32, SP: 48 81 ec id
    if (code[i + 1] === 0x81 && code[i + 2] === 0xec && i + 7 <= code.length) return { size: code.readInt32LE(i + 3), at: i + 7 };
  }
  return undefined;
}

/** Encodings of MOVQ reg, disp(SP) (REX.W 89 /r, SIB base SP) for reg AX (0) or BX (3). */
function movToSp(reg: 0 | 3, disp: number): Buffer[] {
  const out: Buffer[] = [];
  if (disp >= -128 && disp < 128) out.push(Buffer.from([0x48, 0x89, 0x44 | (reg << 3), 0x24, disp & 0xff]));
  const d32 = Buffer.alloc(4);
  d32.writeInt32LE(disp);
  out.push(Buffer.concat([Buffer.from([0x48, 0x89, 0x84 | (reg << 3), 0x24]), d32]));
  return out;
}

/**
 * Why the read probes may not work for this (*Conn).Read (amd64, register ABI), or undefined when its prologue
 * spills AX and BX to spill slots 1 and 2.
 */
export function readSpillProblem(code: Buffer): string | undefined {
  const f = frameSize(code);
  if (!f) return 'its prologue has no SUBQ $frame, SP';
  const window = code.subarray(f.at, Math.min(code.length, f.at + SEARCH));
  const missing: string[] = [];
  for (const [reg, name, slot] of [[0, 'AX (the *Conn)', 1], [3, 'BX (the buffer)', 2]] as const) {
    const disp = f.size + 8 * slot;
    if (!movToSp(reg, disp).some((p) => window.indexOf(p) >= 0)) missing.push(`${name} to 0x${disp.toString(16)}(SP)`);
  }
  return missing.length ? `its prologue does not spill ${missing.join(' and ')}` : undefined;
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goFixture, goSkipReason } from '../../../../test/fixtures/go/build.js';
import { gnuObjdumpX86, objdump } from '../../../../test/fixtures/go/objdump.js';
import { CaptureError } from '../../../errors.js';
import { withElf } from '../../elf-file.js';
import { findX86Rets } from './ret.js';

test('findX86Rets: RETs by decoding, not by byte value', () => {
  // mov eax, 0xc3c3c3c3; ret; nop; rep ret; ret 8
  const code = Buffer.from('b8c3c3c3c3' + 'c3' + '90' + 'f3c3' + 'c20800', 'hex');
  assert.deepEqual(findX86Rets(code, 'f').rets, [5, 7, 9]);
});

test('findX86Rets: desynchronisation is an error, never a wrong answer', () => {
  // jmp +1 lands inside the 5-byte mov
  const into = Buffer.from('eb01' + 'b8c3909090' + 'c3', 'hex');
  assert.throws(() => findX86Rets(into, 'crypto/tls.(*Conn).Read in /x'), (e: unknown) => {
    assert.ok(e instanceof CaptureError);
    assert.equal(e.code, 'ECAP_ELF');
    assert.match(e.message, /crypto\/tls\.\(\*Conn\)\.Read in \/x: the branch at \+0x0 targets \+0x3, which is not an instruction boundary/);
    return true;
  });
  // the last instruction runs past the function end
  assert.throws(() => findX86Rets(Buffer.from('c390b878', 'hex'), 'g'), /decode x86-64 machine code of g: truncated instruction at offset 0x2/);
  assert.throws(() => findX86Rets(Buffer.from('9006', 'hex'), 'g'), /invalid opcode 06 at offset 0x1/);
});

interface Stats {
  functions: number;
  instructions: number;
  rets: number;
  /** functions Go's objdump decodes completely (no "?"), compared with it */
  goCompared: number;
  /** functions compared with GNU objdump */
  gnuCompared: number;
  mismatches: string[];
}

/** Functions that embed data in their code on purpose (boringcrypto marker bytes): decoding must refuse. */
const DATA_IN_CODE = /^crypto\/internal\/boring\/sig\./;

test('x86-64 decoder agrees with `go tool objdump` and GNU objdump on every function of a Go binary', { skip: goSkipReason() }, async (t) => {
  const bin = await goFixture('tlsclient', 'normal');
  const funcs = objdump(bin);
  const gnu = gnuObjdumpX86(bin);
  if (!gnu) t.diagnostic('GNU objdump (binutils) not installed: functions Go objdump cannot decode are not cross-checked');
  const groups: Record<string, Stats> = {};
  const group = (name: string): Stats => {
    const g = name.startsWith('runtime.') ? 'runtime' : name.startsWith('crypto/tls.') ? 'crypto/tls' : name.startsWith('crypto/') ? 'crypto (other)' : 'other';
    return (groups[g] ??= { functions: 0, instructions: 0, rets: 0, goCompared: 0, gnuCompared: 0, mismatches: [] });
  };
  let refused = 0;
  const goErrors: string[] = [];
  withElf(bin, (elf) => {
    for (const f of funcs) {
      if (f.insns.length === 0) continue;
      const g = group(f.name);
      const start = f.insns[0]!.addr;
      const last = f.insns[f.insns.length - 1]!;
      const code = elf.read(elf.vaddrToOffset(start)!, last.addr + last.length - start);
      g.functions++;
      let scan;
      try {
        scan = findX86Rets(code, f.name, { boundaries: true });
      } catch (e) {
        if (DATA_IN_CODE.test(f.name) && /not an instruction boundary/.test((e as Error).message)) refused++;
        else g.mismatches.push(`${f.name}: ${(e as Error).message}`);
        continue;
      }
      if (DATA_IN_CODE.test(f.name)) g.mismatches.push(`${f.name}: data in code was not detected`);
      g.instructions += scan.instructions;
      g.rets += scan.rets.length;
      const ours = JSON.stringify(scan.boundaries);
      if (!f.insns.some((i) => i.text === '?')) {
        g.goCompared++;
        const want = f.insns.map((i) => i.addr - start);
        const wantRets = f.insns.filter((i) => /^(REP; )?RET\b/.test(i.text)).map((i) => i.addr - start);
        if (ours !== JSON.stringify(want)) {
          const k = want.findIndex((w, i) => scan.boundaries![i] !== w);
          const msg = `${f.name}: boundaries differ from go objdump first at +0x${want[k]?.toString(16)} (${f.insns[k]?.text})`;
          // x86asm mis-decodes some VEX instructions without printing "?"; GNU objdump (checked below) decides
          if (gnu || scan.vex) goErrors.push(msg);
          else g.mismatches.push(msg);
        } else if (JSON.stringify(scan.rets) !== JSON.stringify(wantRets)) {
          g.mismatches.push(`${f.name}: RETs ${scan.rets} vs go objdump ${wantRets}`);
        }
      }
      if (gnu) {
        g.gnuCompared++;
        const want: number[] = [];
        for (let a = start; a < start + code.length; ) {
          want.push(a - start);
          const len = gnu.get(a);
          if (!len) break;
          a += len;
        }
        if (ours !== JSON.stringify(want)) {
          const k = want.findIndex((w, i) => scan.boundaries![i] !== w);
          g.mismatches.push(`${f.name}: boundaries differ from GNU objdump first at +0x${want[k]?.toString(16)}`);
        }
      }
    }
  });
  let total = 0;
  for (const [name, g] of Object.entries(groups)) {
    total += g.functions;
    t.diagnostic(
      `${name}: ${g.functions} functions, ${g.instructions} instructions, ${g.rets} RETs; ` +
        `compared with go objdump: ${g.goCompared}, with GNU objdump: ${g.gnuCompared}; mismatches: ${g.mismatches.length}`,
    );
    for (const m of g.mismatches.slice(0, 10)) t.diagnostic(`  ${m}`);
  }
  t.diagnostic(`data-in-code functions refused as expected: ${refused}`);
  t.diagnostic(`go objdump disagreements left to GNU objdump (x86asm VEX decoding gaps): ${goErrors.length}`);
  for (const m of goErrors) t.diagnostic(`  ${m}`);
  assert.ok(groups['runtime']!.goCompared > 1000 && groups['crypto/tls']!.goCompared > 300, 'runtime and crypto/tls were compared');
  assert.ok(total > 4000);
  assert.deepEqual(Object.values(groups).flatMap((g) => g.mismatches), []);
});

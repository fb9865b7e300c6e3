import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeAllX86, decodeX86, X86DecodeError } from './length.js';

// [hex, expected length, note]; lengths cross-checked with GNU objdump -D -b binary -m i386:x86-64
const CASES: [string, number, string][] = [
  ['c3', 1, 'ret'],
  ['c20800', 3, 'ret imm16'],
  ['f3c3', 2, 'rep ret'],
  ['4889442408', 5, 'mov [rsp+8], rax (SIB + disp8)'],
  ['488b0500000000', 7, 'mov rax, [rip+disp32]'],
  ['8b042500000000', 7, 'mov eax, [disp32] (SIB, no base)'],
  ['48b88877665544332211', 10, 'movabs rax, imm64'],
  ['66b83412', 4, 'mov ax, imm16'],
  ['b878563412', 5, 'mov eax, imm32'],
  ['6648b88877665544332211', 11, 'REX.W beats 66'],
  ['4866b83412', 5, 'REX before a legacy prefix is ignored (objdump shows rex.W apart; the CPU sees one insn)'],
  ['a08877665544332211', 9, 'mov al, moffs64'],
  ['67a044332211', 6, 'mov al, moffs32 (67)'],
  ['c8100001', 4, 'enter imm16, imm8'],
  ['f6c101', 3, 'test cl, imm8 (F6 /0)'],
  ['f6d1', 2, 'not cl (F6 /2: no imm)'],
  ['f7c178563412', 6, 'test ecx, imm32'],
  ['66f7c13412', 5, 'test cx, imm16'],
  ['f7d8', 2, 'neg eax'],
  ['f744240878563412', 8, 'test dword [rsp+8], imm32'],
  ['0f05', 2, 'syscall'],
  ['0f1f440000', 5, 'nopl'],
  ['660f1f840000000000', 9, 'nopw disp32'],
  ['0f8400000000', 6, 'je rel32'],
  ['7405', 2, 'je rel8'],
  ['e800000000', 5, 'call rel32'],
  ['c5fe6f06', 4, 'vmovdqu ymm0, [rsi] (VEX2)'],
  ['c5f877', 3, 'vzeroupper (no ModRM)'],
  ['c4e37d39c101', 6, 'vextracti128 (VEX3 map 0F3A, imm8)'],
  ['c4e27d58c0', 5, 'vpbroadcastd (VEX3 map 0F38)'],
  ['c5f970c01b', 5, 'vpshufd imm8 (VEX map 0F with imm)'],
  ['62f17c481006', 6, 'vmovups zmm0, [rsi] (EVEX)'],
  ['62f17c48104601', 7, 'vmovups zmm0, [rsi+0x40] (EVEX disp8*N)'],
  ['660f3a0fc108', 6, 'palignr (0F3A imm8)'],
  ['660f3800c1', 5, 'pshufb (0F38)'],
  ['660f73d808', 5, 'psrldq imm8'],
  ['0fbae005', 4, 'bt eax, imm8'],
  ['f0480fb10a', 5, 'lock cmpxchg'],
  ['64488b0425f8ffffff', 9, 'mov rax, fs:[-8]'],
  ['0f20c0', 3, 'mov rax, cr0'],
  ['0f2040', 3, 'mov cr: ModRM is always a register form'],
  ['4869c078563412', 7, 'imul r, r/m, imm32'],
  ['6bc005', 3, 'imul r, r/m, imm8'],
  ['cc', 1, 'int3'],
  ['cd80', 2, 'int imm8'],
  ['8fc0', 2, 'pop r/m'],
  ['f30f1efa', 4, 'endbr64'],
  ['c4e2f9f7c0', 5, 'shlx (BMI2, VEX)'],
  ['0f0b', 2, 'ud2'],
  ['e3fe', 2, 'jrcxz'],
  ['f20f10442408', 6, 'movsd xmm0, [rsp+8]'],
  ['c4c17a7f4500', 6, 'vmovdqu [r13+0], xmm0'],
  ['0f0f c1 b4', 4, '3DNow! pfcmpge-style suffix byte'],
];

test('x86-64 length decoder: hand-checked encodings', () => {
  for (const [hex, len, note] of CASES) {
    const code = Buffer.from(hex.replace(/ /g, ''), 'hex');
    const insn = decodeX86(code, 0);
    assert.equal(insn.length, len, `${hex} (${note})`);
  }
});

test('x86-64 length decoder: RET flags and branch targets', () => {
  assert.equal(decodeX86(Buffer.from('c3', 'hex'), 0).isRet, true);
  assert.equal(decodeX86(Buffer.from('c20800', 'hex'), 0).isRet, true);
  assert.equal(decodeX86(Buffer.from('f3c3', 'hex'), 0).isRet, true);
  assert.equal(decodeX86(Buffer.from('cb', 'hex'), 0).isRet, false, 'far RET is not a Go return');
  assert.equal(decodeX86(Buffer.from('b8c3c3c3c3', 'hex'), 0).isRet, false, 'C3 inside an immediate');
  const code = Buffer.from('90' + '7405' + '90'.repeat(5) + 'e9f6ffffff' + '0f84f0ffffff', 'hex');
  const insns = [...decodeAllX86(code)];
  assert.equal(insns[1]!.branchTarget, 8);
  assert.equal(insns[7]!.branchTarget, 3);
  assert.equal(insns[8]!.branchTarget, 3);
});

test('x86-64 length decoder: the concatenation decodes back into the same pieces', () => {
  const pieces = CASES.map(([hex]) => Buffer.from(hex.replace(/ /g, ''), 'hex'));
  const all = Buffer.concat(pieces);
  const lens = [...decodeAllX86(all)].map((i) => i.length);
  assert.deepEqual(lens, pieces.map((p) => p.length));
});

test('x86-64 length decoder: invalid, truncated and over-long instructions are errors', () => {
  for (const hex of ['06', 'd4', '0f04', '0f0a', '48', '488b', '48b8112233', '0f', 'c4e0', '62f1']) {
    assert.throws(() => decodeX86(Buffer.from(hex, 'hex'), 0), X86DecodeError, hex);
  }
  assert.throws(() => decodeX86(Buffer.from('66'.repeat(15) + '90', 'hex'), 0), /longer than 15/);
  // the end bound is honoured even when the buffer continues
  assert.throws(() => decodeX86(Buffer.from('b878563412', 'hex'), 0, 3), /truncated/);
});

test('x86-64 length decoder: any byte string decodes to 1..15 bytes or fails cleanly', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (bytes) => {
      try {
        const insn = decodeX86(bytes, 0);
        return insn.length >= 1 && insn.length <= 15 && insn.length <= bytes.length;
      } catch (e) {
        return e instanceof X86DecodeError;
      }
    }),
    { numRuns: 20000 },
  );
});

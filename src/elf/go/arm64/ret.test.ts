import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goFixture, variantSkipReason } from '../../../../test/fixtures/go/build.js';
import { objdump } from '../../../../test/fixtures/go/objdump.js';
import { withElf } from '../../elf-file.js';
import { findArm64Rets, isArm64Ret } from './ret.js';

const word = (...ws: number[]): Buffer => {
  const b = Buffer.alloc(ws.length * 4);
  ws.forEach((w, i) => b.writeUInt32LE(w >>> 0, i * 4));
  return b;
};

test('arm64 RET words', () => {
  assert.equal(isArm64Ret(0xd65f03c0), true, 'RET (X30)');
  assert.equal(isArm64Ret(0xd65f0000 | (1 << 5)), true, 'RET X1');
  assert.equal(isArm64Ret(0xd61f03c0), false, 'BR X30');
  assert.equal(isArm64Ret(0xd63f03c0), false, 'BLR X30');
  assert.equal(isArm64Ret(0xd65f0bff), false, 'RETAA is not used by Go');
  assert.equal(isArm64Ret(0xd503201f), false, 'NOP');
  // ADD X0, X0, #0 followed by RET, then a word whose bytes contain c0 03 5f d6 only across a boundary
  assert.deepEqual(findArm64Rets(word(0x91000000, 0xd65f03c0, 0xd503201f, 0xd65f0000 | (30 << 5)), 'f'), [4, 12]);
  assert.deepEqual(findArm64Rets(Buffer.from('00c0035fd6000000', 'hex'), 'f'), [], 'unaligned byte pattern is not a RET');
  assert.throws(() => findArm64Rets(Buffer.alloc(6), 'g'), /decode arm64 machine code of g: length 6 is not a multiple of 4/);
});

test('arm64 RET offsets agree with `go tool objdump` on every function of a cross-built Go binary', { skip: variantSkipReason('arm64') }, async (t) => {
  const bin = await goFixture('goinfo', 'arm64');
  const funcs = objdump(bin);
  let functions = 0;
  let rets = 0;
  let tlsFunctions = 0;
  const mismatches: string[] = [];
  withElf(bin, (elf) => {
    for (const f of funcs) {
      if (f.insns.length === 0) continue;
      const start = f.insns[0]!.addr;
      const last = f.insns[f.insns.length - 1]!;
      const code = elf.read(elf.vaddrToOffset(start)!, last.addr + last.length - start);
      const ours = findArm64Rets(code, f.name);
      const want = f.insns.filter((i) => /^RET\b/.test(i.text)).map((i) => i.addr - start);
      functions++;
      if (f.name.startsWith('crypto/tls.')) tlsFunctions++;
      rets += ours.length;
      if (JSON.stringify(ours) !== JSON.stringify(want)) mismatches.push(`${f.name}: ${ours} vs objdump ${want}`);
    }
  });
  t.diagnostic(`${functions} functions (${tlsFunctions} in crypto/tls), ${rets} RETs, ${mismatches.length} mismatches`);
  assert.ok(functions > 2000 && tlsFunctions > 200);
  assert.deepEqual(mismatches, []);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availablePairs, goFixture, goSkipReason, goTool } from '../../../test/fixtures/go/build.js';
import { objdump } from '../../../test/fixtures/go/objdump.js';
import { AttachError, CaptureError } from '../../errors.js';
import { withElf } from '../elf-file.js';
import { functionCode, resolveGoFunction } from './symbols.js';

const TARGETS = ['crypto/tls.(*Conn).Read', 'crypto/tls.(*Conn).writeRecordLocked', 'crypto/tls.(*Config).writeKeyLog'];
const escape = (s: string): string => s.replace(/[.*()[\]]/g, (c) => '\\' + c);

test('resolveGoFunction: symbol table and pclntab agree with go tool nm/objdump, in every build variant', { skip: goSkipReason() }, async (t) => {
  const pairs = availablePairs((m) => t.diagnostic(m));
  for (const [program, full, stripped] of pairs) {
    const bin = await goFixture(program, full);
    const sbin = await goFixture(program, stripped);
    const nm = goTool(['nm', '-size', bin]);
    for (const name of TARGETS) {
      const m = new RegExp(`^\\s*([0-9a-f]+)\\s+(\\d+) [Tt] ${escape(name)}$`, 'm').exec(nm);
      assert.ok(m, `${name} in go tool nm of ${full}`);
      const addr = parseInt(m[1]!, 16);
      const size = Number(m[2]);
      const [dump] = objdump(bin, `^${escape(name)}$`);
      let firstBytes: Buffer = Buffer.from(goTool(['objdump', '-s', `^${escape(name)}$`, bin]).split('\n')[1]!.split('\t').filter(Boolean)[2]!, 'hex');
      if (full === 'arm64') firstBytes = Buffer.from(firstBytes).reverse(); // objdump prints the arm64 word as a number

      const a = withElf(bin, (elf) => {
        const f = resolveGoFunction(elf, name);
        // the file offset really holds the function's first instruction
        assert.deepEqual(elf.read(f.fileOffset, firstBytes.length), firstBytes, `${full} ${name} file offset`);
        assert.equal(functionCode(elf, f).length, size);
        return f;
      });
      assert.equal(a.source, 'symtab');
      assert.equal(a.entryVaddr, addr);
      assert.equal(a.endVaddr, addr + size);
      assert.equal(dump!.insns[0]!.addr, addr);

      const b = withElf(sbin, (elf) => {
        const f = resolveGoFunction(elf, name);
        assert.deepEqual(elf.read(f.fileOffset, firstBytes.length), firstBytes, `${stripped} ${name} file offset`);
        return f;
      });
      assert.equal(b.source, 'pclntab');
      assert.equal(b.entryVaddr, addr, `${stripped} ${name}`);
      assert.equal(b.fileOffset, a.fileOffset, `${stripped} ${name}`);
      // the pclntab end is the next function's entry: the symbol's end plus alignment padding
      assert.ok(b.endVaddr >= a.endVaddr && b.endVaddr - a.endVaddr < 32, `${stripped} ${name} end`);
    }
    const f = withElf(sbin, (elf) => resolveGoFunction(elf, TARGETS[0]!));
    t.diagnostic(`${program}-${stripped}: ${TARGETS[0]} entry 0x${f.entryVaddr.toString(16)} → file offset 0x${f.fileOffset.toString(16)}`);
  }
});

function assertNotFound(path: string, name: string, reason: string): void {
  assert.throws(() => withElf(path, (elf) => resolveGoFunction(elf, name)), (e: unknown) => {
    assert.ok(e instanceof AttachError && e instanceof CaptureError);
    assert.equal(e.code, 'ECAP_ATTACH_NO_SYMBOL');
    assert.equal(e.message, `function ${name} not found in ${path}: ${reason} (is crypto/tls linked in?)`);
    assert.equal(e.details['symbol'], name);
    return true;
  });
}

test('resolveGoFunction: clear "not found" errors', { skip: goSkipReason() }, async () => {
  const name = 'crypto/tls.(*Conn).Read';
  assertNotFound(await goFixture('hello', 'normal'), name, 'neither the symbol table nor the pclntab has such a function');
  assertNotFound(await goFixture('hello', 'stripped'), name, 'the binary is stripped and its pclntab has no such function');
});

test('resolveGoFunction: a non-Go binary', () => {
  assertNotFound('/bin/ls', 'crypto/tls.(*Conn).Read', 'the binary is stripped and has no readable pclntab');
});

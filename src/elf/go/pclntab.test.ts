import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { availablePairs, goFixture, goSkipReason, goTool } from '../../../test/fixtures/go/build.js';
import { synthElf } from '../../../test/fixtures/go/synth-elf.js';
import { ElfFile, withElf } from '../elf-file.js';
import { readGoBuildInfo } from './buildinfo.js';
import { GoImage } from './image.js';
import { decodeAllX86 } from './x86/length.js';
import { openPclntab, Pclntab, PCLNTAB_MAGIC, type PclntabFormat } from './pclntab.js';

const dir = mkdtempSync(join(tmpdir(), 'ecap-pclntab-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FUNCS = [
  { name: 'runtime.text', entry: 0x401000 },
  { name: 'main.main', entry: 0x401040 },
  { name: 'crypto/tls.(*Conn).Read', entry: 0x4010a0 },
];
const END = 0x401200;

/** A pcln table in one of the four layouts (only the parts this reader uses). */
function buildTable(fmt: PclntabFormat, textStart: number, opts: { zeroEntries?: boolean } = {}): { data: Buffer; ftabEntryOffsets: number[] } {
  const ptr = 8;
  const names = Buffer.from(FUNCS.map((f) => f.name + '\0').join(''), 'latin1');
  const nameOffs = FUNCS.map((_, i) => FUNCS.slice(0, i).reduce((n, f) => n + f.name.length + 1, 0));
  const wide = fmt === '1.18' || fmt === '1.20';
  const headerWords = fmt === '1.2' ? 1 : wide ? 8 : 7;
  const header = 8 + headerWords * ptr;
  const entSize = wide ? 8 : 2 * ptr;
  const funcSize = wide ? 8 : ptr + 4;
  // layout: header | names | ftab | _func records; Go 1.2: header | ftab | _func records | names
  const old = fmt === '1.2';
  const ftabAt = old ? header : (header + names.length + 7) & ~7;
  const funcsAt = ftabAt + (FUNCS.length + 1) * entSize;
  const namesAt = old ? funcsAt + FUNCS.length * funcSize : header;
  const data = Buffer.alloc(Math.max(funcsAt + FUNCS.length * funcSize, namesAt + names.length));
  data.writeUInt32LE(PCLNTAB_MAGIC[fmt], 0);
  data[6] = 1;
  data[7] = ptr;
  const word = (i: number, v: number): void => void data.writeBigUInt64LE(BigInt(v), 8 + i * ptr);
  word(0, FUNCS.length);
  if (fmt === '1.16') [2, 6].forEach((i, k) => word(i, [namesAt, ftabAt][k]!));
  if (wide) [2, 3, 7].forEach((i, k) => word(i, [textStart, namesAt, ftabAt][k]!));
  names.copy(data, namesAt);
  const ftabEntryOffsets: number[] = [];
  const base = old ? 0 : ftabAt; // what func offsets are relative to
  [...FUNCS.map((f) => f.entry), END].forEach((entry, i) => {
    const at = ftabAt + i * entSize;
    const funcoff = funcsAt + Math.min(i, FUNCS.length - 1) * funcSize - base;
    if (wide) {
      data.writeUInt32LE(entry - textStart, at);
      data.writeUInt32LE(funcoff, at + 4);
    } else {
      ftabEntryOffsets.push(at);
      data.writeBigUInt64LE(opts.zeroEntries ? 0n : BigInt(entry), at);
      data.writeBigUInt64LE(BigInt(funcoff), at + ptr);
    }
  });
  FUNCS.forEach((f, i) => {
    const at = funcsAt + i * funcSize;
    if (wide) data.writeUInt32LE(f.entry - textStart, at);
    else data.writeBigUInt64LE(BigInt(f.entry), at);
    data.writeInt32LE(nameOffs[i]! + (old ? namesAt : 0), at + (wide ? 4 : ptr));
  });
  return { data, ftabEntryOffsets };
}

test('pclntab: all four layouts (Go 1.2, 1.16, 1.18, 1.20)', () => {
  for (const fmt of ['1.2', '1.16', '1.18', '1.20'] as const) {
    const t = new Pclntab(buildTable(fmt, 0x401000).data, fmt, 'synthetic', 0x401000);
    assert.ok(t.plausible(), fmt);
    assert.equal(t.nfunc, 3);
    assert.deepEqual([...t.functions()], [
      { name: 'runtime.text', entry: 0x401000, end: 0x401040 },
      { name: 'main.main', entry: 0x401040, end: 0x4010a0 },
      { name: 'crypto/tls.(*Conn).Read', entry: 0x4010a0, end: END },
    ], fmt);
    assert.deepEqual(t.find('main.main'), { name: 'main.main', entry: 0x401040, end: 0x4010a0 });
    assert.equal(t.find('main.nope'), undefined);
  }
});

test('pclntab: Go 1.16 table in a PIE whose entry words are only in RELATIVE relocations', () => {
  const { data, ftabEntryOffsets } = buildTable('1.16', 0, { zeroEntries: true });
  const rela = Buffer.alloc(24 * ftabEntryOffsets.length);
  const { bytes } = synthElf(
    [{ name: '.data.rel.ro.gopclntab', data, flags: 3n }, { name: '.rela.dyn', data: rela, type: 4, flags: 2n, entsize: 24 }],
    {
      type: 3,
      fill: (addr) => {
        const entries = [...FUNCS.map((f) => f.entry), END];
        ftabEntryOffsets.forEach((off, i) => {
          rela.writeBigUInt64LE(BigInt(addr.get('.data.rel.ro.gopclntab')! + off), 24 * i);
          rela.writeBigUInt64LE(8n, 24 * i + 8);
          rela.writeBigInt64LE(BigInt(entries[i]!), 24 * i + 16);
        });
      },
    },
  );
  const p = join(dir, 'pie116');
  writeFileSync(p, bytes);
  withElf(p, (elf) => {
    const t = openPclntab(elf);
    assert.equal(t.format, '1.16');
    assert.equal(t.where, '.data.rel.ro.gopclntab');
    assert.deepEqual(t.find('crypto/tls.(*Conn).Read'), { name: 'crypto/tls.(*Conn).Read', entry: 0x4010a0, end: END });
    assert.equal(new GoImage(elf).relocations().size, 4);
  });
});

test('pclntab: a clear error when there is none', () => {
  assert.throws(() => withElf('/bin/ls', openPclntab), /read Go function table of \/bin\/ls: no pclntab found/);
});

/** A copy of `bin` whose section names no longer say gopclntab / go.buildinfo: forces the magic searches. */
function renamedCopy(bin: string, name: string): string {
  const p = join(dir, name);
  copyFileSync(bin, p);
  const b = readFileSync(p);
  const shstr = withElf(p, (elf) => elf.sections[elf.sections.length - 1]!.name === '.shstrtab' ? elf.sections[elf.sections.length - 1]! : elf.section('.shstrtab')!);
  const region = b.subarray(shstr.offset, shstr.offset + shstr.size);
  for (const [from, to] of [['gopclntab', 'xopclntab'], ['go.buildinfo', 'xo.buildinfo']]) {
    for (let i = region.indexOf(from); i >= 0; i = region.indexOf(from, i + 1)) region.write(to, i, 'latin1');
  }
  writeFileSync(p, b);
  return p;
}

test('pclntab of real Go binaries: matches `go tool nm`, stripped = unstripped, found by magic too', { skip: goSkipReason() }, async (t) => {
  const pairs = availablePairs((m) => t.diagnostic(m));
  for (const [program, full, stripped] of pairs) {
    const bin = await goFixture(program, full);
    const sbin = await goFixture(program, stripped);
    const nm = new Map<string, number>();
    for (const line of goTool(['nm', bin]).split('\n')) {
      const m = /^\s*([0-9a-f]+) [Tt] (.+)$/.exec(line);
      if (m) nm.set(m[2]!, parseInt(m[1]!, 16));
    }
    const funcs = withElf(bin, (elf) => [...openPclntab(elf).functions()]);
    let same = 0;
    const differ: string[] = [];
    let wrappers = 0;
    let generic = 0;
    for (const f of funcs) {
      // the pclntab names an ABI0 wrapper like its function; the symbol table adds ".abi0"
      const a = nm.get(f.name);
      if (a === f.entry) same++;
      else if (nm.get(f.name + '.abi0') === f.entry) wrappers++;
      else if (/\[\.\.\.\]|·/.test(f.name)) generic++; // generic shapes and local types are spelled differently in .symtab
      else differ.push(`${f.name}: nm ${a === undefined ? 'has no such symbol' : '0x' + a.toString(16)}, pclntab 0x${f.entry.toString(16)}`);
      assert.ok(f.end > f.entry, f.name);
    }
    const where = withElf(bin, (elf) => openPclntab(elf).where);
    t.diagnostic(`${program}-${full}: ${funcs.length} pclntab functions (in ${where}), ${same} with the same address in go tool nm, ${wrappers} ABI0 wrappers (nm: name.abi0), ${generic} generic shapes or local types (spelled differently in nm), ${differ.length} differ`);
    assert.deepEqual(differ, []);
    assert.ok(same > 0.9 * funcs.length, `${same}/${funcs.length} found in nm`);
    const tab = withElf(bin, openPclntab);
    for (const name of ['crypto/tls.(*Conn).Read', 'crypto/tls.(*Conn).writeRecordLocked', 'crypto/tls.(*Config).writeKeyLog']) {
      assert.equal(tab.findAll(name).length, 1, name);
      assert.equal(tab.find(name)!.entry, nm.get(name), name);
    }
    // a function with an ABI0 wrapper resolves to the function, not the wrapper
    const dups = [...new Set(funcs.map((f) => f.name))].filter((n) => tab.findAll(n).length > 1);
    // a name doubled by an ABI wrapper must resolve to the wrapped body: on amd64, check that the other
    // candidate is the one that calls or jumps to the chosen one
    const doubled = dups.filter((n) => !n.includes('[...]')); // generic shapes: distinct functions, one name
    if (full !== 'arm64') {
      const wrong = withElf(bin, (elf) =>
        doubled.filter((n) => {
          const pick = tab.find(n)!;
          const other = tab.findAll(n).find((f) => f.entry !== pick.entry)!;
          const code = elf.read(elf.vaddrToOffset(other.entry)!, other.end - other.entry);
          const targets = [...decodeAllX86(code)].map((i) => (i.branchTarget ?? -1e9) + other.entry);
          return !targets.includes(pick.entry);
        }),
      );
      t.diagnostic(`  ${doubled.length} names doubled by ABI wrappers; resolved to the wrapped body for ${doubled.length - wrong.length}`);
      assert.deepEqual(wrong, []);
    }
    const sfuncs = withElf(sbin, (elf) => [...openPclntab(elf).functions()]);
    assert.deepEqual(sfuncs, funcs, `${stripped} pclntab equals ${full}`);

    const renamed = renamedCopy(sbin, `${program}-${stripped}-renamed`);
    withElf(renamed, (elf) => {
      assert.equal(elf.section('.gopclntab') ?? elf.section('.data.rel.ro.gopclntab') ?? elf.section('.go.buildinfo'), undefined);
      const tab = openPclntab(elf);
      assert.match(tab.where, /^magic 0xfffffff0 in /);
      assert.deepEqual([...tab.functions()], funcs);
      assert.equal(readGoBuildInfo(elf).goVersion, withElf(bin, readGoBuildInfo).goVersion);
    });
    const e = ElfFile.open(renamed);
    t.diagnostic(`  renamed sections: found by ${openPclntab(e).where}`);
    e.close();
  }
});

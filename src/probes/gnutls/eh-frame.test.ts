/**
 * Function ranges from .eh_frame_hdr/.eh_frame agree with the symbol table (start and size) for the exported
 * functions of real libraries, and addresses inside a function map to its entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ElfFile, STT_FUNC } from '../../elf/elf-file.js';
import { UnwindIndex } from './eh-frame.js';

const LIBS = [
  '/usr/lib/x86_64-linux-gnu/libgnutls.so.30',
  '/usr/lib/x86_64-linux-gnu/libnspr4.so',
  '/usr/lib/x86_64-linux-gnu/libc.so.6',
  '/usr/lib/aarch64-linux-gnu/libc.so.6',
].filter(existsSync);

test('unwind ranges match symbol start and size of exported functions', { skip: LIBS.length === 0 }, () => {
  for (const lib of LIBS) {
    const elf = ElfFile.open(lib);
    try {
      const idx = UnwindIndex.of(elf);
      assert.ok(idx && idx.size > 100, `${lib}: an unwind index`);
      const funcs = elf.symbols('.dynsym').filter((s) => s.type === STT_FUNC && s.size > 16 && s.value > 0);
      let agree = 0;
      let checked = 0;
      for (const s of funcs.slice(0, 400)) {
        const f = idx.functionAt(s.value + 8);
        if (!f) continue; // hand-written assembly may have no FDE
        checked++;
        if (f.start === s.value && f.end === s.value + s.size) agree++;
      }
      assert.ok(checked > 50, `${lib}: ${checked} functions covered`);
      // compilers may split cold parts into other FDEs; the rest must agree exactly
      assert.ok(agree / checked > 0.9, `${lib}: ${agree}/${checked} ranges equal the symbol's`);
    } finally {
      elf.close();
    }
  }
});

test('addresses outside any function are not attributed to one', { skip: LIBS.length === 0 }, () => {
  const elf = ElfFile.open(LIBS[0]!);
  try {
    const idx = UnwindIndex.of(elf)!;
    assert.equal(idx.functionAt(0), undefined, 'before the first function');
    assert.equal(idx.functionAt(0x7fffffff0000), undefined, 'far beyond the last one');
  } finally {
    elf.close();
  }
});

test('a file without .eh_frame_hdr has no index', () => {
  // the kernel objects are ELF without unwind tables
  const p = new URL('../../../../build/bpf/tls/gnutls.bpf.o', import.meta.url).pathname;
  if (!existsSync(p)) return;
  const elf = ElfFile.open(p);
  try {
    assert.equal(UnwindIndex.of(elf), undefined);
  } finally {
    elf.close();
  }
});

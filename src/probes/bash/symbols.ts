/**
 * Finding hook points in one ELF file for the audit modules: a function's file offset (what a uprobe
 * wants) and link-time address (the attach cookie the BPF side turns into the load bias), a variable's
 * link-time address, and clear errors when a file or symbol is missing.
 */
import { accessSync, constants as fsc, statSync } from 'node:fs';
import { CaptureError } from '../../errors.js';
import { ElfFile, SHN_UNDEF, STT_FUNC, STT_GNU_IFUNC, type ElfSymbol } from '../../elf/elf-file.js';

export interface FuncPoint {
  name: string;
  /** file offset of the first instruction */
  offset: number;
  /** link-time address */
  vaddr: number;
  size: number;
}

/** Open an executable/library given on the command line (or found), failing with a message naming the flag. */
export function openTarget(path: string, what: string): ElfFile {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CaptureError('ECAP_NO_TARGET', `${what} ${path}: no such file`, { hint: `install it, or point ${what} at the right file` });
  }
  if (!st.isFile()) throw new CaptureError('ECAP_NO_TARGET', `${what} ${path}: not a regular file`);
  try {
    accessSync(path, fsc.R_OK);
    return ElfFile.open(path);
  } catch (cause) {
    throw new CaptureError('ECAP_ELF', `${what} ${path}: not a readable ELF file (${(cause as Error).message})`, { cause });
  }
}

function isDefined(s: ElfSymbol | undefined): s is ElfSymbol {
  return !!s && s.shndx !== SHN_UNDEF && s.value !== 0;
}

/** A defined function (in .dynsym, else .symtab), or undefined. */
export function findFunc(elf: ElfFile, name: string): FuncPoint | undefined {
  const s = elf.findSymbol(name);
  if (!isDefined(s) || (s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC)) return undefined;
  const offset = elf.vaddrToOffset(s.value);
  if (offset === undefined) return undefined;
  return { name: s.name.split('@')[0]!, offset, vaddr: s.value, size: s.size };
}

/** A defined data symbol's link-time address, or undefined. */
export function findVar(elf: ElfFile, name: string): number | undefined {
  const s = elf.findSymbol(name);
  return isDefined(s) && s.type !== STT_FUNC ? s.value : undefined;
}

/** Every defined function whose name matches `re`, .dynsym first then .symtab (names deduplicated). */
export function funcsMatching(elf: ElfFile, re: RegExp): FuncPoint[] {
  const out: FuncPoint[] = [];
  const seen = new Set<string>();
  for (const table of ['.dynsym', '.symtab'] as const) {
    for (const s of elf.symbols(table)) {
      if (!isDefined(s) || s.type !== STT_FUNC || seen.has(s.name) || !re.test(s.name)) continue;
      const offset = elf.vaddrToOffset(s.value);
      if (offset === undefined) continue;
      seen.add(s.name);
      out.push({ name: s.name, offset, vaddr: s.value, size: s.size });
    }
  }
  return out;
}

/** The function that contains link-time address `vaddr` (for naming a --offset), if any. */
export function funcAt(elf: ElfFile, vaddr: number): FuncPoint | undefined {
  for (const table of ['.dynsym', '.symtab'] as const) {
    for (const s of elf.symbols(table)) {
      if (!isDefined(s) || s.type !== STT_FUNC) continue;
      if (vaddr === s.value || (vaddr > s.value && vaddr < s.value + s.size)) {
        const offset = elf.vaddrToOffset(s.value);
        if (offset !== undefined) return { name: s.name, offset, vaddr: s.value, size: s.size };
      }
    }
  }
  return undefined;
}

/** Parse an offset given as decimal or 0x-hex; throws a flag error otherwise. */
export function parseOffset(v: string, flag: string): number {
  const t = v.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new CaptureError('ECAP_CONFIG_FLAG', `${flag} ${v}: not an offset (decimal or 0x-hex)`, { hint: `e.g. ${flag} 0x83a5d0` });
  }
  return n;
}

export function noSymbol(symbol: string, path: string, hint: string): CaptureError {
  return new CaptureError('ECAP_ATTACH_NO_SYMBOL', `symbol ${symbol} not found in ${path}`, { hint });
}

/**
 * Resolving a Go function by its full name (e.g. `crypto/tls.(*Conn).Read`) to addresses and a file offset
 * suitable for a uprobe: the ELF symbol table when present, else the pclntab (stripped `-s -w` binaries).
 * PIE and non-PIE binaries are handled alike: the file offset comes from the PT_LOAD segment that maps the
 * address.
 */
import { AttachError, CaptureError } from '../../errors.js';
import { type ElfFile, PF_X, PT_LOAD, STT_FUNC } from '../elf-file.js';
import { openPclntab, type Pclntab } from './pclntab.js';

export interface GoFunction {
  name: string;
  entryVaddr: number;
  /** end of the function (exclusive) */
  endVaddr: number;
  /** file offset of the entry, as uprobes want it */
  fileOffset: number;
  source: 'symtab' | 'pclntab';
}

/** Caches the pclntab per ElfFile so that several lookups parse it once. */
const tables = new WeakMap<ElfFile, Pclntab | Error>();

export function pclntabOf(elf: ElfFile): Pclntab {
  let t = tables.get(elf);
  if (!t) {
    try {
      t = openPclntab(elf);
    } catch (e) {
      t = e as Error;
    }
    tables.set(elf, t);
  }
  if (t instanceof Error) throw t;
  return t;
}

export function isStripped(elf: ElfFile): boolean {
  return elf.symbols('.symtab').length === 0;
}

/** File offset of a code address: the address must lie in an executable PT_LOAD segment. */
export function codeFileOffset(elf: ElfFile, vaddr: number): number | undefined {
  const seg = elf.segments.find((s) => s.type === PT_LOAD && (s.flags & PF_X) !== 0 && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
  return seg ? vaddr - seg.vaddr + seg.offset : undefined;
}

/** Find a Go function; undefined when neither the symbol table nor the pclntab has it. */
export function findGoFunction(elf: ElfFile, name: string): GoFunction | undefined {
  const sym = elf.findSymbol(name);
  if (sym && sym.type === STT_FUNC && sym.value !== 0 && sym.size > 0) {
    const fileOffset = codeFileOffset(elf, sym.value);
    if (fileOffset !== undefined) {
      return { name, entryVaddr: sym.value, endVaddr: sym.value + sym.size, fileOffset, source: 'symtab' };
    }
  }
  let tab: Pclntab;
  try {
    tab = pclntabOf(elf);
  } catch {
    return undefined;
  }
  const f = tab.find(name);
  if (!f) return undefined;
  const fileOffset = codeFileOffset(elf, f.entry);
  if (fileOffset === undefined) return undefined;
  return { name, entryVaddr: f.entry, endVaddr: f.end, fileOffset, source: 'pclntab' };
}

/**
 * Like findGoFunction, but throws AttachError(ECAP_ATTACH_NO_SYMBOL) saying which function and why.
 * `why` is added to the message (e.g. "is crypto/tls linked in?").
 */
export function resolveGoFunction(elf: ElfFile, name: string, why = 'is crypto/tls linked in?'): GoFunction {
  const f = findGoFunction(elf, name);
  if (f) return f;
  let reason: string;
  let tabError: unknown;
  try {
    pclntabOf(elf);
    reason = isStripped(elf)
      ? 'the binary is stripped and its pclntab has no such function'
      : 'neither the symbol table nor the pclntab has such a function';
  } catch (e) {
    tabError = e;
    reason = isStripped(elf)
      ? 'the binary is stripped and has no readable pclntab'
      : 'the symbol table has no such function and the binary has no readable pclntab';
  }
  throw new AttachError('ECAP_ATTACH_NO_SYMBOL', `function ${name} not found in ${elf.path}: ${reason} (${why})`, {
    cause: tabError,
    details: { symbol: name, path: elf.path },
  });
}

/** The machine code of a function (entry to end), read from the file. */
export function functionCode(elf: ElfFile, f: GoFunction): Buffer {
  const len = f.endVaddr - f.entryVaddr;
  if (len <= 0 || len > 16 << 20) {
    throw new CaptureError('ECAP_ELF', `read code of ${f.name} in ${elf.path}: implausible size ${len}`);
  }
  const code = elf.read(f.fileOffset, len);
  if (code.length !== len) throw new CaptureError('ECAP_ELF', `read code of ${f.name} in ${elf.path}: file is truncated`);
  return code;
}

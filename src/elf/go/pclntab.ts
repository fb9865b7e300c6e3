/**
 * Go's pcln table ("pclntab"): the runtime's own function table, present even in stripped binaries.
 *
 * Layout facts (from Go's runtime/symtab.go and debug/gosym documentation):
 *  header: magic u32, 2 pad bytes, minLC (instruction quantum: 1 amd64, 4 arm64), ptrSize, then words:
 *   Go 1.2–1.15   (0xfffffffb): nfunc; the function table follows the header at 8+ptrSize:
 *                  (nfunc+1) × {entry pc, func offset} words, offsets relative to the table start;
 *                  _func = {entry word, nameoff i32 (relative to the table start)}.
 *   Go 1.16–1.17  (0xfffffffa): nfunc, nfiles, funcnameOffset, cuOffset, filetabOffset, pctabOffset,
 *                  pclnOffset; function table at pclnOffset: (nfunc+1) × {entry pc word, func offset word};
 *                  _func = {entry word, nameoff i32 (relative to funcnametab)}.
 *   Go 1.18–1.19  (0xfffffff0) and Go ≥ 1.20 (0xfffffff1): nfunc, nfiles, textStart, funcnameOffset,
 *                  cuOffset, filetabOffset, pctabOffset, pclnOffset; function table at pclnOffset:
 *                  (nfunc+1) × {entryoff u32, funcoff u32}, entry = textStart + entryoff; _func =
 *                  {entryoff u32, nameoff i32}.
 *  The last table entry holds the end PC of the last function; function i ends where i+1 starts.
 *
 * textStart (1.18+) is the header word; in a PIE that word may be left 0 in the file with its value in a
 * RELATIVE relocation, which is then used. Only when both are missing is the `.text` address taken (Go's
 * debug/gosym always takes `.text`, which is wrong for externally linked binaries, where C start-up code
 * precedes runtime.text in `.text`).
 */
import { CaptureError } from '../../errors.js';
import type { ElfFile } from '../elf-file.js';
import { GoImage } from './image.js';

export type PclntabFormat = '1.2' | '1.16' | '1.18' | '1.20';

export const PCLNTAB_MAGIC: Readonly<Record<PclntabFormat, number>> = {
  '1.20': 0xfffffff1,
  '1.18': 0xfffffff0,
  '1.16': 0xfffffffa,
  '1.2': 0xfffffffb,
};

export interface GoFunc {
  name: string;
  /** virtual address of the first instruction */
  entry: number;
  /** virtual address just past the function (start of the next one; may include alignment padding) */
  end: number;
}

/** Sections that hold the table in the binaries we know, then the ones searched for its magic. */
const NAMED = ['.gopclntab', '.data.rel.ro.gopclntab'];
const SEARCHED = ['.data.rel.ro', '.rodata', '.noptrdata', '.data'];

export class Pclntab {
  readonly nfunc: number;
  readonly textStart: number;
  private readonly ftab: number;
  private readonly funcnametab: number;
  private readonly funcdata: number;
  private byName?: Map<string, number | number[]>;

  constructor(
    readonly data: Buffer,
    readonly format: PclntabFormat,
    /** where it was found, e.g. ".gopclntab" or "magic in .data.rel.ro" */
    readonly where: string,
    /** fallback for a 1.18+ header whose textStart word is 0 and not relocated */
    textStart: number,
    private readonly img?: GoImage,
    /** virtual address of data[0], to resolve relocated words in pre-1.18 tables of PIE binaries */
    private readonly vaddr = 0,
  ) {
    const ptr = data[7]!;
    const word = (i: number): number => readWord(data, 8 + i * ptr, ptr);
    this.nfunc = word(0);
    if (format === '1.2') {
      this.ftab = 8 + ptr;
      this.funcnametab = 0;
      this.funcdata = 0;
      this.textStart = 0;
    } else if (format === '1.16') {
      this.funcnametab = word(2);
      this.ftab = word(6);
      this.funcdata = this.ftab;
      this.textStart = 0;
    } else {
      this.textStart = word(2) || img?.relocations().get(vaddr + 8 + 2 * ptr) || textStart;
      this.funcnametab = word(3);
      this.ftab = word(7);
      this.funcdata = this.ftab;
    }
  }

  get ptrSize(): number {
    return this.data[7]!;
  }

  /** Instruction size quantum: 1 on amd64, 4 on arm64. */
  get minLC(): number {
    return this.data[6]!;
  }

  /** Entry address of function table slot i (0 ≤ i ≤ nfunc; slot nfunc is the end of the last function). */
  private entryAt(i: number): number {
    if (this.format === '1.18' || this.format === '1.20') return this.textStart + this.data.readUInt32LE(this.ftab + i * 8);
    const ptr = this.ptrSize;
    const at = this.ftab + i * 2 * ptr;
    const v = readWord(this.data, at, ptr);
    if (v !== 0 || !this.img) return v;
    return this.img.relocations().get(this.vaddr + at) ?? 0;
  }

  private nameAt(i: number): string {
    const wide = this.format === '1.18' || this.format === '1.20';
    const ptr = this.ptrSize;
    const funcoff = wide ? this.data.readUInt32LE(this.ftab + i * 8 + 4) : readWord(this.data, this.ftab + i * 2 * ptr + ptr, ptr);
    const f = this.funcdata + funcoff;
    const nameoff = this.data.readInt32LE(f + (wide ? 4 : ptr));
    return cstring(this.data, this.funcnametab + nameoff);
  }

  /** Function i (0 ≤ i < nfunc). */
  func(i: number): GoFunc {
    return { name: this.nameAt(i), entry: this.entryAt(i), end: this.entryAt(i + 1) };
  }

  *functions(): Generator<GoFunc> {
    for (let i = 0; i < this.nfunc; i++) yield this.func(i);
  }

  /**
   * Every function with exactly this name. The pclntab can hold two: a Go function and its ABI0 wrapper
   * (called from assembly), which the symbol table tells apart as `name` and `name.abi0`.
   */
  findAll(name: string): GoFunc[] {
    if (!this.byName) {
      this.byName = new Map();
      for (let i = 0; i < this.nfunc; i++) {
        const n = this.nameAt(i);
        const prev = this.byName.get(n);
        if (prev === undefined) this.byName.set(n, i);
        else this.byName.set(n, Array.isArray(prev) ? [...prev, i] : [prev, i]);
      }
    }
    const hit = this.byName.get(name);
    if (hit === undefined) return [];
    return (Array.isArray(hit) ? hit : [hit]).map((i) => this.func(i));
  }

  /**
   * The function with exactly this name, if any. When the name is doubled by an ABI wrapper, the entry whose
   * funcID is "normal" (0) wins: wrappers carry funcID_wrapper (go1.16–1.20 runtime/symtab.go), and in both
   * directions (Go function + ABI0 wrapper for assembly callers, assembly function + ABIInternal wrapper)
   * the wrapped body is the normal one.
   */
  find(name: string): GoFunc | undefined {
    const all = this.findAll(name);
    if (all.length > 1 && this.format !== '1.2') {
      const normal = this.findIndexes(name).filter((i) => this.funcIdAt(i) === 0);
      if (normal.length === 1) return this.func(normal[0]!);
    }
    return all[0];
  }

  private findIndexes(name: string): number[] {
    this.findAll(name);
    const hit = this.byName!.get(name);
    return hit === undefined ? [] : Array.isArray(hit) ? hit : [hit];
  }

  /** _func.funcID: after entry, nameoff, args, deferreturn, pcsp, pcfile, pcln, npcdata, cuOffset (+ startLine ≥1.20). */
  private funcIdAt(i: number): number {
    const wide = this.format === '1.18' || this.format === '1.20';
    const funcoff = wide ? this.data.readUInt32LE(this.ftab + i * 8 + 4) : readWord(this.data, this.ftab + i * 2 * this.ptrSize + this.ptrSize, this.ptrSize);
    const rel = this.format === '1.16' ? this.ptrSize + 32 : this.format === '1.18' ? 36 : 40;
    return this.data[this.funcdata + funcoff + rel] ?? -1;
  }

  /** Sanity checks on the header and the first/last entries; false for a false magic match. */
  plausible(): boolean {
    const d = this.data;
    if (d[4] !== 0 || d[5] !== 0 || ![1, 2, 4].includes(d[6]!) || ![4, 8].includes(d[7]!)) return false;
    if (this.nfunc <= 0 || this.nfunc > 10_000_000) return false;
    const tableEnd = this.ftab + (this.nfunc + 1) * (this.format === '1.18' || this.format === '1.20' ? 8 : 2 * this.ptrSize);
    if (this.ftab <= 0 || tableEnd > d.length || this.funcnametab >= d.length) return false;
    try {
      const first = this.func(0);
      const last = this.func(this.nfunc - 1);
      return /^[\x21-\x7e]+$/.test(first.name) && /^[\x21-\x7e]+$/.test(last.name) && first.entry <= last.entry && last.entry < last.end;
    } catch {
      return false;
    }
  }
}

function readWord(b: Buffer, at: number, ptr: number): number {
  return ptr === 8 ? Number(b.readBigUInt64LE(at)) : b.readUInt32LE(at);
}

function cstring(b: Buffer, at: number): string {
  if (at < 0 || at >= b.length) throw new RangeError(`pclntab name offset ${at} out of range`);
  const end = b.indexOf(0, at);
  return b.toString('utf8', at, end < 0 ? b.length : end);
}

function formatOf(magic: number): PclntabFormat | undefined {
  return (Object.keys(PCLNTAB_MAGIC) as PclntabFormat[]).find((k) => PCLNTAB_MAGIC[k] === magic);
}

/**
 * Locate and open the pcln table: the `.gopclntab` / `.data.rel.ro.gopclntab` section, else a search for
 * the header magic in the data sections (external linkers may merge it into `.data.rel.ro`), else in every
 * loadable segment. Throws CaptureError(ECAP_ELF) when there is none.
 */
export function openPclntab(elf: ElfFile): Pclntab {
  const img = new GoImage(elf);
  const textStart = elf.section('.text')?.addr ?? 0;
  for (const name of NAMED) {
    const sec = elf.section(name);
    if (!sec || sec.size < 16) continue;
    const data = elf.sectionData(sec);
    const fmt = formatOf(data.readUInt32LE(0));
    if (!fmt) continue;
    const t = new Pclntab(data, fmt, name, textStart, img, sec.addr);
    if (t.plausible()) return t;
  }
  for (const fmt of Object.keys(PCLNTAB_MAGIC) as PclntabFormat[]) {
    const needle = Buffer.alloc(6);
    needle.writeUInt32LE(PCLNTAB_MAGIC[fmt], 0);
    for (const sections of [SEARCHED, []]) {
      for (const off of img.search(needle, 4, sections, 64)) {
        const vaddr = elf.offsetToVaddr(off) ?? 0;
        const sec = elf.sections.find((s) => off >= s.offset && off < s.offset + s.size && s.type !== 8);
        const limit = sec ? sec.offset + sec.size : off + (64 << 20);
        const data = elf.read(off, Math.min(limit, elf.identity.size) - off);
        if (data.length < 64) continue;
        const t = new Pclntab(data, fmt, `magic 0x${PCLNTAB_MAGIC[fmt].toString(16)} in ${sec?.name ?? 'a segment'}`, textStart, img, vaddr);
        if (t.plausible()) return t;
      }
    }
  }
  throw new CaptureError('ECAP_ELF', `read Go function table of ${elf.path}: no pclntab found (no .gopclntab section and no table magic in the data)`, {
    hint: 'is this a Go binary? gotls mode needs the Go runtime function table',
  });
}

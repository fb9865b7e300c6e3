/**
 * Reading a Go binary's memory image from its file: virtual address → bytes through PT_LOAD, pointers with
 * relocation fallback (a PIE's pointers may be stored as R_*_RELATIVE relocations with the value in the
 * relocation's addend and 0 in the section), and windowed searches for magic numbers.
 */
import { type ElfFile, EM_AARCH64, EM_X86_64, PT_LOAD } from '../elf-file.js';

const SHT_RELA = 4;
const R_X86_64_RELATIVE = 8;
const R_AARCH64_RELATIVE = 1027;

export type GoArch = 'amd64' | 'arm64';

/** Go's GOARCH name for the ELF machine, or undefined for machines the tool does not support. */
export function goArchOf(elf: ElfFile): GoArch | undefined {
  if (elf.machine === EM_X86_64) return 'amd64';
  if (elf.machine === EM_AARCH64) return 'arm64';
  return undefined;
}

export class GoImage {
  private relative?: Map<number, number>;

  constructor(readonly elf: ElfFile) {}

  /** Bytes at a virtual address (short if the range leaves the file-backed part of its segment). */
  readVaddr(vaddr: number, len: number): Buffer {
    const off = this.elf.vaddrToOffset(vaddr);
    if (off === undefined) return Buffer.alloc(0);
    const seg = this.elf.segments.find((s) => s.type === PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz)!;
    return this.elf.read(off, Math.min(len, seg.vaddr + seg.filesz - vaddr));
  }

  /**
   * A pointer-sized little-endian value at `vaddr`. When the stored value is 0 and a RELATIVE relocation
   * targets that address, the relocation's addend (the link-time value) is returned instead.
   */
  readPointer(vaddr: number, ptrSize: number): number | undefined {
    const b = this.readVaddr(vaddr, ptrSize);
    if (b.length < ptrSize) return undefined;
    const v = ptrSize === 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
    if (v !== 0) return v;
    return this.relocations().get(vaddr) ?? 0;
  }

  /** RELATIVE relocations: target address → addend. */
  relocations(): Map<number, number> {
    if (this.relative) return this.relative;
    const m = new Map<number, number>();
    const type = this.elf.machine === EM_AARCH64 ? R_AARCH64_RELATIVE : R_X86_64_RELATIVE;
    for (const s of this.elf.sections) {
      if (s.type !== SHT_RELA || s.entsize < 24) continue;
      const d = this.elf.sectionData(s);
      for (let o = 0; o + 24 <= d.length; o += s.entsize) {
        if (d.readUInt32LE(o + 8) === type) m.set(Number(d.readBigUInt64LE(o)), Number(d.readBigInt64LE(o + 16)));
      }
    }
    this.relative = m;
    return m;
  }

  /**
   * File offsets of `needle` inside the named sections (or, when `sections` is empty or none exist, inside
   * the PT_LOAD segments), at offsets that are multiples of `align` relative to the section/segment start.
   * Reads in 1 MiB windows.
   */
  search(needle: Buffer, align: number, sections: string[] = [], limit = 16): number[] {
    const ranges: { offset: number; size: number }[] = [];
    for (const n of sections) {
      const s = this.elf.section(n);
      if (s && s.type !== 8 /* NOBITS */) ranges.push({ offset: s.offset, size: s.size });
    }
    if (ranges.length === 0) {
      for (const s of this.elf.segments) if (s.type === PT_LOAD) ranges.push({ offset: s.offset, size: s.filesz });
    }
    const out: number[] = [];
    const WINDOW = 1 << 20;
    for (const r of ranges) {
      for (let base = 0; base < r.size; base += WINDOW) {
        const len = Math.min(WINDOW + needle.length - 1, r.size - base);
        const chunk = this.elf.read(r.offset + base, len);
        for (let i = chunk.indexOf(needle); i >= 0; i = chunk.indexOf(needle, i + 1)) {
          if (i >= WINDOW) break;
          if ((base + i) % align === 0) out.push(r.offset + base + i);
          if (out.length >= limit) return out;
        }
      }
    }
    return out;
  }
}

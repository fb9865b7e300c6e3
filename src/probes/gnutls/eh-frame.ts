/**
 * Function boundaries of a stripped ELF file from its unwind tables: .eh_frame_hdr holds a sorted table of
 * (function start, FDE) pairs and every FDE states its address range. This is how an address found inside a
 * non-exported function (GnuTLS's key log hook) is turned into that function's entry, where a uprobe goes.
 * Only the encodings compilers emit in practice are read (pc-relative / data-relative 4- and 8-byte values).
 */
import type { ElfFile } from '../../elf/elf-file.js';

const DW_EH_PE_omit = 0xff;

/** A decoded pointer-encoded value and the bytes it took. */
function readEncoded(buf: Buffer, off: number, enc: number, pcVaddr: number, dataVaddr: number): { value: number; size: number } | undefined {
  if (enc === DW_EH_PE_omit) return undefined;
  let value: number;
  let size: number;
  switch (enc & 0x0f) {
    case 0x00: // absptr (8 bytes on 64-bit targets)
    case 0x04: // udata8
      value = Number(buf.readBigUInt64LE(off));
      size = 8;
      break;
    case 0x0c: // sdata8
      value = Number(buf.readBigInt64LE(off));
      size = 8;
      break;
    case 0x03: // udata4
      value = buf.readUInt32LE(off);
      size = 4;
      break;
    case 0x0b: // sdata4
      value = buf.readInt32LE(off);
      size = 4;
      break;
    case 0x02: // udata2
      value = buf.readUInt16LE(off);
      size = 2;
      break;
    case 0x0a: // sdata2
      value = buf.readInt16LE(off);
      size = 2;
      break;
    default:
      return undefined;
  }
  switch (enc & 0x70) {
    case 0x00:
      break;
    case 0x10: // pcrel
      value += pcVaddr;
      break;
    case 0x30: // datarel (relative to .eh_frame_hdr)
      value += dataVaddr;
      break;
    default:
      return undefined;
  }
  return { value, size };
}

function uleb(buf: Buffer, off: number): { value: number; size: number } {
  let value = 0;
  let shift = 0;
  let i = off;
  for (;;) {
    const b = buf[i++]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80) || i >= buf.length) break;
  }
  return { value, size: i - off };
}

export interface FunctionRange {
  start: number; // vaddr
  end: number; // vaddr, exclusive
}

/** Sorted function start addresses with their FDE addresses, from .eh_frame_hdr. */
export class UnwindIndex {
  private starts: number[] = [];
  private fdes: number[] = [];

  private constructor(private elf: ElfFile) {}

  static of(elf: ElfFile): UnwindIndex | undefined {
    const hdr = elf.section('.eh_frame_hdr');
    if (!hdr) return undefined;
    const b = elf.sectionData(hdr);
    if (b.length < 12 || b[0] !== 1) return undefined;
    const [ptrEnc, countEnc, tableEnc] = [b[1]!, b[2]!, b[3]!];
    let off = 4;
    const p = readEncoded(b, off, ptrEnc, hdr.addr + off, hdr.addr);
    if (!p) return undefined;
    off += p.size;
    const c = readEncoded(b, off, countEnc, hdr.addr + off, hdr.addr);
    if (!c) return undefined;
    off += c.size;
    const idx = new UnwindIndex(elf);
    for (let i = 0; i < c.value && off < b.length; i++) {
      const s = readEncoded(b, off, tableEnc, hdr.addr + off, hdr.addr);
      if (!s) return undefined;
      off += s.size;
      const f = readEncoded(b, off, tableEnc, hdr.addr + off, hdr.addr);
      if (!f) return undefined;
      off += f.size;
      idx.starts.push(s.value);
      idx.fdes.push(f.value);
    }
    return idx.starts.length ? idx : undefined;
  }

  get size(): number {
    return this.starts.length;
  }

  /** The function whose FDE covers `vaddr`, or undefined. */
  functionAt(vaddr: number): FunctionRange | undefined {
    let lo = 0;
    let hi = this.starts.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= vaddr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return undefined;
    const start = this.starts[best]!;
    const range = this.fdeRange(this.fdes[best]!);
    if (range === undefined) return undefined;
    if (range.start !== start || vaddr >= start + range.length) return undefined;
    return { start, end: start + range.length };
  }

  /** pc_begin and pc_range of the FDE at `fdeVaddr`. */
  private fdeRange(fdeVaddr: number): { start: number; length: number } | undefined {
    const off = this.elf.vaddrToOffset(fdeVaddr);
    if (off === undefined) return undefined;
    const fde = this.elf.read(off, 32);
    if (fde.length < 16) return undefined;
    const len = fde.readUInt32LE(0);
    if (len === 0 || len === 0xffffffff) return undefined;
    const ciePtr = fde.readUInt32LE(4);
    const enc = this.cieFdeEncoding(fdeVaddr + 4 - ciePtr);
    if (enc === undefined) return undefined;
    const s = readEncoded(fde, 8, enc, fdeVaddr + 8, 0);
    if (!s) return undefined;
    const r = readEncoded(fde, 8 + s.size, enc & 0x0f, 0, 0);
    if (!r) return undefined;
    return { start: s.value, length: r.value };
  }

  private cieEnc = new Map<number, number | undefined>();

  /** The FDE pointer encoding a CIE declares ('R' augmentation), absptr when it declares none. */
  private cieFdeEncoding(cieVaddr: number): number | undefined {
    if (this.cieEnc.has(cieVaddr)) return this.cieEnc.get(cieVaddr);
    let enc: number | undefined;
    const off = this.elf.vaddrToOffset(cieVaddr);
    if (off !== undefined) {
      const b = this.elf.read(off, 64);
      enc = parseCieEncoding(b);
    }
    this.cieEnc.set(cieVaddr, enc);
    return enc;
  }
}

function parseCieEncoding(b: Buffer): number | undefined {
  if (b.length < 12 || b.readUInt32LE(4) !== 0) return undefined; // CIE id is 0 in .eh_frame
  const version = b[8]!;
  let i = 9;
  const augEnd = b.indexOf(0, i);
  if (augEnd < 0) return undefined;
  const aug = b.toString('latin1', i, augEnd);
  i = augEnd + 1;
  i += uleb(b, i).size; // code alignment
  i += uleb(b, i).size; // data alignment (sleb: same length rules)
  i += version === 1 ? 1 : uleb(b, i).size; // return address register
  if (!aug.startsWith('z')) return 0x00;
  i += uleb(b, i).size; // augmentation data length
  for (const ch of aug.slice(1)) {
    if (i >= b.length) return undefined;
    if (ch === 'R') return b[i]!;
    if (ch === 'L') i += 1;
    else if (ch === 'P') {
      const penc = b[i]!;
      i += 1;
      const p = readEncoded(b, i, penc & 0x0f, 0, 0);
      if (!p) return undefined;
      i += p.size;
    } else if (ch === 'S' || ch === 'B') continue;
    else return undefined;
  }
  return 0x00;
}

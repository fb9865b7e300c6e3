/**
 * A small ELF64 reader: headers, sections, program headers, symbols, dynamic entries, notes.
 *
 * It reads only the byte ranges it needs (a statically linked `node` is ~100 MB), so it works from a file
 * descriptor with positional reads. Little-endian ELF64 only (x86-64 and arm64, the architectures the tool
 * supports); anything else is rejected with a clear error.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CaptureError } from '../errors.js';

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PF_X = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_DYNSYM = 11;
export const SHT_NOBITS = 8;
export const STT_FUNC = 2;
export const STT_GNU_IFUNC = 10;
export const SHN_UNDEF = 0;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

export interface ElfSegment {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  shndx: number;
  /** symbol version for .dynsym entries (e.g. OPENSSL_3.0.0), when present */
  version?: string;
}

export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export class ElfFile {
  readonly path: string;
  readonly identity: FileIdentity;
  readonly type: number;
  readonly machine: number;
  readonly entry: number;
  readonly sections: ElfSection[];
  readonly segments: ElfSegment[];
  private fd: number;
  private symCache = new Map<string, ElfSymbol[]>();
  private dataCache = new Map<number, Buffer>();
  private symIndex?: Map<string, ElfSymbol>;
  private dynSymIndex?: Map<string, ElfSymbol>;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.fd = fd;
    const st = fstatSync(fd);
    this.identity = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    const eh = this.read(0, 64);
    if (eh.length < 64 || eh.readUInt32BE(0) !== 0x7f454c46) {
      throw new CaptureError('ECAP_ELF', `read ELF header of ${path}: not an ELF file`);
    }
    if (eh[4] !== 2 || eh[5] !== 1) {
      throw new CaptureError('ECAP_ELF', `read ELF header of ${path}: only little-endian ELF64 is supported`);
    }
    this.type = eh.readUInt16LE(16);
    this.machine = eh.readUInt16LE(18);
    this.entry = Number(eh.readBigUInt64LE(24));
    const phoff = Number(eh.readBigUInt64LE(32));
    const shoff = Number(eh.readBigUInt64LE(40));
    const phentsize = eh.readUInt16LE(54);
    const phnum = eh.readUInt16LE(56);
    const shentsize = eh.readUInt16LE(58);
    let shnum = eh.readUInt16LE(60);
    let shstrndx = eh.readUInt16LE(62);

    this.segments = [];
    if (phnum > 0 && phentsize >= 56) {
      const ph = this.read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        if (o + 56 > ph.length) break;
        this.segments.push({
          type: ph.readUInt32LE(o),
          flags: ph.readUInt32LE(o + 4),
          offset: Number(ph.readBigUInt64LE(o + 8)),
          vaddr: Number(ph.readBigUInt64LE(o + 16)),
          filesz: Number(ph.readBigUInt64LE(o + 32)),
          memsz: Number(ph.readBigUInt64LE(o + 40)),
        });
      }
    }

    this.sections = [];
    if (shoff > 0 && shentsize >= 64) {
      if (shnum === 0) {
        // extended numbering: real count in sh_size of section 0
        const s0 = this.read(shoff, 64);
        shnum = Number(s0.readBigUInt64LE(32));
        if (shstrndx === 0xffff) shstrndx = s0.readUInt32LE(40);
      }
      const sh = this.read(shoff, shnum * shentsize);
      const raw: Omit<ElfSection, 'name'>[] = [];
      const nameOffs: number[] = [];
      for (let i = 0; i < shnum; i++) {
        const o = i * shentsize;
        if (o + 64 > sh.length) break;
        nameOffs.push(sh.readUInt32LE(o));
        raw.push({
          index: i,
          type: sh.readUInt32LE(o + 4),
          flags: sh.readBigUInt64LE(o + 8),
          addr: Number(sh.readBigUInt64LE(o + 16)),
          offset: Number(sh.readBigUInt64LE(o + 24)),
          size: Number(sh.readBigUInt64LE(o + 32)),
          link: sh.readUInt32LE(o + 40),
          info: sh.readUInt32LE(o + 44),
          entsize: Number(sh.readBigUInt64LE(o + 56)),
        });
      }
      const strSec = raw[shstrndx];
      const names = strSec ? this.read(strSec.offset, strSec.size) : Buffer.alloc(0);
      for (let i = 0; i < raw.length; i++) {
        this.sections.push({ ...raw[i]!, name: cstr(names, nameOffs[i]!) });
      }
    }
  }

  /** Open an ELF file; throws CaptureError(ECAP_ELF) with the path when it cannot be read or parsed. */
  static open(path: string): ElfFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw new CaptureError('ECAP_ELF', `open ${path}: ${(cause as Error).message}`, { cause });
    }
    try {
      return new ElfFile(path, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Read `len` bytes at file offset `off` (short at end of file). */
  read(off: number, len: number): Buffer {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, buf, got, len - got, off + got);
      if (n <= 0) break;
      got += n;
    }
    return got === len ? buf : buf.subarray(0, got);
  }

  get isPie(): boolean {
    return this.type === ET_DYN && this.segments.some((s) => s.type === PT_INTERP);
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** A section's bytes; sections up to 16 MiB are cached for the life of this ElfFile. */
  sectionData(sec: ElfSection | string): Buffer {
    const s = typeof sec === 'string' ? this.section(sec) : sec;
    if (!s || s.type === SHT_NOBITS) return Buffer.alloc(0);
    const hit = this.dataCache.get(s.index);
    if (hit) return hit;
    const d = this.read(s.offset, s.size);
    if (s.size <= 16 << 20) this.dataCache.set(s.index, d);
    return d;
  }

  /** Translate a virtual address (as in symbol values) into a file offset, using the PT_LOAD segments. */
  vaddrToOffset(vaddr: number): number | undefined {
    for (const s of this.segments) {
      if (s.type === PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) {
        return vaddr - s.vaddr + s.offset;
      }
    }
    return undefined;
  }

  /** Translate a file offset into a virtual address. */
  offsetToVaddr(off: number): number | undefined {
    for (const s of this.segments) {
      if (s.type === PT_LOAD && off >= s.offset && off < s.offset + s.filesz) return off - s.offset + s.vaddr;
    }
    return undefined;
  }

  /** All symbols of one table ('.dynsym' or '.symtab'); empty if the table is absent. */
  symbols(table: '.dynsym' | '.symtab'): ElfSymbol[] {
    const cached = this.symCache.get(table);
    if (cached) return cached;
    const sec = this.section(table);
    const out: ElfSymbol[] = [];
    if (sec && sec.entsize >= 24 && sec.type !== SHT_NOBITS) {
      const data = this.sectionData(sec);
      const strs = this.sections[sec.link] ? this.sectionData(this.sections[sec.link]!) : Buffer.alloc(0);
      const versions = table === '.dynsym' ? this.symbolVersions(data.length / sec.entsize) : undefined;
      for (let o = 0, i = 0; o + 24 <= data.length; o += sec.entsize, i++) {
        const info = data[o + 4]!;
        const sym: ElfSymbol = {
          name: cstr(strs, data.readUInt32LE(o)),
          bind: info >> 4,
          type: info & 0xf,
          shndx: data.readUInt16LE(o + 6),
          value: Number(data.readBigUInt64LE(o + 8)),
          size: Number(data.readBigUInt64LE(o + 16)),
        };
        const v = versions?.[i];
        if (v) sym.version = v;
        out.push(sym);
      }
    }
    this.symCache.set(table, out);
    return out;
  }

  /**
   * Find a defined symbol by name: .dynsym first, then .symtab. Names with a version suffix
   * (`SSL_write@@OPENSSL_3.0.0`) match the plain name too.
   */
  findSymbol(name: string, opts: { dynamicOnly?: boolean } = {}): ElfSymbol | undefined {
    if (!this.dynSymIndex) this.dynSymIndex = indexSymbols(this.symbols('.dynsym'));
    const d = this.dynSymIndex.get(name);
    if (d || opts.dynamicOnly) return d;
    if (!this.symIndex) this.symIndex = indexSymbols(this.symbols('.symtab'));
    return this.symIndex.get(name);
  }

  /**
   * Look up a few names without indexing the whole table: find each name's offset in the string table,
   * then scan the raw symbol entries for those offsets. For a binary like node (~100k dynamic symbols)
   * this is ~1 ms instead of building a map of every symbol. Returns defined symbols only.
   */
  lookupSymbols(names: readonly string[], table: '.dynsym' | '.symtab' = '.dynsym'): Map<string, ElfSymbol> {
    const out = new Map<string, ElfSymbol>();
    const sec = this.section(table);
    if (!sec || sec.entsize < 24 || sec.type === SHT_NOBITS || !this.sections[sec.link]) return out;
    const strs = this.sectionData(this.sections[sec.link]!);
    // all offsets of each exact NUL-terminated name (a name may also be the suffix of a longer string)
    const want = new Map<number, string>();
    for (const n of names) {
      const needle = Buffer.from(`${n}\0`, 'latin1');
      for (let i = strs.indexOf(needle); i >= 0; i = strs.indexOf(needle, i + 1)) want.set(i, n);
    }
    if (want.size === 0) return out;
    const data = this.sectionData(sec);
    for (let o = 0; o + 24 <= data.length; o += sec.entsize) {
      const name = want.get(data.readUInt32LE(o));
      if (name === undefined) continue;
      const shndx = data.readUInt16LE(o + 6);
      const value = Number(data.readBigUInt64LE(o + 8));
      if (shndx === SHN_UNDEF || value === 0) continue;
      const info = data[o + 4]!;
      const prev = out.get(name);
      if (prev && prev.type === STT_FUNC) continue;
      out.set(name, { name, value, size: Number(data.readBigUInt64LE(o + 16)), type: info & 0xf, bind: info >> 4, shndx });
    }
    return out;
  }

  /** File offset of a defined function symbol, as a uprobe wants it. */
  symbolFileOffset(name: string): number | undefined {
    const s = this.findSymbol(name);
    if (!s || s.shndx === SHN_UNDEF || s.value === 0) return undefined;
    return this.vaddrToOffset(s.value);
  }

  /** DT_NEEDED, DT_SONAME, DT_RUNPATH/DT_RPATH from the dynamic section. */
  dynamic(): { needed: string[]; soname?: string; runpath: string[] } {
    const sec = this.section('.dynamic');
    const out: { needed: string[]; soname?: string; runpath: string[] } = { needed: [], runpath: [] };
    if (!sec) return out;
    const data = this.sectionData(sec);
    const strSec = this.sections[sec.link];
    const strs = strSec ? this.sectionData(strSec) : Buffer.alloc(0);
    for (let o = 0; o + 16 <= data.length; o += 16) {
      const tag = Number(data.readBigInt64LE(o));
      const val = Number(data.readBigUInt64LE(o + 8));
      if (tag === 0) break;
      if (tag === 1) out.needed.push(cstr(strs, val));
      else if (tag === 14) out.soname = cstr(strs, val);
      else if (tag === 15 || tag === 29) out.runpath.push(...cstr(strs, val).split(':').filter(Boolean));
    }
    return out;
  }

  /** GNU build id as hex, if the file has one. */
  buildId(): string | undefined {
    const sec = this.section('.note.gnu.build-id');
    if (!sec) return undefined;
    const d = this.sectionData(sec);
    if (d.length < 16) return undefined;
    const namesz = d.readUInt32LE(0);
    const descsz = d.readUInt32LE(4);
    const descOff = 12 + ((namesz + 3) & ~3);
    return d.subarray(descOff, descOff + descsz).toString('hex');
  }

  /**
   * Search read-only data for a pattern, in windows (so a 100 MB binary is not read at once).
   * Returns the first match of `re` (which must not be global) in `.rodata` (or the named sections).
   */
  searchRodata(re: RegExp, sections: string[] = ['.rodata']): RegExpExecArray | undefined {
    const WINDOW = 1 << 20;
    const OVERLAP = 256;
    for (const name of sections) {
      const sec = this.section(name);
      if (!sec || sec.type === SHT_NOBITS) continue;
      for (let off = 0; off < sec.size; off += WINDOW - OVERLAP) {
        const chunk = this.read(sec.offset + off, Math.min(WINDOW, sec.size - off)).toString('latin1');
        const m = re.exec(chunk);
        if (m) return m;
        if (off + WINDOW >= sec.size) break;
      }
    }
    return undefined;
  }

  /**
   * Find `re` in read-only data at places where the literal `prefix` occurs: native memmem finds the
   * candidates, the regex runs only on a short string there (fast on 50 MB of .rodata).
   */
  searchRodataAt(prefix: string, re: RegExp, sections: string[] = ['.rodata'], span = 128): RegExpExecArray | undefined {
    const needle = Buffer.from(prefix, 'latin1');
    const WINDOW = 1 << 20;
    for (const name of sections) {
      const sec = this.section(name);
      if (!sec || sec.type === SHT_NOBITS) continue;
      for (let off = 0; off < sec.size; off += WINDOW - span) {
        const chunk = this.read(sec.offset + off, Math.min(WINDOW, sec.size - off));
        for (let i = chunk.indexOf(needle); i >= 0; i = chunk.indexOf(needle, i + 1)) {
          const m = re.exec(chunk.toString('latin1', i, Math.min(chunk.length, i + span)));
          if (m && m.index === 0) return m;
        }
        if (off + WINDOW >= sec.size) break;
      }
    }
    return undefined;
  }

  /** Whether a literal byte string occurs in read-only data (native memmem per 1 MiB window: fast on 100 MB binaries). */
  rodataIncludes(literal: string, sections: string[] = ['.rodata']): boolean {
    const needle = Buffer.from(literal, 'latin1');
    const WINDOW = 1 << 20;
    for (const name of sections) {
      const sec = this.section(name);
      if (!sec || sec.type === SHT_NOBITS) continue;
      for (let off = 0; off < sec.size; off += WINDOW - needle.length) {
        if (this.read(sec.offset + off, Math.min(WINDOW, sec.size - off)).indexOf(needle) >= 0) return true;
        if (off + WINDOW >= sec.size) break;
      }
    }
    return false;
  }

  /** Version names for .dynsym entries from .gnu.version / .gnu.version_d / .gnu.version_r. */
  private symbolVersions(count: number): (string | undefined)[] | undefined {
    const versym = this.section('.gnu.version');
    if (!versym) return undefined;
    const vs = this.sectionData(versym);
    const names = new Map<number, string>();
    const verdef = this.section('.gnu.version_d');
    if (verdef) {
      const d = this.sectionData(verdef);
      const strs = this.sectionData(this.sections[verdef.link]!);
      let o = 0;
      for (let i = 0; i < verdef.info && o + 20 <= d.length; i++) {
        const ndx = d.readUInt16LE(o + 4);
        const aux = d.readUInt32LE(o + 12);
        const next = d.readUInt32LE(o + 16);
        if (o + aux + 8 <= d.length) names.set(ndx, cstr(strs, d.readUInt32LE(o + aux)));
        if (!next) break;
        o += next;
      }
    }
    const verneed = this.section('.gnu.version_r');
    if (verneed) {
      const d = this.sectionData(verneed);
      const strs = this.sectionData(this.sections[verneed.link]!);
      let o = 0;
      for (let i = 0; i < verneed.info && o + 16 <= d.length; i++) {
        const cnt = d.readUInt16LE(o + 2);
        let a = o + d.readUInt32LE(o + 8);
        for (let j = 0; j < cnt && a + 16 <= d.length; j++) {
          names.set(d.readUInt16LE(a + 6), cstr(strs, d.readUInt32LE(a + 8)));
          const nx = d.readUInt32LE(a + 12);
          if (!nx) break;
          a += nx;
        }
        const next = d.readUInt32LE(o + 12);
        if (!next) break;
        o += next;
      }
    }
    const out: (string | undefined)[] = [];
    for (let i = 0; i < count && i * 2 + 2 <= vs.length; i++) {
      const v = vs.readUInt16LE(i * 2) & 0x7fff;
      out.push(v > 1 ? names.get(v) : undefined);
    }
    return out;
  }
}

function indexSymbols(syms: ElfSymbol[]): Map<string, ElfSymbol> {
  const m = new Map<string, ElfSymbol>();
  for (const s of syms) {
    if (s.shndx === SHN_UNDEF || !s.name) continue;
    const prev = m.get(s.name);
    // prefer functions, then the default version (no explicit version), then the first seen
    if (!prev || (prev.type !== STT_FUNC && s.type === STT_FUNC)) m.set(s.name, s);
    const at = s.name.indexOf('@');
    if (at > 0 && !m.has(s.name.slice(0, at))) m.set(s.name.slice(0, at), s);
  }
  return m;
}

function cstr(buf: Buffer, off: number): string {
  if (off >= buf.length) return '';
  let end = buf.indexOf(0, off);
  if (end < 0) end = buf.length;
  return buf.toString('latin1', off, end);
}

/** Open, use and close an ELF file. */
export function withElf<T>(path: string, fn: (elf: ElfFile) => T): T {
  const elf = ElfFile.open(path);
  try {
    return fn(elf);
  } finally {
    elf.close();
  }
}

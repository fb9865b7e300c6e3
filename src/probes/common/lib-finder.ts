/**
 * Finding the files to hook for a TLS library known by its exported functions, the way the tls module does
 * for OpenSSL (src/probes/tls/targets.ts): library files in the system's library directories, files mapped
 * by running processes, and the libraries a newly started program needs. Used by the gnutls and nss modules.
 *
 * One inspection per distinct file (dev:inode), cached for the life of the process. A file is a target when
 * its .dynsym defines every required function; a cheap .dynstr substring test rejects other files before
 * any symbol is parsed.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { ElfFile, EM_AARCH64, EM_X86_64 } from '../../elf/elf-file.js';
import { findLibraries, resolveNeeded } from '../../discovery/libs.js';
import { hostPath, readMaps } from '../../discovery/proc.js';

export interface LibSpec<F extends string, X> {
  /** for messages, e.g. "GnuTLS" */
  readonly what: string;
  /** functions looked up in .dynsym (file offsets are returned for those found) */
  readonly funcs: readonly F[];
  /** functions a target must define */
  readonly required: readonly F[];
  /** library file names searched in the system library directories */
  readonly systemName: RegExp;
  /** DT_NEEDED names worth resolving when a program starts */
  readonly neededName: RegExp;
  /** DT_NEEDED names of intermediate libraries whose own DT_NEEDED are looked at too (one more level) */
  readonly viaName?: RegExp;
  /** extra facts about a target file (version, key hooks); called once per file */
  describe(elf: ElfFile, path: string): X;
}

export interface LibTarget<F extends string, X> {
  /** path we open/attach through (may be /proc/<pid>/root/... for containers) */
  path: string;
  /** path as the process sees it, for messages */
  displayPath: string;
  /** dev:ino */
  key: string;
  /** file offsets of the functions found */
  offsets: Partial<Record<F, number>>;
  info: X;
}

export class LibFinder<F extends string, X> {
  private cache = new Map<string, Omit<LibTarget<F, X>, 'path' | 'displayPath'> | null>();

  constructor(readonly spec: LibSpec<F, X>) {}

  /** Inspect one file; undefined when it is not an ELF for this machine or lacks a required function. */
  inspect(path: string, displayPath = path): LibTarget<F, X> | undefined {
    let elf: ElfFile;
    try {
      elf = ElfFile.open(path);
    } catch {
      return undefined;
    }
    try {
      const key = `${elf.identity.dev}:${elf.identity.ino}`;
      const hit = this.cache.get(key);
      if (hit !== undefined) return hit ? { ...hit, path, displayPath } : undefined;
      const t = this.inspectElf(elf, key, path);
      this.cache.set(key, t ?? null);
      return t ? { ...t, path, displayPath } : undefined;
    } finally {
      elf.close();
    }
  }

  private inspectElf(elf: ElfFile, key: string, path: string): Omit<LibTarget<F, X>, 'path' | 'displayPath'> | undefined {
    if (elf.machine !== EM_X86_64 && elf.machine !== EM_AARCH64) return undefined;
    const dynstr = elf.sectionData('.dynstr');
    for (const f of this.spec.required) if (dynstr.indexOf(`${f}\0`) < 0) return undefined;
    const syms = elf.lookupSymbols(this.spec.funcs, '.dynsym');
    const offsets: Partial<Record<F, number>> = {};
    for (const f of this.spec.funcs) {
      const s = syms.get(f);
      const off = s ? elf.vaddrToOffset(s.value) : undefined;
      if (off !== undefined) offsets[f] = off;
    }
    for (const f of this.spec.required) if (offsets[f] === undefined) return undefined;
    return { key, offsets, info: this.spec.describe(elf, path) };
  }

  /** Library files installed on the system. */
  system(): LibTarget<F, X>[] {
    const out: LibTarget<F, X>[] = [];
    for (const f of findLibraries(this.spec.systemName)) {
      const t = this.inspect(f.path);
      if (t) out.push(t);
    }
    return out;
  }

  /** mapping (device, inode, path as mapped) → whether it was a target; spares re-opening files on rescans */
  private seenMappings = new Map<string, boolean>();

  /** Files a running process maps (its executable included) that define the library's functions. */
  ofProcess(pid: number): LibTarget<F, X>[] {
    const out: LibTarget<F, X>[] = [];
    const seen = new Set<string>();
    for (const m of readMaps(pid)) {
      if (m.perms[2] !== 'x' || !m.path.startsWith('/') || m.inode === 0) continue;
      const path = m.path.endsWith(' (deleted)') ? m.path.slice(0, -10) : m.path;
      const id = `${m.dev}|${m.inode}|${path}`;
      if (seen.has(id)) continue;
      seen.add(id);
      if (this.seenMappings.get(id) === false) continue;
      const p = hostPath(pid, path, m.inode);
      if (!p) continue;
      const t = this.inspect(p, path);
      if (this.seenMappings.size < 100_000) this.seenMappings.set(id, !!t);
      if (t) out.push(t);
    }
    return out;
  }

  /**
   * A program that just started: its executable and the libraries it needs by name (through `viaName` libraries
   * too), resolved like ld.so would: LD_LIBRARY_PATH (`libPath`, from the process's environment), RUNPATH, the
   * system directories. Paths are opened through /proc/<pid>/root when `pid` is given (containers).
   */
  ofNewProgram(exe: string, libPath: readonly string[] = []): LibTarget<F, X>[] {
    const out: LibTarget<F, X>[] = [];
    const t = this.inspect(exe);
    if (t) out.push(t);
    const visit = (file: string, depth: number): void => {
      let needed: string[];
      let runpath: string[];
      try {
        const elf = ElfFile.open(file);
        try {
          ({ needed, runpath } = elf.dynamic());
        } finally {
          elf.close();
        }
      } catch {
        return; /* exited already, or not ELF (a script) */
      }
      for (const n of needed) {
        const wanted = this.spec.neededName.test(n);
        const via = depth > 0 && !!this.spec.viaName?.test(n);
        if (!wanted && !via) continue;
        const p = resolveNeeded(n, [...libPath, ...runpath], dirname(file));
        if (!p) continue;
        if (wanted) {
          const lt = this.inspect(p);
          if (lt && !out.some((o) => o.key === lt.key)) out.push(lt);
        }
        if (via) visit(p, depth - 1);
      }
    };
    visit(exe, 1);
    return out;
  }

  /**
   * A process seen again a little after its exec: libraries the loader or dlopen() mapped meanwhile, also from
   * directories we could not predict. Only files not in `known` are inspected.
   */
  lateMappings(pid: number, known: ReadonlySet<string>): LibTarget<F, X>[] {
    return this.ofProcess(pid).filter((t) => !known.has(t.key));
  }

  clear(): void {
    this.cache.clear();
    this.seenMappings.clear();
  }
}

/** LD_LIBRARY_PATH of a running process (absolute entries only; empty when unreadable). */
export function processLibraryPath(pid: number): string[] {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return [];
  }
  const v = env.split('\0').find((e) => e.startsWith('LD_LIBRARY_PATH='));
  if (!v) return [];
  return v
    .slice('LD_LIBRARY_PATH='.length)
    .split(/[:;]/)
    .filter((d) => d && isAbsolute(d))
    .map((d) => join(d));
}

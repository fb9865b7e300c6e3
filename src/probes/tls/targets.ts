/**
 * Which files to hook for OpenSSL/BoringSSL: shared libraries that define SSL_write/SSL_read, and
 * executables with OpenSSL linked in statically that export them (node). One inspection per distinct file
 * (dev:inode), cached for the life of the process.
 */
import { basename, dirname } from 'node:path';
import { ElfFile, EM_AARCH64, EM_X86_64, STT_FUNC, type ElfSymbol } from '../../elf/elf-file.js';
import { findLibraries, resolveNeeded } from '../../discovery/libs.js';
import { executableMappings, exePath, hostPath } from '../../discovery/proc.js';
import { FileCache } from '../../discovery/file-cache.js';
import { DeferredFileCache } from '../common/deferred-file-cache.js';
import { callsTo, passThroughCallee } from '../../elf/x86-wrapper.js';

/** Functions we hook, in attach order. `_ex` forms are optional (OpenSSL ≥ 1.1.1); SSL_do_handshake only in keylog/pcap modes. */
export const SSL_FUNCS = ['SSL_write', 'SSL_read', 'SSL_write_ex', 'SSL_read_ex', 'SSL_free', 'SSL_do_handshake'] as const;
/**
 * The unexported functions that SSL_write/SSL_write_ex and SSL_read/SSL_read_ex both call with the _ex
 * arguments (OpenSSL's ssl_write_internal, ssl_read_internal), where the build keeps them out of line:
 * found from the wrappers' code (innerFunctions()), hooked instead of the wrappers.
 */
export const SSL_INNER = ['ssl_write_internal', 'ssl_read_internal'] as const;
export type SslFunc = (typeof SSL_FUNCS)[number] | (typeof SSL_INNER)[number];

export interface SslTarget {
  /** path we open/attach through (may be /proc/<pid>/root/... for containers) */
  path: string;
  /** path as the process sees it, for messages */
  displayPath: string;
  key: string; // dev:ino
  kind: 'shared' | 'static';
  /** "openssl 3.0.22", "boringssl", "openssl (static, 3.0.19)", or "openssl" when unknown */
  lib: string;
  offsets: Partial<Record<SslFunc, number>>;
}

const cache = new Map<string, SslTarget | null>();

function keyOf(elf: ElfFile): string {
  return `${elf.identity.dev}:${elf.identity.ino}`;
}

const VERSION_RE = /OpenSSL (\d+\.\d+\.\d+[a-z]*)( \(compatible; BoringSSL\))?/;

/** A short library description from its read-only strings (or its libcrypto's, for libssl.so.3). */
function describeLib(elf: ElfFile, path: string): string {
  const fromElf = (e: ElfFile): string | undefined => {
    const m = e.searchRodataAt('OpenSSL ', VERSION_RE);
    if (m) return m[2] ? 'boringssl' : `openssl ${m[1]}`;
    return e.rodataIncludes('BoringSSL') ? 'boringssl' : undefined;
  };
  let d = fromElf(elf);
  if (!d) {
    const { needed, runpath } = elf.dynamic();
    const crypto = needed.find((n) => n.startsWith('libcrypto.so'));
    const p = crypto ? resolveNeeded(crypto, runpath, dirname(path)) : undefined;
    if (p) {
      try {
        const c = ElfFile.open(p);
        try {
          d = fromElf(c);
        } finally {
          c.close();
        }
      } catch {
        /* unreadable: version unknown */
      }
    }
  }
  return d ?? 'openssl';
}

/**
 * Inspect one file: undefined when it is not an ELF for this machine or does not define SSL_write and
 * SSL_read. Cheap for non-TLS files: only .dynstr is searched before symbols are parsed.
 */
export function inspectSslFile(path: string, displayPath = path, opts: { allowSymtab?: boolean } = {}): SslTarget | undefined {
  // persistent cache across runs (node's 100 MB binary takes ~0.2 s to inspect)
  const fkey = FileCache.keyOf(path);
  const persisted = fkey ? disk.get(`${fkey}:${opts.allowSymtab ? 1 : 0}`) : undefined;
  if (persisted !== undefined) {
    if (persisted === null) return undefined;
    const isLib = /\.so(\.|$)/.test(basename(displayPath));
    const t: SslTarget = {
      path, displayPath, key: persisted.key, kind: isLib ? 'shared' : 'static',
      lib: isLib ? persisted.lib : `${persisted.lib} (static in ${basename(displayPath)})`, offsets: persisted.offsets,
    };
    cache.set(t.key, t);
    return t;
  }
  const t = inspectUncached(path, displayPath, opts);
  if (fkey) {
    disk.set(`${fkey}:${opts.allowSymtab ? 1 : 0}`, t ? { key: t.key, lib: t.baseLib, offsets: t.offsets } : null);
  }
  if (!t) return undefined;
  const { baseLib: _unused, ...rest } = t;
  void _unused;
  return rest;
}

interface CachedTarget {
  key: string;
  lib: string;
  offsets: Partial<Record<SslFunc, number>>;
}
/** Persisted a moment after the last new file (off the startup path). */
const disk = new DeferredFileCache<CachedTarget | null>('ssl-targets-v3');

function inspectUncached(path: string, displayPath: string, opts: { allowSymtab?: boolean }): (SslTarget & { baseLib: string }) | undefined {
  let elf: ElfFile;
  try {
    elf = ElfFile.open(path);
  } catch {
    return undefined;
  }
  try {
    const key = keyOf(elf);
    const hit = cache.get(key);
    if (hit !== undefined) return hit ? { ...hit, path, displayPath, baseLib: hit.lib.replace(/ \(static in .*\)$/, '') } : undefined;
    if (elf.machine !== EM_X86_64 && elf.machine !== EM_AARCH64) {
      cache.set(key, null);
      return undefined;
    }
    const dynstr = elf.sectionData('.dynstr');
    let dynamicOnly = true;
    if (dynstr.indexOf('SSL_write\0') < 0) {
      // not exported: only worth a .symtab look for executables the user or a process points us at
      if (!opts.allowSymtab || !elf.section('.symtab')) {
        cache.set(key, null);
        return undefined;
      }
      dynamicOnly = false;
    }
    const offsets: Partial<Record<SslFunc, number>> = {};
    const syms = elf.lookupSymbols(SSL_FUNCS, dynamicOnly ? '.dynsym' : '.symtab');
    for (const f of SSL_FUNCS) {
      const s = syms.get(f);
      const off = s ? elf.vaddrToOffset(s.value) : undefined;
      if (off !== undefined) offsets[f] = off;
    }
    if (offsets.SSL_write === undefined || offsets.SSL_read === undefined) {
      cache.set(key, null);
      return undefined;
    }
    if (elf.machine === EM_X86_64) Object.assign(offsets, innerFunctions(elf, syms));
    const isLib = /\.so(\.|$)/.test(basename(displayPath));
    const desc = describeLib(elf, path);
    const t: SslTarget = {
      path,
      displayPath,
      key,
      kind: isLib ? 'shared' : 'static',
      lib: isLib ? desc : `${desc} (static in ${basename(displayPath)})`,
      offsets,
    };
    cache.set(key, t);
    return { ...t, baseLib: desc };
  } finally {
    elf.close();
  }
}

/**
 * ssl_write_internal / ssl_read_internal, when both wrappers of a direction reach them: SSL_*_ex passes its
 * four arguments straight through (its first instruction after the prologue is the call: passThroughCallee)
 * and SSL_read / SSL_write calls the same address. Then every plaintext read (write) of the library goes
 * through that one function with SSL_read_ex's arguments and return value (1 on success, the length through
 * the fourth argument), and hooking it instead of the two wrappers captures the same calls, once each (and
 * the SSL BIO's, which call it directly).
 * OpenSSL ≥ 3.2's SSL_write_ex adds a flags argument on the way (it fails the pass-through test) and
 * BoringSSL's wrappers look different: those keep their exported hooks, as do builds that inline the function.
 * Why bother: see src/elf/x86-wrapper.ts (Debian's SSL_read starts with an instruction the kernel must
 * single-step; the inner function with a push, which it emulates).
 */
function innerFunctions(elf: ElfFile, syms: Map<string, ElfSymbol>): Partial<Record<SslFunc, number>> {
  const out: Partial<Record<SslFunc, number>> = {};
  const code = (s: ElfSymbol, max: number): Buffer | undefined => {
    const off = elf.vaddrToOffset(s.value);
    return off === undefined ? undefined : elf.read(off, Math.min(s.size || max, max));
  };
  const pairs = [
    ['ssl_read_internal', 'SSL_read_ex', 'SSL_read'],
    ['ssl_write_internal', 'SSL_write_ex', 'SSL_write'],
  ] as const;
  for (const [inner, ex, plain] of pairs) {
    const exSym = syms.get(ex);
    const plainSym = syms.get(plain);
    if (!exSym || !plainSym || exSym.type !== STT_FUNC || plainSym.type !== STT_FUNC) continue;
    const exCode = code(exSym, 32);
    const target = exCode ? passThroughCallee(exCode, exSym.value) : undefined;
    const plainCode = code(plainSym, 512);
    if (target === undefined || !plainCode || !callsTo(plainCode, plainSym.value, target)) continue;
    const off = elf.vaddrToOffset(target);
    if (off !== undefined) out[inner] = off;
  }
  return out;
}

/**
 * The functions to hook in a target: where the library routes both forms of a direction through one inner
 * function (targets.ts, innerFunctions()), that function instead of SSL_x and SSL_x_ex. Same calls, half the
 * probes, and on Debian's libssl an entry the kernel emulates instead of single-stepping (~3x cheaper per call
 * here: docs/architecture.md, "Where the probes go"). ECAPTURE_HOOK_EXPORTS=1 keeps the exported functions.
 */
export function hookedFunctions(offsets: Partial<Record<SslFunc, number>>, exportsOnly = process.env.ECAPTURE_HOOK_EXPORTS === '1'): Partial<Record<SslFunc, number>> {
  const out = { ...offsets };
  const route = (inner: 'ssl_write_internal' | 'ssl_read_internal', wrappers: readonly SslFunc[]): void => {
    if (exportsOnly || out[inner] === undefined) delete out[inner];
    else for (const w of wrappers) delete out[w];
  };
  route('ssl_write_internal', ['SSL_write', 'SSL_write_ex']);
  route('ssl_read_internal', ['SSL_read', 'SSL_read_ex']);
  return out;
}

/** libssl copies installed on the system (all of them: OpenSSL 1.1, 3, BoringSSL under android/, ...). */
export function systemSslTargets(): SslTarget[] {
  const out: SslTarget[] = [];
  for (const f of findLibraries(/^libssl\.so(\.[\d.]+)?$/)) {
    const t = inspectSslFile(f.path);
    if (t) out.push(t);
  }
  return out;
}

/** (path as mapped, inode) → result, so a file mapped by a hundred processes is opened once. */
const mappedCache = new Map<string, SslTarget | null>();

/** Files a running process maps (its executable included) that carry OpenSSL/BoringSSL. */
export function processSslTargets(pid: number): SslTarget[] {
  const out: SslTarget[] = [];
  const exe = exePath(pid);
  for (const m of executableMappings(pid)) {
    const ck = `${m.inode}:${m.path}`;
    const hit = mappedCache.get(ck);
    if (hit === null) continue;
    if (hit) {
      out.push(hit);
      continue;
    }
    const p = hostPath(pid, m.path, m.inode);
    if (!p) continue;
    const t = inspectSslFile(p, m.path, { allowSymtab: m.path === exe });
    mappedCache.set(ck, t ?? null);
    if (t) out.push(t);
  }
  return out;
}

export function clearTargetCache(): void {
  cache.clear();
  mappedCache.clear();
}

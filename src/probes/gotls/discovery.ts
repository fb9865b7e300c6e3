/**
 * Which files the gotls module hooks: Go executables that link crypto/tls. A file is analysed once per run
 * (keyed by device:inode) and its plan is kept in a persistent cache keyed by file identity, so a restart does
 * not parse the pclntab of every Go program again.
 *
 * Cheap first: an ELF whose section table names no Go section (.go.buildinfo, .gopclntab, .note.go.buildid) is
 * not analysed further; that rejects every C program after reading its headers only.
 */
import { statSync } from 'node:fs';
import { CaptureError } from '../../errors.js';
import { ElfFile } from '../../elf/elf-file.js';
import { findGoFunction, functionCode, GOTLS_READ_SYMBOL, planFromElf, type GoTlsPlan } from '../../elf/go/index.js';
import { FileCache } from '../../discovery/file-cache.js';
import { DeferredFileCache } from '../common/deferred-file-cache.js';
import { exePath, hostPath } from '../../discovery/proc.js';
import { readSpillProblem } from './spill.js';

export const GOTLS_CLOSE_SYMBOL = 'crypto/tls.(*Conn).Close';

/**
 * netFD.family and netFD.sotype, which src/elf/go/offsets.ts does not list: netFD is {pfd poll.FD; family int;
 * sotype int; isConnected bool; net string; laddr, raddr Addr} in Go 1.17–1.23, so with laddr at +96 (verified by
 * the goinfo fixture) family is at laddr − 40 (+56) and sotype at laddr − 32 (+64). The BPF side uses them only
 * to check that a Conn's net.Conn really is a socket before trusting the fd (wrong values cost the fd, never a
 * wrong one: the fd is also checked to be a socket of the process).
 */
export function netFdTypeOffsets(laddr: number): { family: number; sotype: number } {
  return { family: laddr - 40, sotype: laddr - 32 };
}

/** What the module needs of one Go binary (a GoTlsPlan minus what is only for messages), JSON-serialisable. */
export interface GoTlsTarget {
  /** path we open/attach through (may be /proc/<pid>/root/... for containers) */
  path: string;
  /** path as the process sees it, for messages */
  displayPath: string;
  /** dev:ino */
  key: string;
  goVersion: string;
  abi: GoTlsPlan['abi'];
  arch: GoTlsPlan['arch'];
  pie: boolean;
  stripped: boolean;
  /** file offsets */
  write: number;
  readRets: number[];
  keylog?: number;
  close?: number;
  argRegOffsets: number[];
  spOffset: number;
  stackArgBase: number;
  structOffsets: GoTlsPlan['structOffsets'];
  warnings: string[];
}

/** "go1.19.8 (register ABI, PIE, stripped)" */
export function describeTarget(t: Pick<GoTlsTarget, 'goVersion' | 'abi' | 'pie' | 'stripped'>): string {
  return `${t.goVersion} (${[`${t.abi} ABI`, t.pie ? 'PIE' : '', t.stripped ? 'stripped' : ''].filter(Boolean).join(', ')})`;
}

const GO_SECTIONS = ['.go.buildinfo', '.gopclntab', '.note.go.buildid'];

/** True when the ELF's section table names a Go section (headers only; no data read). */
export function looksLikeGo(elf: ElfFile): boolean {
  return elf.sections.some((s) => GO_SECTIONS.includes(s.name));
}

/** Add what the user can do to the analyser's errors. */
function withHint(e: unknown, path: string): CaptureError {
  if (!(e instanceof CaptureError)) return new CaptureError('ECAP_ELF', `analyse ${path}: ${(e as Error).message}`, { cause: e });
  let hint: string | undefined;
  if (/^not a Go binary/.test(e.message)) {
    hint = 'gotls hooks programs built by the Go toolchain; for C/C++ programs use the tls (OpenSSL/BoringSSL), gnutls or nss module';
  } else if (e.hint) {
    return e;
  } else if (e.code === 'ECAP_ATTACH_NO_SYMBOL') {
    hint = 'only programs that use Go\'s crypto/tls can be captured by gotls (a Go program using another TLS library, e.g. through cgo, needs the tls module)';
  }
  return hint ? new CaptureError(e.code, e.message, { cause: e.cause, hint, details: e.details }) : e;
}

/** Build a target from an open ELF; throws CaptureError saying what is wrong (not Go, too old, function missing). */
export function targetFromElf(elf: ElfFile, displayPath = elf.path): GoTlsTarget {
  let plan: GoTlsPlan;
  try {
    plan = planFromElf(elf);
  } catch (e) {
    throw withHint(e, displayPath);
  }
  const close = findGoFunction(elf, GOTLS_CLOSE_SYMBOL);
  const warnings = [...plan.warnings];
  if (plan.arch === 'amd64' && plan.abi === 'register') {
    const read = findGoFunction(elf, GOTLS_READ_SYMBOL);
    const problem = read ? readSpillProblem(functionCode(elf, read)) : undefined;
    if (problem) warnings.push(`${GOTLS_READ_SYMBOL}: ${problem}; reads may be missing or wrong (the read probes take the Conn and the buffer from those slots)`);
  }
  if (!close) warnings.push(`${GOTLS_CLOSE_SYMBOL} not found: connection ends are not reported (bytes lost at the very end of a connection would not show as a gap)`);
  const t: GoTlsTarget = {
    path: elf.path,
    displayPath,
    key: `${elf.identity.dev}:${elf.identity.ino}`,
    goVersion: plan.goVersion,
    abi: plan.abi,
    arch: plan.arch,
    pie: plan.pie,
    stripped: plan.stripped,
    write: plan.write.offset,
    readRets: plan.readRets.offsets,
    argRegOffsets: [...plan.abiTable.argRegOffsets],
    spOffset: plan.abiTable.spOffset,
    stackArgBase: plan.abiTable.stackArgBase,
    structOffsets: { ...plan.structOffsets },
    warnings,
  };
  if (plan.keylog) t.keylog = plan.keylog.offset;
  if (close) t.close = close.fileOffset;
  return t;
}

/**
 * Analyse the file the user named (--elfpath, or the executable of --pid). Throws a CaptureError that says what
 * is wrong and what to do.
 */
export function inspectGoFile(path: string, displayPath = path): GoTlsTarget {
  let elf: ElfFile;
  try {
    elf = ElfFile.open(path);
  } catch (e) {
    const msg = (e as Error).message;
    throw new CaptureError('ECAP_NO_TARGET', `${displayPath}: not a Go binary (${msg.replace(/^.*?: /, '')})`, {
      cause: e,
      hint: 'gotls needs an executable built by the Go toolchain (--elfpath PATH, or --pid of a running Go program)',
    });
  }
  try {
    return targetFromElf(elf, displayPath);
  } finally {
    elf.close();
  }
}

type Cached = { ok: Omit<GoTlsTarget, 'path' | 'displayPath'> } | { skip: string };

const disk = new DeferredFileCache<Cached>('gotls-targets-v2');

/** Write what was learnt now (end of a run). */
export function saveGoTargetCache(): void {
  disk.save();
}

/** dev:ino → result of this run (a target, or why the file is not one). */
const runCache = new Map<string, GoTlsTarget | string>();

/**
 * Discovery: the target for a file, or a reason why it is none ("not a Go binary", "no crypto/tls", …). Never
 * throws. Results are cached per run and, for analysed files, across runs.
 */
export function probeGoFile(path: string, displayPath = path): GoTlsTarget | { skip: string } {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    return { skip: (e as Error).message };
  }
  const key = `${st.dev}:${st.ino}`;
  const hit = runCache.get(key);
  if (hit !== undefined) return typeof hit === 'string' ? { skip: hit } : { ...hit, path, displayPath };
  const fkey = FileCache.keyOf(path);
  const persisted = fkey ? disk.get(fkey) : undefined;
  if (persisted) {
    if ('skip' in persisted) {
      runCache.set(key, persisted.skip);
      return { skip: persisted.skip };
    }
    const t: GoTlsTarget = { ...persisted.ok, path, displayPath };
    runCache.set(key, t);
    return t;
  }
  let result: GoTlsTarget | string;
  let persist = true;
  let elf: ElfFile | undefined;
  try {
    elf = ElfFile.open(path);
    if (!looksLikeGo(elf)) result = 'not a Go binary';
    else result = targetFromElf(elf, displayPath);
  } catch (e) {
    result = (e as Error).message;
    // a file we could not read at all may be readable later; analysis verdicts are stable
    if (!elf) persist = false;
  } finally {
    elf?.close();
  }
  runCache.set(key, result);
  if (persist && fkey) {
    if (typeof result === 'string') disk.set(fkey, { skip: result });
    else {
      const { path: _p, displayPath: _d, ...rest } = result;
      void _p;
      void _d;
      disk.set(fkey, { ok: rest });
    }
  }
  return typeof result === 'string' ? { skip: result } : result;
}

/** The path through which to open and attach to the executable of `pid` (containers: via /proc/<pid>/root). */
export function processExePath(pid: number): { path: string; displayPath: string } | undefined {
  const exe = exePath(pid);
  if (!exe) return undefined;
  let ino: number;
  try {
    ino = statSync(`/proc/${pid}/exe`).ino;
  } catch {
    return undefined;
  }
  const p = hostPath(pid, exe, ino);
  return { path: p ?? `/proc/${pid}/exe`, displayPath: exe };
}

/** The Go TLS target of a running process's executable, or why there is none. */
export function processGoTarget(pid: number): GoTlsTarget | { skip: string } {
  const p = processExePath(pid);
  if (!p) return { skip: 'process gone' };
  return probeGoFile(p.path, p.displayPath);
}

export function clearGoTargetCache(): void {
  runCache.clear();
}

/**
 * The gotls attach plan for one Go binary: everything the eBPF side needs to place its uprobes, computed
 * without privileges from the file alone.
 *
 *   write   uprobe at the entry of crypto/tls.(*Conn).writeRecordLocked
 *   read    uprobes at every RET of crypto/tls.(*Conn).Read (no uretprobes: Go moves goroutine stacks,
 *           and a uretprobe's hijacked return address on a moved stack crashes the program)
 *   keylog  uprobe at the entry of crypto/tls.(*Config).writeKeyLog (optional)
 * All offsets are FILE offsets (what perf_event_open's uprobe_path/offset want).
 */
import { CaptureError } from '../../errors.js';
import { ElfFile, ET_DYN } from '../elf-file.js';
import { abiTable, type AbiTable, type GoAbi, goAbi, MIN_GO_VERSION } from './abi.js';
import { findArm64Rets } from './arm64/ret.js';
import { compareGoVersion, type GoBuildInfo, readGoBuildInfo } from './buildinfo.js';
import { type GoArch, goArchOf } from './image.js';
import { GO_TLS_STRUCT_OFFSETS, GO_TLS_STRUCT_OFFSETS_RANGE, type GoTlsStructOffsets } from './offsets.js';
import { findGoFunction, functionCode, type GoFunction, isStripped, pclntabOf, resolveGoFunction } from './symbols.js';
import { findX86Rets } from './x86/ret.js';

export const GOTLS_WRITE_SYMBOL = 'crypto/tls.(*Conn).writeRecordLocked';
export const GOTLS_READ_SYMBOL = 'crypto/tls.(*Conn).Read';
export const GOTLS_KEYLOG_SYMBOL = 'crypto/tls.(*Config).writeKeyLog';

export interface GoTlsProbePoint {
  symbol: string;
  /** file offset of the function entry */
  offset: number;
  entryVaddr: number;
  source: GoFunction['source'];
}

export interface GoTlsPlan {
  path: string;
  goVersion: string;
  version: { major: number; minor: number; patch: number };
  abi: GoAbi;
  arch: GoArch;
  pie: boolean;
  stripped: boolean;
  buildInfo: GoBuildInfo;
  write: GoTlsProbePoint;
  readRets: GoTlsProbePoint & { /** file offsets of every RET */ offsets: number[] };
  keylog: GoTlsProbePoint | undefined;
  /** argument registers / stack layout for this binary's ABI */
  abiTable: AbiTable;
  structOffsets: GoTlsStructOffsets;
  warnings: string[];
}

const HOST_ARCH: Record<string, GoArch> = { x64: 'amd64', arm64: 'arm64' };

/** Analyse the Go binary at `path`. Throws CaptureError with a clear message when it cannot be probed. */
export function planGoTls(path: string): GoTlsPlan {
  const elf = ElfFile.open(path);
  try {
    return planFromElf(elf);
  } finally {
    elf.close();
  }
}

export function planFromElf(elf: ElfFile): GoTlsPlan {
  const path = elf.path;
  const arch = goArchOf(elf);
  if (!arch) {
    throw new CaptureError('ECAP_ELF', `${path}: unsupported ELF machine ${elf.machine} (gotls supports x86-64 and arm64)`);
  }
  const info = readGoBuildInfo(elf);
  if (compareGoVersion(info, MIN_GO_VERSION) < 0) {
    throw new CaptureError(
      'ECAP_ATTACH',
      `Go ${info.major}.${info.minor} is too old: ${path} was built by ${info.goVersion}; gotls supports Go ≥ ${MIN_GO_VERSION.major}.${MIN_GO_VERSION.minor}`,
      { hint: `rebuild the program with Go ${MIN_GO_VERSION.major}.${MIN_GO_VERSION.minor} or newer` },
    );
  }
  const warnings: string[] = [];
  const settingsArch = info.settings.get('GOARCH');
  if (settingsArch && settingsArch !== arch) warnings.push(`build settings say GOARCH=${settingsArch} but the ELF machine is ${arch}`);
  if (HOST_ARCH[process.arch] && HOST_ARCH[process.arch] !== arch) {
    warnings.push(`${path} is an ${arch} binary but this machine is ${HOST_ARCH[process.arch]}: uprobes cannot run its code here`);
  }
  if (info.source === 'buildVersion') warnings.push(`${path} has no .go.buildinfo; the Go version comes from runtime.buildVersion`);
  if (info.major === 1 && info.minor > GO_TLS_STRUCT_OFFSETS_RANGE.toMinor) {
    warnings.push(
      `${info.goVersion} is newer than the Go releases whose struct offsets were checked (1.${GO_TLS_STRUCT_OFFSETS_RANGE.fromMinor}–1.${GO_TLS_STRUCT_OFFSETS_RANGE.toMinor}); fd and address lookups may be wrong`,
    );
  }
  const abi = goAbi(info, arch);
  const stripped = isStripped(elf);
  const pie = elf.type === ET_DYN || info.settings.get('-buildmode') === 'pie';

  const point = (f: GoFunction): GoTlsProbePoint => ({ symbol: f.name, offset: f.fileOffset, entryVaddr: f.entryVaddr, source: f.source });
  const write = resolveGoFunction(elf, GOTLS_WRITE_SYMBOL);
  const read = resolveGoFunction(elf, GOTLS_READ_SYMBOL);
  crossCheck(elf, [write, read], warnings);
  const code = functionCode(elf, read);
  const what = `${read.name} in ${path}`;
  const rets = arch === 'amd64' ? findX86Rets(code, what).rets : findArm64Rets(code, what);
  if (rets.length === 0) {
    throw new CaptureError('ECAP_ELF', `decode machine code of ${what}: no RET instruction found`, {
      hint: 'reads cannot be captured without a RET to probe; please report this binary',
    });
  }
  const keylogFn = findGoFunction(elf, GOTLS_KEYLOG_SYMBOL);
  if (!keylogFn) warnings.push(`${GOTLS_KEYLOG_SYMBOL} not found in ${path}: TLS keys will not be captured`);

  return {
    path,
    goVersion: info.goVersion,
    version: { major: info.major, minor: info.minor, patch: info.patch },
    abi,
    arch,
    pie,
    stripped,
    buildInfo: info,
    write: point(write),
    readRets: { ...point(read), offsets: rets.map((r) => read.fileOffset + r) },
    keylog: keylogFn ? point(keylogFn) : undefined,
    abiTable: abiTable(abi, arch),
    structOffsets: GO_TLS_STRUCT_OFFSETS,
    warnings,
  };
}

/** When a function came from the symbol table, check that the pclntab agrees (warn, do not fail). */
function crossCheck(elf: ElfFile, fns: GoFunction[], warnings: string[]): void {
  let tab;
  try {
    tab = pclntabOf(elf);
  } catch (e) {
    warnings.push(`pclntab unreadable (${(e as Error).message}); using the symbol table only`);
    return;
  }
  for (const f of fns) {
    if (f.source !== 'symtab') continue;
    const p = tab.find(f.name);
    if (p && p.entry !== f.entryVaddr) {
      warnings.push(`${f.name}: symbol table entry 0x${f.entryVaddr.toString(16)} differs from pclntab entry 0x${p.entry.toString(16)}`);
    }
  }
}

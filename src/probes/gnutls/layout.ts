/**
 * What the gnutls module needs to know about one libgnutls file to get its TLS secrets:
 *
 * - the version, from the library's .rodata ("Enabled GnuTLS 3.7.9 logging..."), with fallbacks;
 * - primary key method: the entry of GnuTLS's internal `_gnutls_call_keylog_func(session, label, data, size)`,
 *   through which every secret passes (GnuTLS ≥ 3.6.13). It is not exported, so it is located from the exported
 *   accessor `gnutls_session_get_keylog_function` (`return session->internals.keylog_func`): that gives the
 *   member's offset K, and the hook is the one function that loads [session + K] and calls through it. Its entry
 *   comes from the unwind tables (.eh_frame_hdr), which stripped libraries keep. This needs no struct layout
 *   except the client random, and reports exactly what GnuTLS would write to SSLKEYLOGFILE;
 * - fallback key method: read the session at gnutls_handshake() return with per-version offsets
 *   (offsets/gnutls.json, eCapture's table); the version-independent members are decoded from exported
 *   accessors (gnutls_session_get_random, gnutls_session_get_master_secret, gnutls_protocol_get_version,
 *   gnutls_prf_hash_get), which win over the table when they disagree.
 *
 * Decoding is done for x86-64 (and arm64 for the accessor loads); anything unexpected yields "not found", never
 * a guess.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EM_AARCH64, EM_X86_64, PF_X, PT_LOAD, STT_FUNC, type ElfFile } from '../../elf/elf-file.js';
import { accessorLoadOffset } from '../../tls/layout-check.js';
import { GnutlsLayoutLayout } from '../../gen/events.js';
import { UnwindIndex } from './eh-frame.js';

/** Members of struct gnutls_layout (bpf/include/events.h), in order. */
export const GNUTLS_LAYOUT_FIELDS = [
  'client_random',
  'master_secret',
  'pversion',
  'version_id',
  'prf',
  'mac_id',
  'e_ckey',
  'hs_ckey',
  'hs_skey',
  'ap_ckey',
  'ap_skey',
  'ap_expkey',
] as const;
export type GnutlsLayoutField = (typeof GNUTLS_LAYOUT_FIELDS)[number];
export type GnutlsLayoutValues = Record<GnutlsLayoutField, number>;

const COMMON_FIELDS = ['client_random', 'master_secret', 'pversion', 'version_id', 'prf', 'mac_id'] as const;
const TLS13_FIELDS = ['e_ckey', 'hs_ckey', 'hs_skey', 'ap_ckey', 'ap_skey', 'ap_expkey'] as const;

// ---- version ----

export type Version = [number, number, number];

export function parseVersion(s: string): Version | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(s.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

export function compareVersions(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * The GnuTLS version of a library file: "Enabled GnuTLS <v> logging..." (what eCapture reads), else any
 * "GnuTLS <x.y.z>" string, else the newest GNUTLS_x_y_z symbol version node it defines (a lower bound,
 * marked with "≥").
 */
export function gnutlsVersion(elf: ElfFile): { version: string; exact: boolean } | undefined {
  const m = elf.searchRodata(/Enabled GnuTLS ([0-9]+\.[0-9]+(?:\.[0-9]+)?) logging/) ?? elf.searchRodata(/GnuTLS ([0-9]+\.[0-9]+\.[0-9]+)\b/);
  if (m) return { version: m[1]!, exact: true };
  let best: Version | undefined;
  for (const s of elf.symbols('.dynsym')) {
    // functions defined here (imports have no section; programs define copy-relocated variables like gnutls_free)
    if (s.shndx === 0 || s.type !== STT_FUNC) continue;
    const v = /^GNUTLS_(\d+)_(\d+)(?:_(\d+))?$/.exec(s.version ?? '');
    if (!v) continue;
    const ver: Version = [Number(v[1]), Number(v[2]), Number(v[3] ?? 0)];
    if (!best || compareVersions(ver, best) > 0) best = ver;
  }
  return best ? { version: best.join('.'), exact: false } : undefined;
}

// ---- the offsets table ----

interface TableFile {
  common: Record<string, string>;
  layouts: Record<string, { versions: [string, string][] } & Record<string, unknown>>;
}

let table: TableFile | undefined;

function tablePath(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(d, 'offsets', 'gnutls.json');
    if (existsSync(p)) return p;
    d = dirname(d);
  }
  throw new Error('offsets/gnutls.json not found next to the installation');
}

export function offsetsTable(): TableFile {
  table ??= JSON.parse(readFileSync(tablePath(), 'utf8')) as TableFile;
  return table;
}

export interface TableChoice {
  name: string;
  /** false when the version is outside every range and the newest layout of its minor series was taken */
  exact: boolean;
}

/** The table layout for a version: the range that holds it, else the newest one of the same x.y series below it. */
export function chooseLayout(version: string): TableChoice | undefined {
  const v = parseVersion(version);
  if (!v) return undefined;
  const t = offsetsTable();
  let fallback: { name: string; hi: Version } | undefined;
  for (const [name, l] of Object.entries(t.layouts)) {
    for (const [a, b] of l.versions) {
      const lo = parseVersion(a)!;
      const hi = parseVersion(b)!;
      if (compareVersions(v, lo) >= 0 && compareVersions(v, hi) <= 0) return { name, exact: true };
      if (hi[0] === v[0] && hi[1] === v[1] && compareVersions(hi, v) < 0 && (!fallback || compareVersions(hi, fallback.hi) > 0)) {
        fallback = { name, hi };
      }
    }
  }
  return fallback ? { name: fallback.name, exact: false } : undefined;
}

export function layoutFromTable(name: string): GnutlsLayoutValues | undefined {
  const t = offsetsTable();
  const l = t.layouts[name];
  if (!l) return undefined;
  const out = {} as GnutlsLayoutValues;
  for (const f of COMMON_FIELDS) out[f] = Number(t.common[f]);
  for (const f of TLS13_FIELDS) out[f] = Number(l[f] as string);
  return out;
}

// ---- decoding the library's own code ----

function funcBytes(elf: ElfFile, symbol: string, n = 48): Buffer | undefined {
  const off = elf.symbolFileOffset(symbol);
  return off === undefined ? undefined : elf.read(off, n);
}

/** x86-64: the displacement of `lea disp(%rdi),%r64` or `add $imm,%rdi` in the first bytes of a function. */
export function x86RdiAddend(c: Buffer, kind: 'lea' | 'lea-or-add'): number | undefined {
  for (let i = 0; i + 4 <= c.length; i++) {
    if (c[i] !== 0x48) continue;
    const op = c[i + 1]!;
    const modrm = c[i + 2]!;
    if (op === 0x8d && (modrm & 0xc7) === 0x47) return c.readInt8(i + 3); // lea disp8(%rdi),%r
    if (op === 0x8d && (modrm & 0xc7) === 0x87 && i + 7 <= c.length) return c.readInt32LE(i + 3); // lea disp32(%rdi),%r
    if (kind === 'lea-or-add' && op === 0x83 && modrm === 0xc7) return c.readInt8(i + 3); // add $imm8,%rdi
    if (kind === 'lea-or-add' && op === 0x81 && modrm === 0xc7 && i + 7 <= c.length) return c.readInt32LE(i + 3); // add $imm32,%rdi
  }
  return undefined;
}

/**
 * x86-64: `mov dispA(%rdi),%rax` followed (within the bytes given) by `mov dispB(%rax),%eax`: a member read
 * through a pointer member (`session->security_parameters.pversion->id`). Returns [dispA, dispB].
 */
export function x86PointerField(c: Buffer): [number, number] | undefined {
  for (let i = 0; i + 4 <= c.length; i++) {
    if (c[i] !== 0x48 || c[i + 1] !== 0x8b) continue;
    let a: number | undefined;
    let next = 0;
    if (c[i + 2] === 0x47) {
      a = c.readInt8(i + 3);
      next = i + 4;
    } else if (c[i + 2] === 0x87 && i + 7 <= c.length) {
      a = c.readInt32LE(i + 3);
      next = i + 7;
    }
    if (a === undefined) continue;
    for (let j = next; j + 3 <= c.length; j++) {
      if (c[j] === 0x8b && c[j + 1] === 0x40) return [a, c.readInt8(j + 2)]; // mov disp8(%rax),%eax
      if (c[j] === 0x8b && c[j + 1] === 0x80 && j + 6 <= c.length) return [a, c.readInt32LE(j + 2)];
    }
    return undefined;
  }
  return undefined;
}

/** The version-independent session members, as the library's accessors read them (x86-64 only). */
export function decodeCommonOffsets(elf: ElfFile): Partial<Record<(typeof COMMON_FIELDS)[number], number>> {
  const out: Partial<Record<(typeof COMMON_FIELDS)[number], number>> = {};
  if (elf.machine !== EM_X86_64) return out;
  const random = funcBytes(elf, 'gnutls_session_get_random', 24);
  const cr = random && x86RdiAddend(random, 'lea');
  if (cr !== undefined && cr > 0) out.client_random = cr;
  const master = funcBytes(elf, 'gnutls_session_get_master_secret', 16);
  const ms = master && x86RdiAddend(master, 'lea-or-add');
  if (ms !== undefined && ms >= 0) out.master_secret = ms;
  const pv = funcBytes(elf, 'gnutls_protocol_get_version', 24);
  const p = pv && x86PointerField(pv);
  if (p && p[0] >= 0 && p[1] >= 0) {
    out.pversion = p[0];
    out.version_id = p[1];
  }
  const prf = funcBytes(elf, 'gnutls_prf_hash_get', 24);
  const q = prf && x86PointerField(prf);
  if (q && q[0] >= 0 && q[1] >= 0) {
    out.prf = q[0];
    out.mac_id = q[1];
  }
  return out;
}

export interface KeylogHookResult {
  /** file offset of _gnutls_call_keylog_func */
  offset?: number;
  /** offset of session->internals.keylog_func */
  member?: number;
  /** why it was not found */
  why?: string;
}

/** Executable bytes of the file with their base vaddr (the PT_LOAD segments with PF_X). */
function codeSegments(elf: ElfFile): { vaddr: number; data: Buffer }[] {
  return elf.segments
    .filter((s) => s.type === PT_LOAD && (s.flags & PF_X) !== 0 && s.filesz > 0)
    .map((s) => ({ vaddr: s.vaddr, data: elf.read(s.offset, s.filesz) }));
}

/** Addresses of `mov K(%rdi),%reg` followed within 64 bytes by `call *%reg` (x86-64). */
function x86KeylogCallSites(code: Buffer, base: number, k: number): number[] {
  const out: number[] = [];
  const disp = Buffer.alloc(4);
  disp.writeInt32LE(k);
  for (let i = code.indexOf(disp); i >= 0; i = code.indexOf(disp, i + 1)) {
    // the displacement follows REX (0x48 / 0x4c), 0x8b, modrm with mod=10, rm=111 (rdi)
    if (i < 3) continue;
    const rex = code[i - 3]!;
    const modrm = code[i - 1]!;
    if ((rex !== 0x48 && rex !== 0x4c) || code[i - 2] !== 0x8b || (modrm & 0xc7) !== 0x87) continue;
    const reg = ((modrm >> 3) & 7) + (rex === 0x4c ? 8 : 0);
    const want = reg >= 8 ? Buffer.from([0x41, 0xff, 0xd0 | (reg & 7)]) : Buffer.from([0xff, 0xd0 | reg]);
    const window = code.subarray(i + 4, i + 4 + 64);
    if (window.indexOf(want) >= 0) out.push(base + i - 3);
  }
  return out;
}

/** Addresses of `ldr xN, [x0, #K]` followed within 16 instructions by `blr xN` (arm64). */
function arm64KeylogCallSites(code: Buffer, base: number, k: number): number[] {
  const out: number[] = [];
  if (k % 8 !== 0 || k / 8 > 0xfff) return out;
  for (let i = 0; i + 4 <= code.length; i += 4) {
    const insn = code.readUInt32LE(i);
    if ((insn & 0xffc003e0) !== 0xf9400000 || ((insn >>> 10) & 0xfff) * 8 !== k) continue;
    const rt = insn & 0x1f;
    for (let j = i + 4; j < i + 68 && j + 4 <= code.length; j += 4) {
      if (code.readUInt32LE(j) === (0xd63f0000 | (rt << 5))) {
        out.push(base + i);
        break;
      }
    }
  }
  return out;
}

/** Locate `_gnutls_call_keylog_func` (see the file comment). */
export function findKeylogHook(elf: ElfFile): KeylogHookResult {
  if (elf.machine !== EM_X86_64 && elf.machine !== EM_AARCH64) return { why: 'unsupported machine' };
  const member = accessorLoadOffset(elf, 'gnutls_session_get_keylog_function');
  if (member === undefined) {
    return { why: elf.symbolFileOffset('gnutls_session_get_keylog_function') === undefined
      ? 'no gnutls_session_get_keylog_function (GnuTLS < 3.6.13)'
      : 'gnutls_session_get_keylog_function is not a plain accessor' };
  }
  const unwind = UnwindIndex.of(elf);
  if (!unwind) return { member, why: 'no .eh_frame_hdr to find function entries' };
  const getter = elf.findSymbol('gnutls_session_get_keylog_function', { dynamicOnly: true })?.value;
  const starts = new Set<number>();
  for (const seg of codeSegments(elf)) {
    const sites = elf.machine === EM_X86_64 ? x86KeylogCallSites(seg.data, seg.vaddr, member) : arm64KeylogCallSites(seg.data, seg.vaddr, member);
    for (const site of sites) {
      const fn = unwind.functionAt(site);
      // the load of the hook pointer is at the very start of the (tiny) function
      if (fn && fn.start !== getter && site - fn.start <= 48) starts.add(fn.start);
    }
  }
  if (starts.size !== 1) {
    return { member, why: starts.size === 0 ? 'no function calls through the key log member' : `${starts.size} candidate functions` };
  }
  const offset = elf.vaddrToOffset([...starts][0]!);
  return offset === undefined ? { member, why: 'hook address outside the file' } : { offset, member };
}

/** Encode a layout as the `struct gnutls_layout` map value, at the offsets the generated layout states. */
export function encodeLayout(l: Partial<GnutlsLayoutValues>): Buffer {
  const b = Buffer.alloc(GnutlsLayoutLayout.SIZE);
  for (const f of GnutlsLayoutLayout.fields) {
    const v = l[f.name as GnutlsLayoutField];
    if (f.kind !== 'u32') throw new Error(`struct gnutls_layout member ${f.name} is not a u32`);
    b.writeUInt32LE((v ?? 0) >>> 0, f.offset);
  }
  return b;
}

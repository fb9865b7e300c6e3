/**
 * Which files to hook for GnuTLS: files whose .dynsym defines gnutls_record_send and gnutls_record_recv
 * (libgnutls.so.30, or a program with GnuTLS linked in that exports them), and, per file, how to get its
 * secrets (see layout.ts). Key facts are worked out lazily: text mode never pays for them.
 */
import { ElfFile } from '../../elf/elf-file.js';
import { LibFinder, type LibTarget } from '../common/lib-finder.js';
import {
  chooseLayout,
  decodeCommonOffsets,
  findKeylogHook,
  gnutlsVersion,
  layoutFromTable,
  offsetsTable,
  type GnutlsLayoutValues,
  type TableChoice,
} from './layout.js';

/** Functions we hook. send2/recv_seq are optional (both exist since 3.6.3 / 3.0). */
export const GNUTLS_FUNCS = [
  'gnutls_record_send',
  'gnutls_record_recv',
  'gnutls_record_send2',
  'gnutls_record_recv_seq',
  'gnutls_deinit',
  'gnutls_handshake',
] as const;
export type GnutlsFunc = (typeof GNUTLS_FUNCS)[number];

export interface GnutlsInfo {
  /** "gnutls 3.7.9", "gnutls ≥3.7.5", or "gnutls" */
  lib: string;
  version?: string;
  /** false when the version is a lower bound from symbol versions */
  versionExact: boolean;
}

export type GnutlsTarget = LibTarget<GnutlsFunc, GnutlsInfo>;

export const gnutlsFinder = new LibFinder<GnutlsFunc, GnutlsInfo>({
  what: 'GnuTLS',
  funcs: GNUTLS_FUNCS,
  required: ['gnutls_record_send', 'gnutls_record_recv'],
  systemName: /^libgnutls\.so(\.\d+)*$/,
  neededName: /^libgnutls\.so/,
  describe(elf) {
    const v = gnutlsVersion(elf);
    if (!v) return { lib: 'gnutls', versionExact: false };
    return { lib: v.exact ? `gnutls ${v.version}` : `gnutls ≥${v.version}`, version: v.version, versionExact: v.exact };
  },
});

export type KeySource = 'auto' | 'hook' | 'handshake';

export interface KeyPlan {
  method: 'hook' | 'handshake';
  /** file offset of _gnutls_call_keylog_func (method hook) */
  hookOffset?: number;
  /**
   * method hook: also read TLS ≤ 1.2 master secrets at gnutls_handshake() return. GnuTLS does not pass a resumed
   * session's master secret to its key log hook (nor to SSLKEYLOGFILE); the members this needs are decoded from the
   * library's accessors, TLS 1.3 members are left out (0), and lines the hook also wrote are dropped as duplicates.
   */
  resumedToo?: boolean;
  /** struct gnutls_layout value for this file */
  layout: Partial<GnutlsLayoutValues>;
  /** table layout used by the handshake method, and whether the version was inside its range */
  table?: TableChoice;
  /** things worth a log line (fallbacks, disagreements) */
  notes: string[];
}

const planCache = new Map<string, { hook: ReturnType<typeof findKeylogHook>; decoded: ReturnType<typeof decodeCommonOffsets> }>();

/**
 * How to get this file's secrets. `forcedVersion` (--ssl_version) replaces the detected version for the table.
 * Returns a reason string when no method applies.
 */
export function keyPlan(t: GnutlsTarget, source: KeySource, forcedVersion?: string): KeyPlan | string {
  let facts = planCache.get(t.key);
  if (!facts) {
    const elf = ElfFile.open(t.path);
    try {
      facts = { hook: findKeylogHook(elf), decoded: decodeCommonOffsets(elf) };
    } finally {
      elf.close();
    }
    planCache.set(t.key, facts);
  }
  const notes: string[] = [];
  const common = offsetsTable().common;
  const layout: Partial<GnutlsLayoutValues> = {};
  for (const [k, v] of Object.entries(common)) layout[k as keyof GnutlsLayoutValues] = Number(v);
  for (const [k, v] of Object.entries(facts.decoded)) {
    const key = k as keyof GnutlsLayoutValues;
    if (layout[key] !== v) notes.push(`${k} decoded from the library's accessor (0x${v.toString(16)}) replaces the table's 0x${(layout[key] ?? 0).toString(16)}`);
    layout[key] = v;
  }
  if (source !== 'handshake' && facts.hook.offset !== undefined) {
    if (facts.decoded.client_random === undefined) notes.push('client random offset from the table (accessor not decodable)');
    const d = facts.decoded;
    const resumedToo =
      t.offsets.gnutls_handshake !== undefined && d.client_random !== undefined && d.master_secret !== undefined && d.pversion !== undefined && d.version_id !== undefined;
    return { method: 'hook', hookOffset: facts.hook.offset, layout, notes, ...(resumedToo ? { resumedToo } : {}) };
  }
  if (source === 'hook') return `key log hook not found: ${facts.hook.why ?? 'unknown reason'}`;
  if (facts.hook.why && source === 'auto') notes.push(`key log hook not found (${facts.hook.why}); using gnutls_handshake and struct offsets`);
  if (t.offsets.gnutls_handshake === undefined) return 'gnutls_handshake is not exported';
  const version = forcedVersion ?? t.info.version;
  if (!version) return 'unknown GnuTLS version (no "Enabled GnuTLS x.y.z logging" string); force one with --ssl_version';
  const table = /^\d+_\d+_\d+$/.test(version) ? (offsetsTable().layouts[version] ? { name: version, exact: true } : undefined) : chooseLayout(version);
  if (!table) return `no struct offsets for GnuTLS ${version} (known: ${Object.keys(offsetsTable().layouts).join(', ')}); force a layout with --ssl_version`;
  if (!table.exact) notes.push(`GnuTLS ${version} is outside the known version ranges: using layout ${table.name}; TLS 1.3 secrets may be wrong`);
  else if (!forcedVersion && !t.info.versionExact) {
    notes.push(`GnuTLS version unknown, at least ${version} (symbol versions): using layout ${table.name}; TLS 1.3 secrets may be wrong (set --ssl_version)`);
  }
  const tl = layoutFromTable(table.name)!;
  for (const f of ['e_ckey', 'hs_ckey', 'hs_skey', 'ap_ckey', 'ap_skey', 'ap_expkey'] as const) layout[f] = tl[f];
  return { method: 'handshake', layout, table, notes };
}

/** Parse --ssl_version for gnutls: "3.7.9", "gnutls 3.7.9", or a layout name such as 3_7_7. */
export function parseForcedVersion(v: string): string | undefined {
  const s = v.trim().toLowerCase().replace(/^gnutls[\s_-]*/, '');
  if (!s) return undefined;
  if (/^\d+\.\d+(\.\d+)?$/.test(s) || /^\d+_\d+_\d+$/.test(s)) return s;
  return undefined;
}

export function clearTargetCaches(): void {
  gnutlsFinder.clear();
  planCache.clear();
}

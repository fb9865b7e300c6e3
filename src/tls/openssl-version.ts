/**
 * Which TLS library is this, which version, and which struct layout (offsets/openssl.json) do its secrets use?
 *
 * Detection: BoringSSL-only exported symbols; else the `OpenSSL x.y.z` string in .rodata (eCapture §3.3), and if
 * a libssl holds none (OpenSSL 3 keeps it in libcrypto), the DT_NEEDED libcrypto.so.* next to it. Selection
 * (eCapture's rules, numerically): --ssl_version if given; the exact version; else the nearest lower known
 * version of the same series (1.x: x.y.z+letters; 3.x+: major.minor); else, for a version newer than every
 * known one of its major, the nearest lower known version overall (3.7.1 → 3.6.2 → the 3.5.0 layout); else the
 * family default (3.x or libssl.so.3 → 3.0.0 layout, otherwise 1.1.1j). Whenever the version is not placed
 * exactly, `warning` says which version and which layout. BoringSSL builds carry no version: their layout is
 * chosen by matching accessor code (layout-check.ts) among the BoringSSL layouts, else "boringssl na".
 */
import { basename, dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { ElfFile } from '../elf/elf-file.js';
import type { LibOffsets } from './lib-offsets.js';
import { checkLayout, describeMismatches, type LayoutCheck } from './layout-check.js';
import {
  compareVersions, formatVersion, knownVersions, layoutDisplayName, layoutOffsets, loadOffsetsTable,
  parseOpenSslVersion, seriesOf, type OffsetsTable, type OpenSslVersion,
} from './offsets-table.js';

export type TlsLibKind = 'openssl' | 'boringssl' | 'unknown';

export interface DetectedLibrary {
  path: string;
  kind: TlsLibKind;
  /** normalized, "openssl 3.0.22" */
  version?: string;
  /** the string as found, "OpenSSL 3.0.22 25 Aug 2026" */
  versionText?: string;
  /** file the version string came from (a libcrypto when followed) */
  versionFrom?: string;
  android: boolean;
  evidence: string[];
}

export interface LayoutSelection {
  kind: 'openssl' | 'boringssl';
  /** layout key in offsets/openssl.json, e.g. "openssl_3_0_0" */
  layout: string;
  offsets: LibOffsets;
  /** the version was found in the table (or forced to a table key) */
  exact: boolean;
  /** how the layout was chosen */
  reason: string;
  /** set when the version could not be placed exactly (or the layout disagrees with the library's code) */
  warning?: string;
  check?: LayoutCheck;
}

const VERSION_RE = /^OpenSSL (\d+\.\d+\.\d+[a-z]*)( \(compatible; BoringSSL\))?[\s\0]/;
const BORINGSSL_SYMBOLS = ['SSL_CTX_set_grease_enabled', 'SSL_set_custom_verify', 'BORINGSSL_self_test'];

/**
 * Find `needle` in .rodata and match `re` (anchored) on the text there; returns the match and the whole
 * NUL-terminated string. Native indexOf over 4 MiB windows: a 100 MB static binary takes well under a second.
 */
export function findRodataString(elf: ElfFile, needle: string, re: RegExp): { m: RegExpExecArray; text: string } | undefined {
  const sec = elf.section('.rodata');
  if (!sec || sec.type === 8 /* SHT_NOBITS */) return undefined;
  const WINDOW = 4 << 20;
  const OVERLAP = 128;
  for (let off = 0; off < sec.size; off += WINDOW - OVERLAP) {
    const chunk = elf.read(sec.offset + off, Math.min(WINDOW, sec.size - off));
    for (let i = chunk.indexOf(needle, 0, 'latin1'); i >= 0; i = chunk.indexOf(needle, i + 1, 'latin1')) {
      const end = chunk.indexOf(0, i);
      const text = chunk.toString('latin1', i, end < 0 ? Math.min(chunk.length, i + OVERLAP) : Math.min(end + 1, i + OVERLAP));
      const m = re.exec(text);
      if (m) return { m, text: text.replace(/\0$/, '').trim() };
    }
    if (off + WINDOW >= sec.size) break;
  }
  return undefined;
}

function scan(elf: ElfFile, out: DetectedLibrary): boolean {
  // the version string first: one native search, while a big binary's symbol tables take a while to index
  const found = findRodataString(elf, 'OpenSSL ', VERSION_RE);
  if (found) {
    const { m, text } = found;
    out.versionText = text;
    out.versionFrom = elf.path;
    out.evidence.push(`${basename(elf.path)} .rodata: "${text}"`);
    if (m[2]) out.kind = 'boringssl';
    else {
      out.kind = 'openssl';
      out.version = `openssl ${m[1]!.toLowerCase()}`;
    }
    return true;
  }
  for (const s of BORINGSSL_SYMBOLS) {
    if (elf.findSymbol(s)) {
      out.kind = 'boringssl';
      out.evidence.push(`${basename(elf.path)} defines ${s}`);
      return true;
    }
  }
  return false;
}

/** Identify the TLS library in an ELF file (shared library or a binary with OpenSSL/BoringSSL linked in). */
export function detectTlsLibrary(path: string, opened?: ElfFile): DetectedLibrary {
  const out: DetectedLibrary = { path, kind: 'unknown', android: /^\/(apex|system)\//.test(path), evidence: [] };
  const elf = opened ?? ElfFile.open(path);
  try {
    if (scan(elf, out)) return out;
    const crypto = elf.dynamic().needed.find((n) => /^libcrypto\.so/.test(n));
    const sibling = crypto ? join(dirname(path), crypto) : undefined;
    if (sibling && existsSync(sibling)) {
      out.evidence.push(`no version in ${basename(path)}; following DT_NEEDED ${crypto}`);
      const c = ElfFile.open(sibling);
      try {
        if (scan(c, out)) return out;
        if (findRodataString(c, 'BoringSSL', /^BoringSSL/)) {
          out.kind = 'boringssl';
          out.evidence.push(`${crypto} .rodata mentions BoringSSL`);
          return out;
        }
      } finally {
        c.close();
      }
    }
  } finally {
    if (!opened) elf.close();
  }
  if (/boringssl/i.test(path) || out.android) {
    out.kind = 'boringssl';
    out.evidence.push('path looks like BoringSSL');
  }
  return out;
}

export interface SelectOptions {
  /** --ssl_version: "openssl 3.0.12", "3.0.12", "boringssl na", "boringssl_a_13", "android_default", a layout key */
  forceVersion?: string;
  /** Android release (ro.build.version.release) for BoringSSL on Android */
  androidRelease?: number;
  table?: OffsetsTable;
}

function pick(t: OffsetsTable, kind: 'openssl' | 'boringssl', layout: string, exact: boolean, reason: string, warning?: string): LayoutSelection {
  const sel: LayoutSelection = { kind, layout, offsets: layoutOffsets(layout, t), exact, reason };
  if (warning) sel.warning = warning;
  return sel;
}

/** Layout for an OpenSSL version string, with the fallback rules. `libPath` matters only for the family default. */
export function selectOpenSslLayout(version: string | undefined, libPath = '', t: OffsetsTable = loadOffsetsTable()): LayoutSelection {
  const dflt = /libssl\.so\.3/.test(libPath) ? 'openssl_3_0_0' : 'openssl_1_1_1j';
  const v = version ? parseOpenSslVersion(version) : undefined;
  if (!v) {
    const what = version ? `"${version}" is not an OpenSSL version` : `no OpenSSL version string found${libPath ? ` in ${libPath}` : ''}`;
    return pick(t, 'openssl', dflt, false, 'family default', `${what}; using the default ${layoutDisplayName(dflt)} layout (set --ssl_version to choose)`);
  }
  const name = `OpenSSL ${formatVersion(v)}`;
  const known = knownVersions(t);
  const exact = known.find((k) => compareVersions(k.v, v) === 0);
  if (exact) return pick(t, 'openssl', exact.layout, true, `exact version ${exact.key}`);
  const use = (k: { key: string; layout: string }, why: string, w: string): LayoutSelection =>
    pick(t, 'openssl', k.layout, false, why, `${w}; using the ${layoutDisplayName(k.layout)} layout`);
  const series = known.filter((k) => seriesOf(k.v) === seriesOf(v));
  const lower = series.filter((k) => compareVersions(k.v, v) < 0).pop();
  if (lower) return use(lower, `nearest lower known version ${lower.key}`, `${name} is not in the offsets table (nearest lower known version ${lower.key})`);
  if (series.length > 0) return use(series[0]!, `nearest known version ${series[0]!.key}`, `${name} is older than the known ${seriesOf(v)} versions`);
  const sameMajor = known.filter((k) => k.v.major === v.major);
  const newest = known[known.length - 1]!;
  if ((sameMajor.length > 0 && compareVersions(v, sameMajor[sameMajor.length - 1]!.v) > 0) || compareVersions(v, newest.v) > 0) {
    const k = known.filter((x) => compareVersions(x.v, v) < 0).pop()!;
    return use(k, `newer than known; nearest lower known version ${k.key}`, `${name} is newer than the known layouts`);
  }
  const d = v.major === 3 ? 'openssl_3_0_0' : dflt;
  return pick(t, 'openssl', d, false, 'family default', `${name} is not a known version; using the default ${layoutDisplayName(d)} layout`);
}

function boringAndroid(t: OffsetsTable, release: number, forced: boolean): LayoutSelection {
  const key = `boringssl_a_${release}`;
  if (t.layouts[key]) return pick(t, 'boringssl', key, true, forced ? `forced ${key}` : `Android ${release}`);
  const have = Object.keys(t.layouts).map((k) => /^boringssl_a_(\d+)$/.exec(k)?.[1]).filter(Boolean).map(Number).sort((a, b) => a - b);
  const near = release < have[0]! ? have[0]! : have.filter((n) => n <= release).pop()!;
  return pick(t, 'boringssl', `boringssl_a_${near}`, false, `nearest Android layout`, `BoringSSL for Android ${release} has no known layout; using the boringssl_a_${near} layout`);
}

/** Parse --ssl_version. Throws ConfigError for a value it does not understand. */
export function selectForcedLayout(force: string, libPath = '', t: OffsetsTable = loadOffsetsTable()): LayoutSelection {
  const s = force.trim().toLowerCase().replace(/\s+/g, ' ');
  const alias = t.aliases[s] ?? (s === 'boringssl_na' ? 'boringssl_na' : undefined);
  if (alias) return pick(t, t.layouts[alias]!.family, alias, true, `forced ${s}`);
  const a = /^boringssl_a_(\d+)$/.exec(s);
  if (a) return boringAndroid(t, +a[1]!, true);
  if (t.layouts[s]) return pick(t, t.layouts[s]!.family, s, true, `forced layout ${s}`);
  const o = /^(?:openssl )?(\d+\.\d+\.\d+[a-z]*)$/.exec(s);
  if (o) {
    const sel = selectOpenSslLayout(o[1], libPath, t);
    sel.reason = `forced openssl ${o[1]}: ${sel.reason}`;
    return sel;
  }
  throw new ConfigError(`--ssl_version "${force}" is not understood`, {
    field: 'ssl_version',
    hint: 'use "openssl X.Y.Z" (1.0.2a … 4.0.x), "boringssl na", or "boringssl_a_13" … "boringssl_a_16"',
  });
}

/**
 * The layout for a detected library (pure: no file access except through `elf` for BoringSSL fingerprinting).
 */
export function selectLayout(det: DetectedLibrary, opts: SelectOptions = {}, elf?: ElfFile): LayoutSelection {
  const t = opts.table ?? loadOffsetsTable();
  if (opts.forceVersion) return selectForcedLayout(opts.forceVersion, det.path, t);
  if (det.kind !== 'boringssl') return selectOpenSslLayout(det.version, det.path, t);
  if (opts.androidRelease) return boringAndroid(t, opts.androidRelease, false);
  const names = Object.keys(t.layouts).filter((k) => t.layouts[k]!.family === 'boringssl');
  if (elf) {
    const fits = names.filter((n) => {
      const c = checkLayout(elf, layoutOffsets(n, t));
      return c.checked.length >= 2 && c.mismatches.length === 0;
    });
    const best = fits.includes('boringssl_na') ? 'boringssl_na' : fits[0];
    if (best) return pick(t, 'boringssl', best, false, `BoringSSL layout chosen by matching accessor code (fits: ${fits.join(', ')})`);
  }
  const d = det.android ? 'boringssl_a_13' : 'boringssl_na';
  return pick(t, 'boringssl', d, false, 'BoringSSL default', `the BoringSSL version of ${det.path} cannot be determined; using the ${d} layout (set --ssl_version to choose)`);
}

/**
 * Detect, select, and cross-check against the library's accessors. Pass `elf` (already open on `path`) to share
 * its symbol-table caches with the caller's attach code; it is left open.
 */
export function resolveTlsLibrary(
  path: string,
  opts: SelectOptions = {},
  opened?: ElfFile,
): { detected: DetectedLibrary; selection: LayoutSelection } {
  const elf = opened ?? ElfFile.open(path);
  try {
    const detected = detectTlsLibrary(path, elf);
    const selection = selectLayout(detected, opts, elf);
    const check = checkLayout(elf, selection.offsets);
    selection.check = check;
    if (check.mismatches.length > 0) {
      const w = `the ${layoutDisplayName(selection.layout)} layout does not match ${basename(path)} (${describeMismatches(check)}); captured keys may be wrong — set --ssl_version`;
      selection.warning = selection.warning ? `${selection.warning}. ${w}` : w;
    } else if (selection.warning && check.checked.length > 0) {
      selection.warning += ` (its accessors agree with it: ${check.checked.map((c) => c.symbol).join(', ')})`;
    }
    return { detected, selection };
  } finally {
    if (!opened) elf.close();
  }
}

export type { OpenSslVersion };

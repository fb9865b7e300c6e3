/**
 * Go version and build settings of a Go binary, from its `.go.buildinfo` data (what `go version -m` shows).
 *
 * Layout (facts from Go's debug/buildinfo documentation and runtime):
 *  - 32-byte header: "\xff Go buildinf:" (14 bytes), pointer size (1 byte), flags (1 byte: bit 0 big-endian,
 *    bit 1 "inline strings", Go ≥ 1.18).
 *  - Go ≥ 1.18: at offset 32, two uvarint-length-prefixed strings: the Go version and the module info.
 *  - Go 1.13–1.17: at offset 16, two pointers to Go string headers {data pointer, length}.
 *  - The module info string is framed by two 16-byte sentinels, and holds tab-separated lines:
 *    `path P`, `mod P V SUM`, `dep P V SUM`, `=> P V SUM` (replacement of the line before), `build K=V`
 *    (K or V Go-quoted when they contain spaces, tabs, quotes or '=').
 * Binaries without it (Go < 1.13) fall back to the runtime.buildVersion string.
 */
import { CaptureError } from '../../errors.js';
import type { ElfFile } from '../elf-file.js';
import { GoImage } from './image.js';
import { goUnquote } from './quote.js';

export interface GoVersion {
  major: number;
  minor: number;
  patch: number;
}

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
  replace?: GoModule;
}

export interface GoBuildInfo extends GoVersion {
  /** e.g. "go1.19.8" (as stored; may carry suffixes such as " X:boringcrypto") */
  goVersion: string;
  /** build settings: -buildmode, -compiler, -ldflags, -tags, CGO_ENABLED, GOARCH, GOOS, GOAMD64, vcs.* … */
  settings: Map<string, string>;
  /** main package path (`path` line) */
  modulePath?: string;
  main?: GoModule;
  deps?: GoModule[];
  /** where the version came from */
  source: 'buildinfo' | 'buildVersion';
}

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

/** Parse "go1.19.8", "go1.21rc2", "go1.20", "devel go1.22-abcdef …", "go1.22.0 X:boringcrypto". */
export function parseGoVersion(s: string): GoVersion | undefined {
  const m = /go(\d+)\.(\d+)(?:\.(\d+))?/.exec(s);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: m[3] ? Number(m[3]) : 0 };
}

/** -1, 0, 1 like a comparator; patch included. */
export function compareGoVersion(a: GoVersion, b: GoVersion): number {
  return Math.sign(a.major - b.major || a.minor - b.minor || a.patch - b.patch);
}

/** Read the Go version and build settings; throws CaptureError(ECAP_ELF) "not a Go binary: …". */
export function readGoBuildInfo(elf: ElfFile): GoBuildInfo {
  const img = new GoImage(elf);
  const raw = readRaw(elf, img);
  let version = raw?.version;
  let source: GoBuildInfo['source'] = 'buildinfo';
  if (!version) {
    version = buildVersionString(elf, img);
    source = 'buildVersion';
  }
  const parsed = version ? parseGoVersion(version) : undefined;
  if (!version || !parsed) {
    throw new CaptureError(
      'ECAP_ELF',
      `not a Go binary: ${elf.path} has no .go.buildinfo section and no Go version string`,
      { hint: 'gotls mode needs a program built by the Go toolchain (pass it with --elfpath)' },
    );
  }
  const info: GoBuildInfo = { goVersion: version, ...parsed, settings: new Map(), source };
  if (raw?.modinfo) Object.assign(info, parseModInfo(raw.modinfo));
  return info;
}

function readRaw(elf: ElfFile, img: GoImage): { version: string; modinfo: string } | undefined {
  let off: number | undefined;
  const sec = elf.section('.go.buildinfo');
  if (sec) off = sec.offset;
  else off = img.search(MAGIC, 16, [], 1)[0]; // section headers stripped: find the header in the segments
  if (off === undefined) return undefined;
  const head = elf.read(off, 32);
  if (head.length < 32 || !head.subarray(0, 14).equals(MAGIC)) return undefined;
  const ptrSize = head[14]!;
  const flags = head[15]!;
  if (flags & 1) return undefined; // big-endian: not an architecture we support
  if (flags & 2) {
    const body = elf.read(off + 32, 64 * 1024);
    const r = { pos: 0 };
    const version = readVarString(body, r);
    const modinfo = readVarString(body, r);
    return version === undefined ? undefined : { version, modinfo: modinfo ?? '' };
  }
  if (ptrSize !== 4 && ptrSize !== 8) return undefined;
  const vaddr = elf.offsetToVaddr(off);
  if (vaddr === undefined) return undefined;
  const version = readGoString(img, img.readPointer(vaddr + 16, ptrSize), ptrSize);
  const modinfo = readGoString(img, img.readPointer(vaddr + 16 + ptrSize, ptrSize), ptrSize);
  return version ? { version, modinfo: modinfo ?? '' } : undefined;
}

function readVarString(b: Buffer, r: { pos: number }): string | undefined {
  let len = 0;
  let shift = 0;
  for (;;) {
    if (r.pos >= b.length || shift > 28) return undefined;
    const x = b[r.pos++]!;
    len += (x & 0x7f) * 2 ** shift;
    if (x < 0x80) break;
    shift += 7;
  }
  if (r.pos + len > b.length) return undefined;
  const s = b.toString('utf8', r.pos, r.pos + len);
  r.pos += len;
  return s;
}

/** A Go string from its header {data, len} at `hdr`. */
function readGoString(img: GoImage, hdr: number | undefined, ptrSize: number): string | undefined {
  if (!hdr) return undefined;
  const data = img.readPointer(hdr, ptrSize);
  const len = img.readPointer(hdr + ptrSize, ptrSize);
  if (!data || len === undefined || len > 1 << 20) return undefined;
  const b = img.readVaddr(data, len);
  return b.length === len ? b.toString('utf8') : undefined;
}

/** runtime.buildVersion through the symbol table, else a "go1.N" string in read-only data of a Go binary. */
function buildVersionString(elf: ElfFile, img: GoImage): string | undefined {
  const sym = elf.findSymbol('runtime.buildVersion');
  if (sym && sym.value) {
    const s = readGoString(img, sym.value, 8);
    if (s && parseGoVersion(s)) return s;
  }
  const looksGo = elf.section('.gopclntab') || elf.section('.note.go.buildid') || elf.section('.data.rel.ro.gopclntab');
  if (!looksGo) return undefined;
  const m = elf.searchRodata(/go1\.\d{1,2}(?:\.\d{1,2}|(?:beta|rc)\d)?(?![\d.])/, ['.rodata', '.noptrdata']);
  return m?.[0];
}

/** Parse the module info text (sentinels optional). */
export function parseModInfo(text: string): Pick<GoBuildInfo, 'settings' | 'modulePath' | 'main' | 'deps'> {
  if (text.length >= 33 && text[text.length - 17] === '\n') text = text.slice(16, -16);
  const settings = new Map<string, string>();
  const out: Pick<GoBuildInfo, 'settings' | 'modulePath' | 'main' | 'deps'> = { settings };
  const deps: GoModule[] = [];
  let last: GoModule | undefined;
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const kind = line.slice(0, tab);
    const rest = line.slice(tab + 1);
    if (kind === 'path') out.modulePath = rest;
    else if (kind === 'mod' || kind === 'dep' || kind === '=>') {
      const [path = '', version = '', sum] = rest.split('\t');
      const mod: GoModule = { path, version };
      if (sum) mod.sum = sum;
      if (kind === 'mod') out.main = mod;
      else if (kind === 'dep') deps.push(mod);
      else if (last) last.replace = mod;
      last = mod;
    } else if (kind === 'build') {
      const kv = splitSetting(rest);
      if (kv) settings.set(kv[0], kv[1]);
    }
  }
  if (deps.length) out.deps = deps;
  return out;
}

function splitSetting(s: string): [string, string] | undefined {
  let key: string;
  let rest: string;
  if (s.startsWith('"')) {
    const q = goUnquote(s);
    if (!q) return undefined;
    key = q.value;
    rest = s.slice(q.end);
    if (!rest.startsWith('=')) return undefined;
    rest = rest.slice(1);
  } else {
    const eq = s.indexOf('=');
    if (eq < 0) return undefined;
    key = s.slice(0, eq);
    rest = s.slice(eq + 1);
  }
  if (rest.startsWith('"')) {
    const q = goUnquote(rest);
    if (q) return [key, q.value];
  }
  return [key, rest];
}

/**
 * Finding shared libraries on the system the way the dynamic loader would: the directories of
 * /etc/ld.so.conf (with its includes), the default and multiarch directories, and one level of their
 * subdirectories (Debian's BoringSSL lives in .../android/).
 */
import { readFileSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { arch } from 'node:os';

function multiarch(): string {
  return arch() === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
}

function readConf(path: string, seen: Set<string>, out: string[]): void {
  if (seen.has(path)) return;
  seen.add(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return;
  }
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    if (line.startsWith('include')) {
      const pattern = line.slice(7).trim();
      const full = isAbsolute(pattern) ? pattern : join(dirname(path), pattern);
      for (const f of expandGlob(full)) readConf(f, seen, out);
    } else if (isAbsolute(line)) {
      out.push(line);
    }
  }
}

/** Expand a glob with `*` in the last path component only (as ld.so.conf uses). */
function expandGlob(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = pattern.slice(dir.length + 1);
  if (!base.includes('*')) return [pattern];
  const re = new RegExp(`^${base.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  try {
    return readdirSync(dir)
      .filter((n) => re.test(n))
      .sort()
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

let dirsCache: string[] | undefined;

/** Library directories in search order, deduplicated, existing only. */
export function libraryDirs(): string[] {
  if (dirsCache) return dirsCache;
  const out: string[] = [];
  readConf('/etc/ld.so.conf', new Set(), out);
  const ma = multiarch();
  out.push(`/lib/${ma}`, `/usr/lib/${ma}`, '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib');
  const seen = new Set<string>();
  dirsCache = [];
  for (const d of out) {
    try {
      const st = statSync(d);
      const key = `${st.dev}:${st.ino}`;
      if (!st.isDirectory() || seen.has(key)) continue;
      seen.add(key);
      dirsCache.push(d);
    } catch {
      /* absent */
    }
  }
  return dirsCache;
}

export interface FoundFile {
  path: string;
  dev: number;
  ino: number;
}

/**
 * Regular files (after following symlinks) whose name matches `re`, in the library directories and one
 * level below them; one entry per distinct file (dev:inode), the first path found wins.
 */
export function findLibraries(re: RegExp, dirs: string[] = libraryDirs()): FoundFile[] {
  const out: FoundFile[] = [];
  const seen = new Set<string>();
  const visit = (dir: string, depth: number): void => {
    let ents: Dirent[];
    try {
      ents = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    // The entry types come with the listing, so only matches and symlinked directories cost a stat, and
    // only those few are sorted (for a stable "first path wins"): /usr/lib/<multiarch> holds over a
    // thousand entries, and stat-ing or sorting them all was most of discovery's share of startup.
    const matches: string[] = [];
    const subdirs: string[] = [];
    for (const e of ents) {
      const n = e.name;
      if (re.test(n)) matches.push(n);
      else if (depth > 0 && !n.includes('.') && (e.isDirectory() || e.isSymbolicLink())) subdirs.push(n);
    }
    for (const n of matches.sort()) {
      const p = join(dir, n);
      try {
        const st = statSync(p);
        const key = `${st.dev}:${st.ino}`;
        if (st.isFile() && !seen.has(key)) {
          seen.add(key);
          out.push({ path: p, dev: st.dev, ino: st.ino });
        }
      } catch {
        /* dangling link */
      }
    }
    for (const n of subdirs.sort()) {
      const p = join(dir, n);
      try {
        if (statSync(p).isDirectory()) visit(p, depth - 1);
      } catch {
        /* ignore */
      }
    }
  };
  for (const d of dirs) visit(d, 1);
  return out;
}

/** Resolve a DT_NEEDED name the way ld.so would for a binary with the given RUNPATH entries. */
export function resolveNeeded(name: string, runpath: string[], origin: string): string | undefined {
  const dirs = [...runpath.map((r) => r.replace(/\$ORIGIN|\$\{ORIGIN\}/g, origin)), ...libraryDirs()];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function fileIdentity(path: string): { dev: number; ino: number } | undefined {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

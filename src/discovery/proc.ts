/**
 * Reading /proc: processes, their memory maps, executables and identities. Every reader tolerates a
 * process that exits while being read (it returns empty results, never throws).
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

export interface MapEntry {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  /** major:minor as in the maps file (hex) */
  dev: string;
  inode: number;
  path: string;
}

/** Parse the text of a /proc/<pid>/maps file. */
export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // 7f1c...-7f1c... r-xp 00000000 fe:01 1234   /usr/lib/x86_64-linux-gnu/libssl.so.3
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+([0-9a-f]+)\s+([0-9a-f]+:[0-9a-f]+)\s+(\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: BigInt(`0x${m[1]}`),
      end: BigInt(`0x${m[2]}`),
      perms: m[3]!,
      offset: BigInt(`0x${m[4]}`),
      dev: m[5]!,
      inode: Number(m[6]),
      path: m[7] ?? '',
    });
  }
  return out;
}

export function readMaps(pid: number): MapEntry[] {
  try {
    return parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch {
    return [];
  }
}

/** Files mapped executable by a process (deduplicated, real paths as the kernel shows them). */
export function executableMappings(pid: number): { path: string; inode: number }[] {
  const seen = new Map<string, number>();
  for (const e of readMaps(pid)) {
    if (e.perms[2] !== 'x' || !e.path.startsWith('/') || e.inode === 0) continue;
    const path = e.path.endsWith(' (deleted)') ? e.path.slice(0, -10) : e.path;
    if (!seen.has(path)) seen.set(path, e.inode);
  }
  return [...seen].map(([path, inode]) => ({ path, inode }));
}

export function listPids(): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(n));
  }
  return out.sort((a, b) => a - b);
}

export function processExists(pid: number): boolean {
  try {
    statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

export function exePath(pid: number): string | undefined {
  try {
    const p = readlinkSync(`/proc/${pid}/exe`);
    return p.endsWith(' (deleted)') ? p.slice(0, -10) : p;
  } catch {
    return undefined;
  }
}

export function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
  } catch {
    return undefined;
  }
}

export interface ProcStatus {
  name: string;
  ppid: number;
  uid: number;
  euid: number;
}

export function status(pid: number): ProcStatus | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(t)?.[1] ?? '';
    const uids = get('Uid').split(/\s+/).map(Number);
    return { name: get('Name'), ppid: Number(get('PPid')), uid: uids[0] ?? 0, euid: uids[1] ?? 0 };
  } catch {
    return undefined;
  }
}

/**
 * A path through which this process can open a file that `pid` maps at `path`, even when `pid` lives in
 * another mount namespace (a container): the plain path when it names the same inode, else
 * /proc/<pid>/root/<path>.
 */
export function hostPath(pid: number, path: string, inode: number): string | undefined {
  try {
    if (statSync(path).ino === inode) return path;
  } catch {
    /* not visible in our namespace */
  }
  const alt = `/proc/${pid}/root${path}`;
  try {
    if (statSync(alt).ino === inode) return alt;
  } catch {
    /* process gone */
  }
  return undefined;
}

/** Effective capabilities of this process (CapEff bits), as a bigint. */
export function effectiveCaps(pid: number | 'self' = 'self'): bigint {
  try {
    const t = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(t);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

export const CAP = { SYS_ADMIN: 21, NET_ADMIN: 12, SYS_PTRACE: 19, SYS_RESOURCE: 24, PERFMON: 38, BPF: 39 } as const;

export function hasCap(caps: bigint, cap: number): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

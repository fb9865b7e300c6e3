/**
 * A small persistent cache of per-file analysis results (which functions a binary exports and where, its
 * library version), keyed by the file's identity (device, inode, size, mtime), so a restart does not
 * re-read a 100 MB binary. Stored as JSON under /var/cache/ecapture-ts (root) or $XDG_CACHE_HOME; a
 * missing, corrupt or unwritable cache only costs time, never correctness.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const VERSION = 1;
const MAX_ENTRIES = 2000;

function cacheDir(): string {
  if (process.env.ECAPTURE_CACHE_DIR) return process.env.ECAPTURE_CACHE_DIR;
  if (process.getuid?.() === 0) return '/var/cache/ecapture-ts';
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ecapture-ts');
}

export class FileCache<T> {
  private entries = new Map<string, T>();
  private dirty = false;
  private readonly path: string;

  constructor(name: string) {
    this.path = join(cacheDir(), `${name}.json`);
    try {
      const j = JSON.parse(readFileSync(this.path, 'utf8')) as { v: number; entries: [string, T][] };
      if (j.v === VERSION && Array.isArray(j.entries)) this.entries = new Map(j.entries);
    } catch {
      /* no cache yet */
    }
  }

  /** Identity key of a file, or undefined when it cannot be stat'ed. */
  static keyOf(path: string): string | undefined {
    try {
      const st = statSync(path);
      return `${st.dev}:${st.ino}:${st.size}:${Math.trunc(st.mtimeMs)}`;
    } catch {
      return undefined;
    }
  }

  get(key: string): T | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: T): void {
    this.entries.set(key, value);
    this.dirty = true;
  }

  /** Write the cache (atomically); errors are ignored. */
  save(): void {
    if (!this.dirty) return;
    try {
      mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
      const all = [...this.entries].slice(-MAX_ENTRIES);
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ v: VERSION, entries: all }), { mode: 0o600 });
      renameSync(tmp, this.path);
      this.dirty = false;
    } catch {
      /* read-only or full disk: fine */
    }
  }
}

/**
 * A minimal kernel BTF per BPF object, cached per (object, kernel): `bpftool gen min_core_btf` (BTFGen)
 * keeps only the types the object's CO-RE relocations use, a few KiB instead of the kernel's ~5 MiB.
 * Why: libbpf 1.1 parses the whole /sys/kernel/btf/vmlinux for every object it loads (~50 ms each here,
 * measured), which alone was a third of the startup time. Handing libbpf the minimal file as its CO-RE
 * target (btf_custom_path) gives the same relocations and skips that parse.
 *
 * The cache is only an accelerator: with no bpftool, no kernel BTF, an unwritable cache directory or any
 * failure, objects load against the kernel's BTF as before. A missing entry is generated in the background
 * (after the capture has started) so that the next start is quick; scripts/setup.sh generates them ahead.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../util/paths.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
export const btfCacheDir = join(projectRoot, 'build', 'btf-cache');

let kernelKeyMemo: string | null | undefined;

/** Identity of the running kernel's BTF: release, build id (/sys/kernel/notes) and BTF size; null without BTF. */
function kernelKey(): string | null {
  if (kernelKeyMemo !== undefined) return kernelKeyMemo;
  try {
    const size = statSync(VMLINUX).size;
    kernelKeyMemo = createHash('sha1').update(`${release()} ${size} `).update(readFileSync('/sys/kernel/notes')).digest('hex').slice(0, 16);
  } catch {
    kernelKeyMemo = null;
  }
  return kernelKeyMemo;
}

function cachePrefix(stem: string): string {
  return `${stem.replace(/\//g, '-')}.`;
}

/** The cache file for this object on this kernel (it may not exist); undefined when there is no kernel BTF. */
export function minBtfPath(stem: string, objectPath: string): string | undefined {
  const k = kernelKey();
  if (k === null) return undefined;
  let obj: string;
  try {
    // the file's identity rather than its content: hashing a 1 MiB object cost ~7 ms of startup, and a
    // rebuild always changes the modification time (nanoseconds)
    const st = statSync(objectPath, { bigint: true });
    obj = createHash('sha1').update(`${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`).digest('hex').slice(0, 16);
  } catch {
    return undefined;
  }
  return join(btfCacheDir, `${cachePrefix(stem)}${obj}.${k}.btf`);
}

/** The cached minimal BTF for this object, when it exists. */
export function cachedMinBtf(stem: string, objectPath: string): string | undefined {
  const p = minBtfPath(stem, objectPath);
  return p !== undefined && existsSync(p) ? p : undefined;
}

/** Forget a cache entry that did not work (libbpf rejected it). */
export function dropMinBtf(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

const pending = new Set<string>();

/**
 * Generate the entry for this object with bpftool, written under a temporary name and renamed into place
 * (a concurrent reader never sees half a file); older entries of the same object are removed.
 * Resolves to the path, or undefined when it could not be made (no bpftool, read-only directory...).
 */
export function generateMinBtf(stem: string, objectPath: string): Promise<string | undefined> {
  const out = minBtfPath(stem, objectPath);
  if (out === undefined) return Promise.resolve(undefined);
  if (existsSync(out)) return Promise.resolve(out);
  if (pending.has(out)) return Promise.resolve(undefined);
  pending.add(out);
  try {
    mkdirSync(btfCacheDir, { recursive: true, mode: 0o755 });
  } catch {
    pending.delete(out);
    return Promise.resolve(undefined);
  }
  const tmp = `${out}.${process.pid}.tmp`;
  return new Promise((resolve) => {
    const child = execFile('bpftool', ['gen', 'min_core_btf', VMLINUX, tmp, objectPath], { timeout: 30_000 }, (err) => {
      pending.delete(out);
      try {
        if (err) throw err;
        renameSync(tmp, out);
        for (const f of readdirSync(btfCacheDir)) {
          if (f.startsWith(cachePrefix(stem)) && join(btfCacheDir, f) !== out && !f.endsWith('.tmp')) dropMinBtf(join(btfCacheDir, f));
        }
        resolve(out);
      } catch {
        dropMinBtf(tmp);
        resolve(undefined);
      }
    });
    child.unref();
  });
}

/**
 * The files a TLS module hooks at its start: the one file the user named (--libssl, --gnutls, --nspr), or the
 * libraries mapped by --pid, or the libraries of the system plus those mapped by every running process. Each
 * step fails with a CaptureError that says what was looked for and what to do.
 */
import { CaptureError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import { libraryDirs } from '../../discovery/libs.js';
import { exePath, listPids, processExists } from '../../discovery/proc.js';

export interface LibraryTargetSpec<T> {
  /** the option that names one file to hook; its flag is `--<option>` (libssl, gnutls, nspr) */
  readonly option: string;
  /** the library, for messages: "OpenSSL/BoringSSL", "GnuTLS", "NSPR" */
  readonly what: string;
  /** the file names looked for in the library directories, for messages: "libssl.so*" */
  readonly files: string;
  /** what a named file lacks, after "--<option> PATH: " */
  readonly notATarget: string;
  readonly hints: {
    /** the named file is not a target */
    readonly file: string | ((path: string) => string);
    /** the --pid process maps no such library */
    readonly pid: string;
    /** nothing found anywhere */
    readonly none: string;
  };
  readonly finder: TargetFinder<T>;
}

/** Where a module's targets are (a LibFinder of lib-finder.ts, or the tls module's functions). */
export interface TargetFinder<T> {
  /** the file, when it is a target */
  inspect(path: string): T | undefined;
  /** the targets mapped by a process */
  ofProcess(pid: number): T[];
  /** the targets in the system's library directories */
  system(): T[];
}

/** --pid must name a running process. */
export function requireProcess(pid: number): void {
  if (!processExists(pid)) throw new CaptureError('ECAP_NO_PROCESS', `--pid ${pid}: no such process`, { hint: 'check the pid with `ps`' });
}

/** The targets of every running process but this one, added to `byKey` when new (by key), and how many processes were looked at. */
export function scanRunningProcesses<T extends { key: string }>(ofProcess: (pid: number) => T[], byKey = new Map<string, T>()): { byKey: Map<string, T>; scanned: number } {
  let scanned = 0;
  for (const p of listPids()) {
    if (p === process.pid) continue;
    scanned++;
    for (const t of ofProcess(p)) if (!byKey.has(t.key)) byKey.set(t.key, t);
  }
  return { byKey, scanned };
}

/** The initial targets of a module hooking a shared library (see the file comment). */
export function findLibraryTargets<T extends { key: string }>(config: Config, spec: LibraryTargetSpec<T>): T[] {
  const path = config[spec.option] ? String(config[spec.option]) : '';
  const pid = Number(config.pid ?? 0);
  if (path) {
    const t = spec.finder.inspect(path);
    if (!t) {
      const hint = typeof spec.hints.file === 'string' ? spec.hints.file : spec.hints.file(path);
      throw new CaptureError('ECAP_NO_TARGET', `--${spec.option} ${path}: ${spec.notATarget}`, { hint });
    }
    return [t];
  }
  if (pid > 0) {
    requireProcess(pid);
    const ts = spec.finder.ofProcess(pid);
    if (ts.length === 0) {
      throw new CaptureError('ECAP_NO_TARGET', `--pid ${pid} (${exePath(pid) ?? '?'}) maps no ${spec.what} library`, { hint: spec.hints.pid });
    }
    return ts;
  }
  const system = new Map<string, T>();
  for (const t of spec.finder.system()) system.set(t.key, t);
  const { byKey, scanned } = scanRunningProcesses((p) => spec.finder.ofProcess(p), system);
  if (byKey.size === 0) {
    throw new CaptureError('ECAP_NO_TARGET', `no ${spec.what} library found: looked for ${spec.files} in ${libraryDirs().join(', ')} and in the maps of ${scanned} running processes`, {
      hint: spec.hints.none,
    });
  }
  return [...byKey.values()];
}

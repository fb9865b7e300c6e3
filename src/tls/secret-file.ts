/**
 * Opening files that will hold TLS secrets (key logs, pcapng files with Decryption Secrets Blocks).
 *
 * - created with mode 0600;
 * - O_NOFOLLOW: a symlink planted at the path is refused with a clear error (ELOOP), never followed;
 * - `exclusive`: O_EXCL, the file must not exist yet;
 * - an existing file must be a regular file (or a FIFO, for live readers) with a single link: a hard link
 *   planted at the path would otherwise make us overwrite/append to its other name;
 * - truncation (mode 'truncate') happens only after those checks (ftruncate), not through O_TRUNC at open;
 * - an existing file of ours that group/others could read is tightened to 0600.
 * The checks cover the last path component only; the directory must not be writable by others.
 */
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, openSync } from 'node:fs';
import { CaptureError } from '../errors.js';

export interface OpenSecretFileOptions {
  mode: 'append' | 'truncate';
  exclusive?: boolean;
  /** words for messages, e.g. "key log file", "pcapng file" */
  what?: string;
}

export function openSecretFile(path: string, opts: OpenSecretFileOptions): number {
  const what = opts.what ?? 'file';
  let flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW;
  if (opts.mode === 'append') flags |= constants.O_APPEND;
  if (opts.exclusive) flags |= constants.O_EXCL;
  let fd: number;
  try {
    fd = openSync(path, flags, 0o600);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') {
      throw new CaptureError('ECAP_OUTPUT', `open ${what} ${path}: it is a symbolic link; refusing to follow it`, {
        cause,
        hint: 'remove the link or choose another path',
      });
    }
    if (code === 'EEXIST') {
      throw new CaptureError('ECAP_OUTPUT', `open ${what} ${path}: it already exists`, { cause, hint: 'choose a new path' });
    }
    throw new CaptureError('ECAP_OUTPUT', `open ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() && !st.isFIFO()) throw new CaptureError('ECAP_OUTPUT', `open ${what} ${path}: not a regular file`);
    if (st.isFile() && st.nlink > 1) {
      throw new CaptureError('ECAP_OUTPUT', `open ${what} ${path}: it has ${st.nlink} hard links; refusing to write secrets into it`);
    }
    if (st.isFile() && (st.mode & 0o077) !== 0 && typeof process.getuid === 'function' && st.uid === process.getuid()) {
      fchmodSync(fd, 0o600);
    }
    if (opts.mode === 'truncate' && st.isFile() && st.size > 0) ftruncateSync(fd, 0);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

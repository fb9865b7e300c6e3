/**
 * A file path: captured plaintext, so the file is created with mode 0600 and opened with O_NOFOLLOW (a symlink
 * planted at the path is refused, not followed); an existing file is appended to.
 *
 * Rotation (--eventroratesize N MB, --eventroratetime N s; either or both; regular files only): the live file
 * always has the configured name; when it would grow past the size, or is older than the interval and not empty,
 * it is renamed to `<stem>.<YYYYmmddTHHMMSS.mmm>.<ext>` (UTC time of the rotation, made unique and increasing
 * within the process, so rotated names sort in time order; `<path>.<stamp>` when the path has no extension) and a
 * new live file is created with O_CREAT|O_EXCL|O_NOFOLLOW. The rename is a link() that cannot replace an existing
 * name, then an unlink(). A chunk is never split across files; a chunk bigger than the size limit gets a file of
 * its own. Reading the rotated files in name order, then the live file, gives every chunk once, in order.
 *
 * Writes are synchronous (fs.writeSync) but happen only in the sink's pump (setImmediate), in batches, never in
 * write(): appends to the page cache take microseconds, and sync writes make exit flushes and rotation seams exact.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CaptureError, errnoName } from '../../errors.js';
import { QueuedSink } from './queued.js';
import type { Chunk, Done } from './queued.js';
import type { SinkOptions, SinkStats } from './types.js';

export interface FileSinkOptions extends SinkOptions {
  /** rotate before the live file would exceed this many bytes (0/undefined: never) */
  rotateBytes?: number;
  /** rotate a non-empty live file this many ms after it was opened (0/undefined: never) */
  rotateMs?: number;
  /** clock, for tests */
  now?: () => number;
}

// (libuv adds O_CLOEXEC to every open on Linux)
const C = fs.constants;
const APPEND = C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_NOFOLLOW;
const CREATE_NEW = C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

/** `events.log` + stamp → `events.20260621T101112.123.log` (UTC). */
export function rotatedName(file: string, ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}` +
    `${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
  const ext = path.extname(file);
  const stem = ext && ext !== file ? file.slice(0, -ext.length) : file;
  return ext ? `${stem}.${stamp}${ext}` : `${stem}.${stamp}`;
}

function openError(file: string, err: unknown): CaptureError {
  const e = err as NodeJS.ErrnoException;
  const hint = e.code === 'ELOOP'
    ? 'the path is a symbolic link; output files are opened without following links: give the real path'
    : e.code === 'EACCES' ? 'check the directory permissions' : undefined;
  return new CaptureError('ECAP_SINK', `open output file ${file}: ${e.code ?? errnoName(e.errno ?? 0)}`, { cause: err, hint });
}

export class FileSink extends QueuedSink {
  readonly kind = 'file' as const;
  readonly path: string;
  readonly #rotateBytes: number;
  readonly #rotateMs: number;
  readonly #now: () => number;
  #fd: number;
  #size: number;
  #regular: boolean;
  #openedAt: number;
  #lastStamp = 0;
  #rotations = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(file: string, opts: FileSinkOptions = {}) {
    const abs = path.resolve(file);
    super(`file:${abs}`, opts);
    this.path = abs;
    this.#rotateBytes = opts.rotateBytes ?? 0;
    this.#rotateMs = opts.rotateMs ?? 0;
    this.#now = opts.now ?? Date.now;
    try {
      this.#fd = fs.openSync(abs, APPEND, 0o600);
    } catch (err) {
      throw openError(abs, err);
    }
    const st = fs.fstatSync(this.#fd);
    this.#regular = st.isFile();
    this.#size = this.#regular ? st.size : 0;
    this.#openedAt = this.#now();
    if (this.#regular && (st.mode & 0o077) !== 0) {
      this.notice({ kind: 'error', level: 'warn', message: `${abs} is readable by others (mode ${(st.mode & 0o777).toString(8)}); captured data is sensitive` });
    }
    if (!this.#regular && (this.#rotateBytes || this.#rotateMs)) {
      this.notice({ kind: 'error', level: 'warn', message: `${abs} is not a regular file: rotation disabled` });
      this.#rotateBytes = this.#rotateMs = 0;
    }
    this.#arm();
  }

  #arm(): void {
    if (!this.#rotateMs || this.isClosed) return;
    const due = Math.max(1, this.#openedAt + this.#rotateMs - this.#now());
    this.#timer = setTimeout(() => this.#onTimer(), due);
    this.#timer.unref();
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.isClosed) return;
    // a write may have rotated since the timer was armed; timers may also fire a millisecond early
    if (this.#now() - this.#openedAt >= this.#rotateMs - 2) {
      if (this.#size > 0) this.#rotate();
      else this.#openedAt = this.#now(); // nothing to rotate: start a new period
    }
    this.#arm();
  }

  /** Rename the live file to its time-stamped name and open a fresh one. Failures leave the live file in use. */
  #rotate(): void {
    let ms = Math.max(this.#now(), this.#lastStamp + 1);
    let target = '';
    for (let i = 0; i < 1000; i++, ms++) {
      target = rotatedName(this.path, ms);
      try {
        fs.linkSync(this.path, target);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        this.notice({ kind: 'error', level: 'error', message: `${this.name}: rotation failed (link ${target}: ${code}); continuing in the live file`, cause: err });
        this.#openedAt = this.#now();
        return;
      }
    }
    this.#lastStamp = ms;
    let fd: number;
    try {
      fs.unlinkSync(this.path);
      fd = fs.openSync(this.path, CREATE_NEW, 0o600);
    } catch (err) {
      // keep writing to the old inode (now reachable as `target`): nothing is lost
      this.notice({ kind: 'error', level: 'error', message: `${this.name}: rotation failed (create: ${(err as NodeJS.ErrnoException).code}); continuing in ${target}`, cause: err });
      this.#openedAt = this.#now();
      return;
    }
    fs.closeSync(this.#fd);
    this.#fd = fd;
    this.#size = 0;
    this.#openedAt = this.#now();
    this.#rotations++;
    this.notice({ kind: 'rotated', level: 'info', rotatedTo: target, message: `${this.name}: rotated to ${target}` });
  }

  protected _ready(): boolean {
    return true;
  }

  protected _send(batch: Chunk[], done: Done): void {
    const first = batch[0]!.data.length;
    if (this.#size > 0 && ((this.#rotateBytes && this.#size + first > this.#rotateBytes) ||
      (this.#rotateMs && this.#now() - this.#openedAt >= this.#rotateMs))) {
      this.#rotate();
    }
    // the chunks that fit in the live file (at least one)
    let n = 0;
    let bytes = 0;
    for (const c of batch) {
      if (n > 0 && this.#rotateBytes && this.#size + bytes + c.data.length > this.#rotateBytes) break;
      n++;
      bytes += c.data.length;
    }
    const part = batch.slice(0, n);
    try {
      this.#writeAll(part);
      done(n);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        done(0, 'retry', 20);
        return;
      }
      this.notice({ kind: 'error', level: 'error', message: `${this.name}: write failed: ${code ?? String(err)}`, cause: err });
      done(0, 'drop');
    }
  }

  /**
   * writev in groups of at most 1024 buffers (IOV_MAX), short writes resumed. Runs of small chunks (headers,
   * short payloads) are merged first — one copy of a few bytes is cheaper than an iovec each — while large
   * payloads go to the kernel without a copy.
   */
  #writeAll(part: Chunk[]): void {
    const merged: Buffer[] = [];
    let run: Buffer[] = [];
    let runBytes = 0;
    // the run's chunks follow each other in one buffer (the sink's staging buffer): one view, no copy
    let adjacent = true;
    const endRun = () => {
      if (run.length === 0) return;
      const f = run[0]!;
      merged.push(run.length === 1 ? f : adjacent ? Buffer.from(f.buffer, f.byteOffset, runBytes) : Buffer.concat(run, runBytes));
      run = [];
      runBytes = 0;
      adjacent = true;
    };
    for (const c of part) {
      const d = c.data;
      if (d.length >= 2048) {
        endRun();
        merged.push(d);
      } else {
        if (run.length > 0 && adjacent) {
          const f = run[0]!;
          adjacent = d.buffer === f.buffer && d.byteOffset === f.byteOffset + runBytes;
        }
        run.push(d);
        runBytes += d.length;
      }
    }
    endRun();
    for (let i = 0; i < merged.length; i += 1024) {
      let bufs = merged.slice(i, i + 1024);
      let left = 0;
      for (const b of bufs) left += b.length;
      while (left > 0) {
        let w = bufs.length === 1 ? fs.writeSync(this.#fd, bufs[0]!) : fs.writevSync(this.#fd, bufs);
        left -= w;
        this.#size += w;
        let k = 0;
        while (k < bufs.length && w >= bufs[k]!.length) w -= bufs[k++]!.length;
        bufs = bufs.slice(k);
        if (w > 0 && bufs.length) bufs[0] = bufs[0]!.subarray(w);
      }
    }
  }

  protected override _sendSync(batch: Chunk[]): boolean {
    try {
      this.#writeAll(batch);
      return true;
    } catch {
      return false;
    }
  }

  protected _release(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      fs.closeSync(this.#fd);
    } catch {
      // already closed
    }
  }

  override stats(): SinkStats {
    return { ...super.stats(), rotations: this.#rotations };
  }
}

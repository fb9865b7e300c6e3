/**
 * Standard output (or any already-open descriptor, e.g. 2). Batches are written with asynchronous fs.write on
 * the thread pool, one at a time, so a slow reader (`| less`, a stalled pipe) fills the bounded queue and
 * causes counted drops instead of stalling the event loop, and with it the capture. EAGAIN (a non-blocking pipe
 * that is full) is retried after a short pause. EPIPE (the reader went away, e.g. `| head`) is end-of-output, not
 * an error: one notice, then every later chunk is discarded and counted. pino treats a broken pipe the same way.
 */
import fs from 'node:fs';
import { QueuedSink } from './queued.js';
import type { Chunk, Done } from './queued.js';
import type { SinkOptions } from './types.js';

export interface StdoutSinkOptions extends SinkOptions {
  /** default 1 */
  fd?: number;
}

let stdoutOwner: StdoutSink | undefined;
let stdoutListening = false;

const concat = (batch: Chunk[]) => (batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((c) => c.data)));

export class StdoutSink extends QueuedSink {
  readonly kind = 'stdout' as const;
  readonly #fd: number;
  #broken = false;
  #eagain = 0;

  constructor(opts: StdoutSinkOptions = {}) {
    const fd = opts.fd ?? 1;
    super(fd === 1 ? 'stdout' : fd === 2 ? 'stderr' : `fd:${fd}`, opts);
    this.#fd = fd;
    // Others may write to process.stdout too (console.log): a broken pipe there must not crash either.
    if (fd === 1) {
      stdoutOwner = this;
      if (!stdoutListening) {
        stdoutListening = true;
        process.stdout.on('error', (err: NodeJS.ErrnoException) => stdoutOwner?.onStreamError(err));
      }
    }
  }

  /** An error on process.stdout (written by someone else). */
  onStreamError(err: NodeJS.ErrnoException): void {
    if (err.code === 'EPIPE') this.#brokenPipe();
    else this.notice({ kind: 'error', level: 'error', message: `stdout: ${err.message}`, cause: err });
  }

  #brokenPipe(): void {
    if (this.#broken) return;
    this.#broken = true;
    this.notice({ kind: 'output_closed', level: 'info', message: `${this.name}: reader closed the pipe (EPIPE); output discarded from now on` });
  }

  protected _ready(): boolean {
    return true;
  }
  protected override _connected(): boolean {
    return !this.#broken && !this.isClosed;
  }

  protected _send(batch: Chunk[], done: Done): void {
    if (this.#broken) {
      done(0, 'drop');
      return;
    }
    const buf = concat(batch);
    const writeFrom = (off: number) => {
      fs.write(this.#fd, buf, off, buf.length - off, null, (err, n) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') {
            // retry the rest of this batch only (chunk boundaries are behind us if off > 0)
            this.#eagain = Math.min(this.#eagain + 1, 6);
            setTimeout(() => writeFrom(off), 2 ** this.#eagain).unref();
            return;
          }
          if (code === 'EPIPE') this.#brokenPipe();
          else this.notice({ kind: 'error', level: 'error', message: `${this.name}: write failed: ${err.message}`, cause: err });
          done(off === 0 ? 0 : countWhole(batch, off), 'drop');
          return;
        }
        this.#eagain = 0;
        if (off + n < buf.length) writeFrom(off + n);
        else done(batch.length);
      });
    };
    writeFrom(0);
  }

  protected override _sendSync(batch: Chunk[]): boolean {
    if (this.#broken) return false;
    const buf = concat(batch);
    let off = 0;
    let spins = 0;
    while (off < buf.length) {
      try {
        off += fs.writeSync(this.#fd, buf, off, buf.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && ++spins < 1000) continue;
        return false;
      }
    }
    return true;
  }

  protected _release(): void {
    // the descriptor belongs to the process
  }
}

/** Chunks of `batch` fully contained in its first `bytes` bytes. */
export function countWhole(batch: Chunk[], bytes: number): number {
  let n = 0;
  let acc = 0;
  for (const c of batch) {
    acc += c.data.length;
    if (acc > bytes) break;
    n++;
  }
  return n;
}

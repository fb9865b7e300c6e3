/**
 * The shared machinery of every sink: a bounded FIFO of chunks, a pump that hands batches to the subclass one at a
 * time, drop accounting with exact counts, flush/close, and notices. Subclasses implement only `_ready()` (can a
 * batch be sent now?) and `_send(batch, done)`.
 *
 * A batch stays at the head of the queue until `done` says how many of its chunks were delivered, so a batch that
 * fails because a connection dropped is simply sent again after reconnecting: nothing handed to a failed write is
 * lost or duplicated by the sink itself, and the queue bound includes the batch in flight.
 */
import type { Sink, SinkKind, SinkNotice, SinkOptions, SinkStats } from './types.js';
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_BUFFER_BYTES } from './types.js';

export interface Chunk {
  data: Buffer;
  /** written as a string: a text frame on WebSocket sinks */
  text: boolean;
}

/**
 * How a batch ended. `sent` chunks from the head were delivered; for the rest:
 * undefined → keep and continue at once; 'requeue' → keep, wait until `_ready()` again (the subclass calls
 * `kick()`); 'retry' → keep, try again after `retryMs`; 'drop' → discard them (counted).
 */
export type BatchOutcome = undefined | 'requeue' | 'retry' | 'drop';
export type Done = (sent: number, outcome?: BatchOutcome, retryMs?: number) => void;

/**
 * Buffer's own UTF-8 writer, without the argument checks of Buffer#write (Node has had it since 0.x;
 * calling it directly halved the cost of staging a string: Buffer#write showed 12% self time in the
 * 100-byte benchmark's profile). The caller guarantees room for `max` bytes.
 */
interface Utf8Writable {
  utf8Write(s: string, offset: number, max: number): number;
}

/** Chunks up to this size are copied into the staging buffer at write(). */
const STAGE_MAX_CHUNK = 2048;
const STAGE_SIZE = 64 * 1024;

export abstract class QueuedSink implements Sink {
  readonly name: string;
  abstract readonly kind: SinkKind;
  protected readonly maxBufferBytes: number;
  protected readonly maxBatchBytes: number;
  readonly #onNotice: ((n: SinkNotice) => void) | undefined;

  #q: Chunk[] = [];
  #head = 0;
  #queuedBytes = 0;
  #busy = false;
  /** chunks in the batch being sent */
  #inflight = 0;
  #idle: Array<() => void> = [];
  #pumping = false;
  /** the last batch ended with 'requeue' or 'retry' and nothing was sent since */
  #stalled = false;
  #scheduled = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #waiters: Array<() => void> = [];
  #runDropped = 0;
  #runDroppedBytes = 0;
  /**
   * Small chunks (record headers, short payloads) are copied at write() into a shared staging buffer that
   * is only ever appended to: a string is encoded straight into it (no Buffer of its own) and consecutive
   * chunks end up adjacent, so the file sink hands them to writev as one view instead of concatenating them
   * (100-byte events, `npm run bench -- pipeline`: Buffer.from + Buffer.concat were ~25% of the profile).
   * A chunk is still a chunk of its own for the queue, its limits and counters.
   */
  #stage: Buffer | undefined;
  #stageOff = 0;
  protected readonly counters = { written: 0, bytes: 0, dropped: 0, droppedBytes: 0, reconnects: 0 };

  constructor(name: string, opts: SinkOptions = {}) {
    this.name = name;
    this.maxBufferBytes = opts.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    this.maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.#onNotice = opts.onNotice;
  }

  /** Is the output able to take a batch now? */
  protected abstract _ready(): boolean;
  /** Deliver `batch` (1..n chunks from the head of the queue) and call `done` exactly once, sync or async. */
  protected abstract _send(batch: Chunk[], done: Done): void;
  /** Release the resource (called once, after the final flush). */
  protected abstract _release(): void | Promise<void>;
  /** Synchronous delivery for flushSync(); return false when not possible. */
  protected _sendSync(_batch: Chunk[]): boolean {
    return false;
  }
  protected _connected(): boolean {
    return !this.#closed;
  }

  write(chunk: Buffer | string): boolean {
    try {
      const text = typeof chunk === 'string';
      return this.#enqueue(this.#staged(chunk) ?? (text ? Buffer.from(chunk, 'utf8') : chunk), text);
    } catch {
      return false;
    }
  }

  #enqueue(data: Buffer, text: boolean): boolean {
    if (this.#closed || this.#queuedBytes + data.length > this.maxBufferBytes) {
      this.dropped(1, data.length, this.#closed ? 'sink closed' : 'queue full');
      return false;
    }
    if (data.buffer === this.#stage?.buffer) this.#stageOff += data.length; // keep the staged bytes
    this.#q.push({ data, text });
    this.#queuedBytes += data.length;
    this.#schedule();
    return true;
  }

  /**
   * Pieces written back to back as one chunk (a record's header, payload and newline): when they are small
   * together they are staged side by side and queued once, one view and one queue entry instead of three
   * (measured in the e2e capture's profile: per-chunk views and queue entries were most of the sink's
   * share). Larger pieces go through write() one by one, so big payloads are still never copied.
   */
  writeParts(parts: readonly (Buffer | string)[]): boolean {
    let max = 0;
    let text = true;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (typeof p === 'string') max += p.length * 3;
      else (max += p.length), (text = false);
    }
    if (max === 0 || max > STAGE_MAX_CHUNK || this.#closed) {
      let ok = true;
      for (let i = 0; i < parts.length; i++) ok = this.write(parts[i]!) && ok;
      return ok;
    }
    try {
      const st = this.#room(max);
      const off = this.#stageOff;
      let n = 0;
      for (let i = 0; i < parts.length; i++) n += this.#put(st, off + n, parts[i]!);
      return this.#enqueue(st.subarray(off, off + n), text);
    } catch {
      return false;
    }
  }

  /** The staging buffer, with room for `max` more bytes at #stageOff. */
  #room(max: number): Buffer {
    let st = this.#stage;
    if (st === undefined || this.#stageOff + max > st.length) {
      st = this.#stage = Buffer.allocUnsafeSlow(STAGE_SIZE);
      this.#stageOff = 0;
    }
    return st;
  }

  #put(st: Buffer, off: number, chunk: Buffer | string): number {
    if (typeof chunk === 'string') return (st as unknown as Utf8Writable).utf8Write(chunk, off, chunk.length * 3);
    st.set(chunk, off);
    return chunk.length;
  }

  /** A small chunk's bytes in the staging buffer (not kept until write() advances #stageOff), or undefined. */
  #staged(chunk: Buffer | string): Buffer | undefined {
    // a string of n UTF-16 units is at most 3n UTF-8 bytes
    const max = typeof chunk === 'string' ? chunk.length * 3 : chunk.length;
    if (max > STAGE_MAX_CHUNK || max === 0) return undefined;
    const st = this.#room(max);
    const off = this.#stageOff;
    return st.subarray(off, off + this.#put(st, off, chunk));
  }

  /** Ask the pump to run (e.g. after a connection opened). */
  protected kick(): void {
    this.#schedule();
  }

  protected get queueLength(): number {
    return this.#q.length - this.#head;
  }

  #schedule(): void {
    if (this.#scheduled || this.#busy) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #take(): Chunk[] {
    const batch: Chunk[] = [];
    let bytes = 0;
    for (let i = this.#head; i < this.#q.length; i++) {
      const c = this.#q[i]!;
      if (batch.length > 0 && bytes + c.data.length > this.maxBatchBytes) break;
      batch.push(c);
      bytes += c.data.length;
    }
    return batch;
  }

  #advance(n: number, deliver: boolean): void {
    for (let i = 0; i < n; i++) {
      const c = this.#q[this.#head++]!;
      this.#queuedBytes -= c.data.length;
      if (deliver) {
        this.counters.written++;
        this.counters.bytes += c.data.length;
      } else this.dropped(1, c.data.length, 'write failed');
    }
    if (this.#head === this.#q.length) {
      this.#q = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#q.length) {
      this.#q = this.#q.slice(this.#head);
      this.#head = 0;
    }
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#busy && this.queueLength > 0 && this._ready()) {
        const batch = this.#take();
        this.#busy = true;
        this.#inflight = batch.length;
        let called = false;
        const done: Done = (sent, outcome, retryMs) => {
          if (called) return;
          called = true;
          this.#finish(batch, sent, outcome, retryMs);
        };
        try {
          this._send(batch, done);
        } catch (err) {
          this.notice({ kind: 'error', level: 'error', message: `${this.name}: write failed: ${String(err)}`, cause: err });
          done(0, 'drop');
        }
        // a batch put back synchronously waits for kick() (or its retry timer): never spin here
        if (this.#stalled) break;
      }
    } finally {
      this.#pumping = false;
    }
    if (!this.#busy && this.queueLength === 0) this.#wake();
  }

  #finish(batch: Chunk[], sent: number, outcome: BatchOutcome, retryMs?: number): void {
    this.#busy = false;
    this.#inflight = 0;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
    if (this.#closed) outcome = 'drop';
    this.#stalled = outcome === 'requeue' || outcome === 'retry';
    const n = Math.max(0, Math.min(sent, batch.length));
    this.#advance(n, true);
    if (n > 0) this.#endDropRun();
    if (outcome === 'drop') this.#advance(batch.length - n, false);
    if (this.#closed) return;
    if (outcome === 'retry') {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#pump();
      }, retryMs ?? 10);
      this.#retryTimer.unref?.();
      return;
    }
    if (outcome === 'requeue') {
      if (this.queueLength === 0) this.#wake();
      return;
    }
    this.#pump();
  }

  /** Count `n` chunks of `bytes` as dropped and tell the user (once per run of drops). */
  protected dropped(n: number, bytes: number, why: string): void {
    this.counters.dropped += n;
    this.counters.droppedBytes += bytes;
    if (this.#runDropped === 0) {
      this.notice({ kind: 'dropping', level: 'warn', message: `${this.name}: dropping output (${why})` });
    }
    this.#runDropped += n;
    this.#runDroppedBytes += bytes;
  }

  #endDropRun(): void {
    if (this.#runDropped === 0) return;
    const n = this.#runDropped;
    const b = this.#runDroppedBytes;
    this.#runDropped = this.#runDroppedBytes = 0;
    this.notice({
      kind: 'dropped', level: 'warn', dropped: n, droppedBytes: b, totalDropped: this.counters.dropped,
      message: `${this.name}: dropped ${n} chunks (${b} bytes); ${this.counters.dropped} in total`,
    });
  }

  protected notice(n: Omit<SinkNotice, 'sink'>): void {
    try {
      this.#onNotice?.({ sink: this.name, ...n });
    } catch {
      // a notice handler must not break the sink
    }
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  flush(timeoutMs = Infinity): Promise<void> {
    if (this.queueLength === 0 && !this.#busy) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let t: NodeJS.Timeout | undefined;
      const fin = () => {
        if (t) clearTimeout(t);
        resolve();
      };
      this.#waiters.push(fin);
      if (Number.isFinite(timeoutMs)) t = setTimeout(fin, timeoutMs);
      this.#schedule();
    });
  }

  flushSync(): void {
    if (this.#busy || this.#closed) return;
    try {
      while (this.queueLength > 0) {
        const batch = this.#take();
        if (!this._sendSync(batch)) return;
        this.#advance(batch.length, true);
      }
    } catch {
      // exiting: nothing more to do
    }
  }

  close(timeoutMs = 5000): Promise<void> {
    this.#closing ??= (async () => {
      await this.flush(timeoutMs);
      this.#closed = true;
      if (this.#retryTimer) clearTimeout(this.#retryTimer);
      // keep the batch in flight (if any): its outcome decides whether it counts as written or dropped
      const keep = this.#head + this.#inflight;
      const left = this.#q.length - keep;
      if (left > 0) {
        let bytes = 0;
        for (let i = keep; i < this.#q.length; i++) bytes += this.#q[i]!.data.length;
        this.#q.length = keep;
        this.#queuedBytes -= bytes;
        this.dropped(left, bytes, 'still queued at close');
      }
      try {
        await this._release();
      } catch (err) {
        this.notice({ kind: 'error', level: 'error', message: `${this.name}: close failed: ${String(err)}`, cause: err });
      }
      if (this.#busy) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          this.#idle.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      this.#endDropRun();
      this.#wake();
    })();
    return this.#closing;
  }

  protected get isClosed(): boolean {
    return this.#closed;
  }
  protected get isClosing(): boolean {
    return this.#closing !== undefined;
  }

  stats(): SinkStats {
    return {
      name: this.name,
      kind: this.kind,
      written: this.counters.written,
      bytes: this.counters.bytes,
      dropped: this.counters.dropped,
      droppedBytes: this.counters.droppedBytes,
      queued: this.queueLength,
      queuedBytes: this.#queuedBytes,
      reconnects: this.counters.reconnects,
      connected: this._connected(),
    };
  }
}

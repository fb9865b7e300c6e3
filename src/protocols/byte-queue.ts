/**
 * A queue of received chunks for the incremental parsers: `length` says what is available (need(n) is
 * `q.length >= n`), `consume(n)` returns a slice when one chunk covers the bytes and copies only when they
 * span chunks, `takeSome(n)` streams a body out without copying.
 *
 * Chunks pushed may be views into a buffer the caller reuses (a ring-buffer batch); a parser calls `own()`
 * before returning from push, which copies what is still queued from such chunks, once (an unfinished
 * header block or frame: bounded by the parser's limits).
 */
export class ByteQueue {
  private bufs: Buffer[] = [];
  private head = 0; // index of the first live chunk in bufs
  private off = 0; // offset into bufs[head]
  private owned = 0; // bufs[i] for i < owned are our own copies
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.bufs.push(b);
    this.length += b.length;
  }

  clear(): void {
    this.bufs = [];
    this.head = 0;
    this.off = 0;
    this.owned = 0;
    this.length = 0;
  }

  /** Copy the queued bytes of chunks we do not own yet (each byte is copied at most once). */
  own(): void {
    for (let i = Math.max(this.head, this.owned); i < this.bufs.length; i++) {
      const b = this.bufs[i]!;
      if (i === this.head && this.off > 0) {
        this.bufs[i] = Buffer.from(b.subarray(this.off));
        this.off = 0;
      } else {
        this.bufs[i] = Buffer.from(b);
      }
    }
    this.owned = this.bufs.length;
  }

  /** Exactly n bytes (caller checked length >= n): a slice when one chunk covers them, else a copy. */
  consume(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.bufs[this.head]!;
    const avail = first.length - this.off;
    if (n <= avail) {
      const out = first.subarray(this.off, this.off + n);
      this.advance(n, avail);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let w = 0;
    while (w < n) {
      const b = this.bufs[this.head]!;
      const a = b.length - this.off;
      const k = Math.min(a, n - w);
      b.copy(out, w, this.off, this.off + k);
      w += k;
      this.advance(k, a);
    }
    return out;
  }

  /** Up to n bytes from the first chunk, never copied; empty when the queue is empty. */
  takeSome(n: number): Buffer {
    if (this.length === 0 || n <= 0) return EMPTY;
    const first = this.bufs[this.head]!;
    const avail = first.length - this.off;
    const k = Math.min(n, avail);
    const out = first.subarray(this.off, this.off + k);
    this.advance(k, avail);
    return out;
  }

  skip(n: number): void {
    const first = this.bufs[this.head];
    if (first !== undefined && n <= first.length - this.off) {
      this.advance(n, first.length - this.off); // within the first chunk: the usual case
      return;
    }
    let left = Math.min(n, this.length);
    while (left > 0) {
      const b = this.bufs[this.head]!;
      const a = b.length - this.off;
      const k = Math.min(a, left);
      this.advance(k, a);
      left -= k;
    }
  }

  /** The first chunk when it holds the next n bytes contiguously (read them at `headOffset`, then skip), else undefined. */
  contiguous(n: number): Buffer | undefined {
    const b = this.bufs[this.head];
    return b !== undefined && b.length - this.off >= n ? b : undefined;
  }

  /** Offset of the next unread byte in the first chunk. */
  get headOffset(): number {
    return this.off;
  }

  /** Up to n bytes from the front without consuming them (slice if in one chunk, else a small copy). */
  peek(n: number): Buffer {
    const k = Math.min(n, this.length);
    if (k === 0) return EMPTY;
    const first = this.bufs[this.head]!;
    if (first.length - this.off >= k) return first.subarray(this.off, this.off + k);
    const out = Buffer.allocUnsafe(k);
    for (let i = 0; i < k; i++) out[i] = this.byteAt(i);
    return out;
  }

  /** Byte at position i (0 = next unread byte); caller checked i < length. */
  byteAt(i: number): number {
    let idx = this.head;
    let pos = i + this.off;
    for (;;) {
      const b = this.bufs[idx]!;
      if (pos < b.length) return b[pos]!;
      pos -= b.length;
      idx++;
    }
  }

  /** Position of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from = 0): number {
    let base = 0; // queue position of bufs[idx][start]
    for (let idx = this.head; idx < this.bufs.length; idx++) {
      const b = this.bufs[idx]!;
      const start = idx === this.head ? this.off : 0;
      const len = b.length - start;
      if (from < base + len) {
        const at = b.indexOf(byte, start + Math.max(0, from - base));
        if (at >= 0) return base + at - start;
      }
      base += len;
    }
    return -1;
  }

  /** Take everything as a list of chunks (for handing buffered bytes to another parser). */
  drain(): Buffer[] {
    const out: Buffer[] = [];
    for (let idx = this.head; idx < this.bufs.length; idx++) {
      const b = this.bufs[idx]!;
      out.push(idx === this.head ? b.subarray(this.off) : b);
    }
    this.clear();
    return out;
  }

  private advance(k: number, avail: number): void {
    this.length -= k;
    if (k < avail) {
      this.off += k;
      return;
    }
    this.off = 0;
    this.bufs[this.head] = EMPTY;
    this.head++;
    if (this.head === this.bufs.length) {
      if (this.head === 1) this.bufs.pop(); // the usual single chunk: pop, not a `length = 0` runtime call
      else this.bufs.length = 0;
      this.head = 0;
      this.owned = 0;
    } else if (this.head >= 16) {
      this.bufs = this.bufs.slice(this.head);
      this.owned = Math.max(0, this.owned - this.head);
      this.head = 0;
    }
  }
}

export const EMPTY: Buffer = Buffer.alloc(0);

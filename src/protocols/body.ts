/**
 * Collects the body bytes of one message within its limits: at most `max` bytes are kept, each taken from
 * the connection's MemBudget first; the rest is only counted. Parts are kept as slices of the received
 * chunks (no copy) except tiny ones, which are copied so a few bytes do not pin a large chunk.
 */
import { EMPTY } from './byte-queue.js';
import type { MemBudget } from './limits.js';

const COPY_BELOW = 512;

export class BodyCollector {
  private parts: Buffer[] = [];
  /** bytes kept */
  kept = 0;
  /** bytes seen (kept + truncated + lost) */
  size = 0;
  truncated = 0;
  lost = 0;
  /** set when the budget (not `max`) refused bytes */
  budgetHit = false;

  constructor(
    private readonly max: number,
    private readonly budget: MemBudget,
  ) {}

  add(b: Buffer): void {
    const n = b.length;
    if (n === 0) return;
    this.size += n;
    let k = Math.min(n, this.max - this.kept);
    if (k > 0 && !this.budget.tryTake(k)) {
      this.budgetHit = true;
      k = Math.min(k, this.budget.room());
      if (k > 0 && !this.budget.tryTake(k)) k = 0;
    }
    if (k > 0) {
      const part = k === n ? b : b.subarray(0, k);
      this.parts.push(k < COPY_BELOW ? Buffer.from(part) : part);
      this.kept += k;
    }
    this.truncated += n - k;
  }

  /** Bytes that can still be kept under `max` (the budget may still refuse them). */
  room(): number {
    return this.max - this.kept;
  }

  /** Count bytes without keeping them. */
  skip(n: number): void {
    this.size += n;
    this.truncated += n;
  }

  addLost(n: number): void {
    this.size += n;
    this.lost += n;
  }

  /** The kept bytes as one Buffer; gives the budget back (the message leaves the parser). */
  finish(): Buffer {
    const out = this.parts.length === 0 ? EMPTY : this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.kept);
    this.parts = [];
    this.budget.release(this.kept);
    return out;
  }

  /** Drop everything kept (parser reset). */
  discard(): void {
    this.parts = [];
    this.budget.release(this.kept);
    this.kept = 0;
  }
}

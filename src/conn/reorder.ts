/**
 * Ordering of one connection direction by stream position (`seq`). Items (data chunks and kernel gap
 * markers) are released in order; one that arrives ahead of the expected position waits until the hole is
 * filled, or until the caller forces it (window full, wait timeout, close), at which point the hole is
 * released as a `jump` (bytes lost). Bytes already released are trimmed from late or overlapping items.
 */
import type { DataRecord, GapRecord } from '../model/records.js';

export type OrderItem = DataRecord | GapRecord;

/** Released in order: a record, or a hole nobody filled. */
export type Released = OrderItem | { type: 'jump'; seq: number; lost: number };

export function itemLength(i: OrderItem): number {
  return i.type === 'data' ? i.payload.length : i.lostBytes;
}

/** The part of `i` from stream position `from` on (from > i.seq). */
function trim(i: OrderItem, from: number): OrderItem {
  const cut = from - i.seq;
  if (i.type === 'data') return { ...i, seq: from, payload: i.payload.subarray(cut) };
  return { ...i, seq: from, lostBytes: i.lostBytes - cut };
}

export class SeqOrder {
  /** next expected stream position */
  next = 0;
  readonly pending: OrderItem[] = [];
  pendingBytes = 0;
  /** bytes dropped because they had already been released */
  dupBytes = 0;

  /** Would `i` be held rather than released now? */
  wouldHold(i: OrderItem): boolean {
    return i.seq > this.next;
  }

  /**
   * The common case without the general machinery: `i` starts exactly at the expected position, is not
   * empty and nothing waits; then it is released at once (the caller delivers it) and true is returned.
   * Equivalent to push(i, out) with out = [i].
   */
  takeInOrder(i: OrderItem): boolean {
    if (this.pending.length !== 0 || i.seq !== this.next) return false;
    const len = itemLength(i);
    if (len === 0) return false;
    this.next += len;
    return true;
  }

  /** Add an item; released items are appended to `out`. Returns true when the item was held. */
  push(i: OrderItem, out: Released[]): boolean {
    if (i.seq > this.next) {
      let at = this.pending.length;
      while (at > 0 && this.pending[at - 1]!.seq > i.seq) at--;
      this.pending.splice(at, 0, i);
      this.pendingBytes += itemLength(i);
      return true;
    }
    this.release(i, out);
    this.drain(out);
    return false;
  }

  /** Give up on the first hole: release it as a jump, then whatever follows in order. */
  forceOne(out: Released[]): void {
    const first = this.pending[0];
    if (!first) return;
    if (first.seq > this.next) {
      out.push({ type: 'jump', seq: this.next, lost: first.seq - this.next });
      this.next = first.seq;
    }
    this.drain(out);
  }

  /** Release everything pending (holes as jumps); then a final jump up to `end` when given. */
  forceAll(out: Released[], end?: number): void {
    while (this.pending.length > 0) this.forceOne(out);
    if (end !== undefined && end > this.next) {
      out.push({ type: 'jump', seq: this.next, lost: end - this.next });
      this.next = end;
    }
  }

  /** Timestamp of the oldest waiting item, if any. */
  oldestTs(): bigint | undefined {
    let ts: bigint | undefined;
    for (const p of this.pending) if (ts === undefined || p.ts < ts) ts = p.ts;
    return ts;
  }

  private release(i: OrderItem, out: Released[]): void {
    const len = itemLength(i);
    const end = i.seq + len;
    if (end <= this.next) {
      this.dupBytes += len;
      return;
    }
    if (i.seq < this.next) {
      this.dupBytes += this.next - i.seq;
      i = trim(i, this.next);
    }
    out.push(i);
    this.next = end;
  }

  private drain(out: Released[]): void {
    while (this.pending.length > 0 && this.pending[0]!.seq <= this.next) {
      const i = this.pending.shift()!;
      this.pendingBytes -= itemLength(i);
      this.release(i, out);
    }
  }
}

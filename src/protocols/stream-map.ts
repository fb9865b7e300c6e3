/**
 * An insertion-ordered map from HTTP/2 stream ids (integers 0 .. 2^31-1) to values, for the per-stream
 * tables of the HTTP/2 path (request pairing, streams being assembled). It behaves as a Map for what those
 * tables use (get, set, delete, size, the oldest entry, the values in insertion order), at a fraction of the
 * cost: V8's Map took ~20 ns per operation on tables whose entries come and go all the time (one set and one
 * delete per stream), this takes a few.
 *
 * Open addressing with linear probing and backward-shift deletion (no tombstones); insertion order is a FIFO
 * of (key, serial) pairs in which entries deleted (or deleted and set again) since are skipped. Memory: no
 * slots before the first entry; then slots for twice the most entries held at once, kept while the map
 * empties and fills again (a connection's streams come in bursts), except past MAX_KEPT slots.
 */

const EMPTY = -1;
const NONE: never[] = [];
/** a map that empties with more slots than this lets them go (bounds what an idle connection holds) */
const MAX_KEPT = 256;

/** An array of n copies of v, of exactly n elements (push would leave room for 17). */
function filled<V>(n: number, v: V): V[] {
  return new Array<V>(n).fill(v);
}

export class StreamMap<V> {
  size = 0;
  /** slots: key (EMPTY when free), the serial of its insertion, its value; null before the first entry */
  private keys: number[] | null = null;
  private serials: number[] = NONE;
  private vals: Array<V | undefined> = NONE;
  /** 32 - log2(slot count): the home slot of a key is the top bits of a multiplicative hash */
  private shift = 0;
  /** insertion order: key, serial, key, serial... from `head` */
  private order: number[] = NONE;
  private head = 0;
  private serial = 0;

  get(key: number): V | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.vals[i];
  }

  set(key: number, v: V): void {
    if (this.keys === null) this.alloc(4);
    const keys = this.keys!;
    const mask = keys.length - 1;
    let i = this.home(key);
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        this.vals[i] = v; // as Map: a new value keeps the key's place in the order
        return;
      }
      if (k === EMPTY) break;
      i = (i + 1) & mask;
    }
    const s = this.serial++;
    keys[i] = key;
    this.serials[i] = s;
    this.vals[i] = v;
    this.size++;
    this.order.push(key, s);
    if (this.size * 2 > keys.length) this.rehash(keys.length * 2);
  }

  delete(key: number): boolean {
    let i = this.find(key);
    if (i < 0) return false;
    this.size--;
    const keys = this.keys!;
    const serials = this.serials;
    const vals = this.vals;
    const mask = keys.length - 1;
    // backward shift: entries after the hole in the same probe run move into it when their home slot is not
    // in the cyclic range (hole, their slot], so every key stays reachable from its home without tombstones
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const h = this.home(keys[j]!);
      if (j > i ? h <= i || h > j : h <= i && h > j) {
        keys[i] = keys[j]!;
        serials[i] = serials[j]!;
        vals[i] = vals[j];
        i = j;
      }
    }
    keys[i] = EMPTY;
    vals[i] = undefined;
    if (this.size === 0) {
      if (keys.length > MAX_KEPT) {
        this.clear();
      } else {
        this.order.length = 0;
        this.head = 0;
      }
    } else if (this.order.length - this.head > 4 * this.size + 64) {
      this.compact();
    }
    return true;
  }

  clear(): void {
    this.keys = null;
    this.serials = NONE;
    this.vals = NONE;
    this.order = NONE;
    this.head = 0;
    this.serial = 0;
    this.size = 0;
  }

  /** The key set first among those present (as `map.keys().next().value`), or undefined. */
  firstKey(): number | undefined {
    const o = this.order;
    while (this.head < o.length) {
      const key = o[this.head]!;
      if (this.live(key, o[this.head + 1]!)) return key;
      this.head += 2;
    }
    return undefined;
  }

  /** The values in insertion order (a new array). */
  values(): V[] {
    const out: V[] = [];
    const o = this.order;
    for (let r = this.head; r < o.length; r += 2) {
      const i = this.find(o[r]!);
      if (i >= 0 && this.serials[i] === o[r + 1]) out.push(this.vals[i]!);
    }
    return out;
  }

  private home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  /** Slot of `key`, or -1. */
  private find(key: number): number {
    const keys = this.keys;
    if (keys === null) return -1;
    const mask = keys.length - 1;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) return i;
      if (k === EMPTY) return -1;
    }
  }

  /** Is the order entry (key, serial) the key's current insertion? */
  private live(key: number, serial: number): boolean {
    const i = this.find(key);
    return i >= 0 && this.serials[i] === serial;
  }

  private alloc(slots: number): void {
    this.keys = filled(slots, EMPTY);
    this.serials = filled(slots, 0);
    this.vals = filled<V | undefined>(slots, undefined);
    this.shift = Math.clz32(slots) + 1;
    if (this.order === NONE) this.order = [];
  }

  private rehash(slots: number): void {
    const keys = this.keys!;
    const serials = this.serials;
    const vals = this.vals;
    this.alloc(slots);
    const mask = slots - 1;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === EMPTY) continue;
      let i = this.home(keys[j]!);
      while (this.keys![i] !== EMPTY) i = (i + 1) & mask;
      this.keys![i] = keys[j]!;
      this.serials[i] = serials[j]!;
      this.vals[i] = vals[j];
    }
  }

  /** Drop the order entries of deleted keys (in place). */
  private compact(): void {
    const o = this.order;
    let w = 0;
    for (let r = this.head; r < o.length; r += 2) {
      if (!this.live(o[r]!, o[r + 1]!)) continue;
      o[w] = o[r]!;
      o[w + 1] = o[r + 1]!;
      w += 2;
    }
    o.length = w;
    this.head = 0;
  }
}

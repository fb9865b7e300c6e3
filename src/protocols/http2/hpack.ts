/**
 * HPACK decoder (RFC 7541) with a dynamic table that lives as long as its connection direction — one per
 * direction, fed every header block in order (HEADERS, CONTINUATION, PUSH_PROMISE), which is what eCapture
 * loses between events (#744). Hand-written: no maintained npm decoder exposes this state (see huffman.ts).
 *
 * Robust to captures that start mid-connection: a reference to a dynamic entry we never saw is counted and
 * the field left out (with a note) instead of failing the block; later indices stay aligned because literal
 * insertions with an unknown name still take a table slot. A malformed block (bad integer, truncated string,
 * invalid Huffman) is an error: the table may have lost sync, so the caller stops trusting the connection.
 *
 * The tables keep [name, value] tuples, and a decoded list holds the table's own tuple for an indexed field
 * (the static table's tuples are shared by all decoders): most fields of a steady connection are indexed,
 * and a fresh 2-element array per field was ~40 % of what the parser allocated on small requests (measured
 * ~0.1 us per request/response pair of the tiny-GET benchmark). The tuples are typed read-only (HeaderList):
 * a consumer that edited one in place would change the table, so it must copy instead. They are not
 * frozen: V8 reads elements of frozen arrays through a generic IC, which made every later read of a header
 * slower (tried in an earlier round). Each list is still an array of its own.
 */
import type { HeaderList } from '../types.js';
import { huffmanDecode, latin1 } from './huffman.js';
import { STATIC_TABLE, StaticTable } from './static-table.js';

export interface HpackResult {
  error?: string;
  /** dynamic indices referring to entries from before the capture */
  unknownRefs?: number[];
  /** the decoded list exceeded the size or count limit; the rest was decoded (for table sync) but dropped */
  truncated?: boolean;
}

const OK: HpackResult = Object.freeze({});

type Tuple = readonly [string, string];
/** encoded length from which a Huffman literal goes through the one-entry cache (see longHuffman) */
const LONG_LITERAL = 64;
/** longer ones are not kept (bounds what an idle connection's decoder holds: 8 KiB) */
const LONG_LITERAL_MAX = 8192;
const STATIC_NAMES: string[] = STATIC_TABLE.map((e) => e[0]);
/** the static entries as tuples of the decoded lists (entry 0 unused) */
const STATIC_TUPLES: Tuple[] = STATIC_TABLE.map((e): Tuple => [e[0], e[1]]);
/**
 * The names of the fields the HTTP/2 parser takes facts from (streams.ts headerFacts reads only these, and
 * must name the same ones).
 * The decoder notes where such fields land in a decoded list (`noted`), so that the parser reads two or
 * three fields of a list instead of loading and comparing every name (measured ~6 % faster on the tiny-GET
 * benchmark).
 */
export function isFactName(name: string): boolean {
  switch (name) {
    case ':method': case ':path': case ':status': case 'content-length': case 'content-encoding': case 'content-type':
      return true;
    default:
      return false;
  }
}
/**
 * `noted` bits: bit i for a field at list position i < Noted.Positions, Noted.Rest for any position from there
 * on (a const enum: numbers in the code, not module bindings read per field; see frames.ts).
 */
export const enum Noted {
  Positions = 30,
  Rest = 1 << 30,
}
/**
 * What a static entry adds to a list's byte count (name + value + 32), by index, times two, plus 1 when its
 * name is a fact name: one load gives both (the dynamic table's `sizes` use the same form).
 */
const STATIC_SIZES: number[] = STATIC_TABLE.map((e) => (e[0].length + e[1].length + 32) * 2 + (isFactName(e[0]) ? 1 : 0));

export class HpackDecoder {
  /**
   * Dynamic entries in a ring (capacity a power of two, grown when full): `count` entries, the oldest in slot
   * `first`; slot i holds tuples[i] (null when the name came from an unknown index: such an entry is never
   * shown) and sizes[i] (RFC 7541 §4.1 octets, times two, plus 1 when the name is a fact name). A busy
   * connection inserts and evicts an entry per header block or so: a ring does that without moving or
   * reallocating anything.
   */
  private tuples: Array<Tuple | null> = new Array<Tuple | null>(8).fill(null);
  private sizes: number[] = new Array<number>(8).fill(0);
  private first = 0;
  private count = 0;
  private size = 0;
  /** current maximum set by the encoder (dynamic table size update); starts at the protocol default */
  maxSize: number;
  // per-call state of decode() (kept on the instance: no closures or result objects on the hot path)
  private pos = 0;
  /** why str() returned undefined */
  private strError = '';
  private unknown: number[] | undefined;
  private truncated = false;
  /**
   * Where the last decoded list has fields with a fact name (isFactName): bit i for position i < 30, bit 30
   * (Noted.Rest) for any position from 30 on. Read by the HTTP/2 parser after decode.
   */
  noted = 0;
  /**
   * Fields in the last list decoded, the length newList() gives the next one: a steady connection sends lists
   * of one length, which are then made at their size instead of growing from empty (a builtin call per list
   * and a backing store of 17 slots: ~7 ns per list of 7 fields in a micro-benchmark).
   */
  private expect = 0;
  /** fields in the list run() just decoded */
  private listLen = 0;
  /** the last long Huffman literal: its encoded bytes and its text (see longHuffman) */
  private lastEnc: Uint8Array | undefined = undefined;
  private lastText = '';

  constructor(
    private readonly hardMax = 65536,
    initialMax = 4096,
  ) {
    this.maxSize = initialMax;
  }

  get entryCount(): number {
    return this.count;
  }

  get tableBytes(): number {
    return this.size;
  }

  /**
   * A list to decode the next block into: as long as the last one decoded, its slots empty until decode()
   * fills them (it trims what it did not fill).
   */
  newList(): HeaderList {
    return new Array<readonly [string, string]>(this.expect);
  }

  /**
   * Decode the whole header block b[from, to) into `out`: an empty list or one from newList(). On an error
   * `out` is left empty.
   */
  decode(b: Buffer, out: HeaderList, maxBytes: number, maxCount: number, from = 0, to = b.length): HpackResult {
    this.pos = from;
    this.unknown = undefined;
    this.truncated = false;
    this.noted = 0;
    const err = this.run(b, to, out, maxBytes, maxCount);
    if (err === undefined) {
      const n = this.listLen;
      if (n !== out.length) out.length = n; // fewer fields than the last list (a runtime call, rare)
      if (n !== this.expect) this.expect = n < 64 ? n : 64;
      if (this.unknown === undefined && !this.truncated) return OK;
    } else {
      out.length = 0;
    }
    const r: HpackResult = {};
    if (err !== undefined) r.error = err;
    if (this.unknown) r.unknownRefs = this.unknown;
    if (this.truncated) r.truncated = true;
    return r;
  }

  /** Continuation bytes of an integer whose prefix was `v` (RFC 7541 §5.1), from this.pos; -1 on error. */
  private intTail(b: Buffer, end: number, v: number): number {
    let shift = 0;
    for (;;) {
      if (this.pos >= end || shift > 28) return -1;
      const x = b[this.pos++]!;
      v += (x & 0x7f) * 2 ** shift;
      shift += 7;
      if ((x & 0x80) === 0) return v;
    }
  }

  /** Ring slot of dynamic index `idx` (> StaticTable.Count; the newest entry is StaticTable.Count + 1), -1 if beyond the table. */
  private slot(idx: number): number {
    const j = idx - StaticTable.Count;
    return j > this.count ? -1 : (this.first + this.count - j) & (this.sizes.length - 1);
  }

  // The loop keeps the read position and the list's byte count in locals (this.pos only around the rare
  // multi-byte integers and the string literals), and adds fields inline: per field that saved a load and a
  // store of the instance per byte read and a call (measured ~10 % of the HPACK time of the tiny-GET case).
  private run(b: Buffer, end: number, out: HeaderList, maxBytes: number, maxCount: number): string | undefined {
    const maxIndex = StaticTable.Count + this.hardMax / 32;
    let p = this.pos;
    let listBytes = 0;
    let noted = 0;
    let n = 0; // fields in `out` (slots from n on are empty or absent)
    const cap = out.length;
    while (p < end) {
      const c = b[p++]!;
      if (c & 0x80) {
        // indexed field
        let idx = c & 0x7f;
        if (idx === 0x7f) {
          // indices 127-254 (one continuation byte) inline: a busy table puts most entries there (intTail
          // calls were ~0.8 % of the tiny-GET profile, most of them for one continuation byte)
          if (p < end && b[p]! < 0x80) {
            idx += b[p++]!;
          } else {
            this.pos = p;
            idx = this.intTail(b, end, idx);
            p = this.pos;
          }
        }
        if (idx <= 0 || idx > maxIndex) return idx === 0 ? 'hpack: index 0' : `hpack: bad index ${idx}`;
        // The entry's size comes from a table of sizes (the ring's own `sizes`, which for an entry with a
        // known name is exactly name + value + 32): one load instead of reading both strings' lengths
        // through the tuple (measured ~1.5 % on the tiny-GET benchmark, best of 4 runs: 130 -> 132 MB/s).
        let t: Tuple | null;
        let z: number; // size × 2 + fact-name flag
        if (idx <= StaticTable.Count) {
          t = STATIC_TUPLES[idx]!;
          z = STATIC_SIZES[idx]!;
        } else {
          const d = this.slot(idx);
          t = d < 0 ? null : this.tuples[d]!;
          if (t === null) {
            (this.unknown ??= []).push(idx);
            continue;
          }
          z = this.sizes[d]!;
        }
        listBytes += z >> 1;
        if (listBytes > maxBytes || n >= maxCount) {
          this.truncated = true;
        } else {
          if (z & 1) noted |= n < Noted.Positions ? 1 << n : Noted.Rest;
          if (n < cap) out[n] = t;
          else out.push(t);
          n++;
        }
        continue;
      }
      if ((c & 0xe0) === 0x20) {
        // dynamic table size update
        let v = c & 0x1f;
        if (v === 0x1f) {
          this.pos = p;
          v = this.intTail(b, end, v);
          p = this.pos;
        }
        if (v < 0) return 'hpack: truncated integer';
        if (v > this.hardMax) return `hpack: table size ${v} over limit ${this.hardMax}`;
        this.maxSize = v;
        this.evict(0);
        continue;
      }
      // literal: with incremental indexing (01), without (0000) or never indexed (0001)
      const incr = (c & 0x40) !== 0;
      const mask = incr ? 0x3f : 0x0f;
      let idx = c & mask;
      if (idx === mask) {
        if (p < end && b[p]! < 0x80) {
          idx += b[p++]!; // one continuation byte, inline (as for indexed fields)
        } else {
          this.pos = p;
          idx = this.intTail(b, end, idx);
          p = this.pos;
        }
      }
      if (idx < 0 || idx > maxIndex) return idx < 0 ? 'hpack: truncated integer' : `hpack: bad index ${idx}`;
      let name: string | null;
      let fact: number; // 1 when the name is a fact name
      this.pos = p;
      if (idx === 0) {
        const n = this.str(b, end);
        if (n === undefined) return this.strError;
        name = n;
        fact = isFactName(name) ? 1 : 0;
      } else if (idx <= StaticTable.Count) {
        name = STATIC_NAMES[idx]!;
        fact = STATIC_SIZES[idx]! & 1;
      } else {
        const d = this.slot(idx);
        const t = d < 0 ? null : this.tuples[d]!;
        name = t === null ? null : t[0];
        fact = t === null ? 0 : this.sizes[d]! & 1;
        if (name === null) (this.unknown ??= []).push(idx);
      }
      const value = this.str(b, end);
      if (value === undefined) return this.strError;
      p = this.pos;
      let t: Tuple | null = null;
      if (name !== null) {
        t = [name, value]; // one tuple for the list and, when indexed, the table
        listBytes += name.length + value.length + 32;
        if (listBytes > maxBytes || n >= maxCount) {
          this.truncated = true;
        } else {
          if (fact) noted |= n < Noted.Positions ? 1 << n : Noted.Rest;
          if (n < cap) out[n] = t;
          else out.push(t);
          n++;
        }
      }
      if (incr) this.insert(t, value.length + (name === null ? 0 : name.length) + 32, fact);
    }
    this.noted = noted;
    this.listLen = n;
    return undefined;
  }

  /**
   * A string literal (RFC 7541 §5.2) from this.pos, returned; undefined on an error (said in this.strError).
   * The text is returned rather than kept on the decoder: the decoder is an old-generation object, and every
   * store of a new string into it went through the write barrier's slow path (three per request/response
   * pair of the tiny-GET benchmark).
   */
  private str(b: Buffer, end: number): string | undefined {
    if (this.pos >= end) return this.fail('hpack: truncated string');
    const c = b[this.pos++]!;
    let len = c & 0x7f;
    if (len === 0x7f) len = this.intTail(b, end, len);
    if (len < 0) return this.fail('hpack: truncated string length');
    const s = this.pos;
    if (s + len > end) return this.fail('hpack: truncated string');
    this.pos = s + len;
    if (c & 0x80) {
      if (len >= LONG_LITERAL && len <= LONG_LITERAL_MAX) return this.longHuffman(b, s, len);
      const t = huffmanDecode(b, s, s + len);
      return t === undefined ? this.fail('hpack: invalid Huffman code') : t;
    }
    return latin1(b, s, s + len);
  }

  private fail(reason: string): undefined {
    this.strError = reason;
    return undefined;
  }

  /**
   * A long Huffman literal b[s, s + len), through a one-entry cache of the last one decoded: a value sent on
   * every request without indexing (a bearer token or a cookie, which encoders send never-indexed) is then
   * compared (memcmp) instead of decoded (~5 ns per byte). The cache holds its own copy of the bytes (the
   * chunk may be reused) and is replaced at each miss.
   */
  private longHuffman(b: Buffer, s: number, len: number): string | undefined {
    const last = this.lastEnc;
    if (last !== undefined && last.length === len && b.compare(last, 0, len, s, s + len) === 0) return this.lastText;
    const t = huffmanDecode(b, s, s + len);
    if (t === undefined) return this.fail('hpack: invalid Huffman code');
    const copy = new Uint8Array(len); // own memory, not a slice of Buffer's shared pool
    copy.set(b.subarray(s, s + len));
    this.lastEnc = copy;
    this.lastText = t;
    return t;
  }

  /**
   * A new entry of `sz` octets (`fact`: 1 when its name is a fact name); with an unknown name (null) it takes
   * a slot sized by its value alone, and is never shown.
   */
  private insert(t: Tuple | null, sz: number, fact: number): void {
    const max = this.maxSize;
    if (sz > max) {
      // RFC 7541 §4.4: an entry larger than the table empties it and is not added
      this.evict(max + 1);
      return;
    }
    // evict(sz), written out with the fields in locals: a full table evicts on nearly every insert, and
    // evict() was a call of its own from here (~2 % of the tiny-GET profile)
    const sizes = this.sizes;
    const mask = sizes.length - 1;
    let first = this.first;
    let count = this.count;
    let size = this.size;
    while (size + sz > max && count > 0) {
      size -= sizes[first]! >> 1;
      this.tuples[first] = null;
      first = (first + 1) & mask;
      count--;
    }
    this.first = first;
    this.count = count;
    this.size = count === 0 ? 0 : size;
    if (count === sizes.length) this.grow();
    const i = (this.first + this.count) & (this.sizes.length - 1);
    this.tuples[i] = t;
    this.sizes[i] = sz * 2 + fact;
    this.count++;
    this.size += sz;
  }

  /** Evict oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    const mask = this.sizes.length - 1;
    while (this.size + room > this.maxSize && this.count > 0) {
      const i = this.first;
      this.size -= this.sizes[i]! >> 1;
      this.tuples[i] = null;
      this.first = (i + 1) & mask;
      this.count--;
    }
    if (this.count === 0) this.size = 0;
  }

  /** Double the ring, entries in order from slot 0. */
  private grow(): void {
    const cap = this.sizes.length;
    const tuples = new Array<Tuple | null>(cap * 2).fill(null);
    const sizes = new Array<number>(cap * 2).fill(0);
    for (let k = 0; k < this.count; k++) {
      const i = (this.first + k) & (cap - 1);
      tuples[k] = this.tuples[i]!;
      sizes[k] = this.sizes[i]!;
    }
    this.tuples = tuples;
    this.sizes = sizes;
    this.first = 0;
  }
}

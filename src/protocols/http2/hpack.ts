/**
 * HPACK decoder (RFC 7541) with a dynamic table that lives as long as its connection direction — one per
 * direction, fed every header block in order (HEADERS, CONTINUATION, PUSH_PROMISE), which is what eCapture
 * loses between events (#744). Hand-written: no maintained npm decoder exposes this state (see huffman.ts).
 *
 * Robust to captures that start mid-connection: a reference to a dynamic entry we never saw is counted and
 * the field left out (with a note) instead of failing the block; later indices stay aligned because literal
 * insertions with an unknown name still take a table slot. A malformed block (bad integer, truncated string,
 * invalid Huffman) is an error: the table may have lost sync, so the caller stops trusting the connection.
 */
import type { HeaderList } from '../types.js';
import { huffmanDecode } from './huffman.js';
import { STATIC_COUNT, STATIC_TABLE } from './static-table.js';

export interface HpackResult {
  error?: string;
  /** dynamic indices referring to entries from before the capture */
  unknownRefs?: number[];
  /** the decoded list exceeded the size or count limit; the rest was decoded (for table sync) but dropped */
  truncated?: boolean;
}

const UNKNOWN = null;

export class HpackDecoder {
  /** dynamic entries, oldest at `start`, newest at the end; name UNKNOWN when it came from an unknown index */
  private names: Array<string | null> = [];
  private values: string[] = [];
  private start = 0;
  private size = 0;
  /** current maximum set by the encoder (dynamic table size update); starts at the protocol default */
  maxSize = 4096;

  constructor(
    private readonly hardMax = 65536,
    initialMax = 4096,
  ) {
    this.maxSize = initialMax;
  }

  get entryCount(): number {
    return this.names.length - this.start;
  }

  get tableBytes(): number {
    return this.size;
  }

  /** Decode one whole header block into `out`. */
  decode(b: Buffer, out: HeaderList, maxBytes: number, maxCount: number): HpackResult {
    const res: HpackResult = {};
    let pos = 0;
    let listBytes = 0;
    const end = b.length;
    const add = (name: string, value: string): void => {
      listBytes += name.length + value.length + 32;
      if (listBytes > maxBytes || out.length >= maxCount) res.truncated = true;
      else out.push([name, value]);
    };
    const unknown = (idx: number): void => {
      (res.unknownRefs ??= []).push(idx);
    };
    while (pos < end) {
      const c = b[pos]!;
      let prefix: number;
      let kind: 'indexed' | 'incr' | 'size' | 'literal';
      if (c & 0x80) (kind = 'indexed'), (prefix = 7);
      else if (c & 0x40) (kind = 'incr'), (prefix = 6);
      else if (c & 0x20) (kind = 'size'), (prefix = 5);
      else (kind = 'literal'), (prefix = 4);
      // integer with an N-bit prefix (RFC 7541 §5.1)
      const mask = (1 << prefix) - 1;
      let idx = c & mask;
      pos++;
      if (idx === mask) {
        let shift = 0;
        for (;;) {
          if (pos >= end) return { ...res, error: 'hpack: truncated integer' };
          const x = b[pos++]!;
          idx += (x & 0x7f) * 2 ** shift;
          shift += 7;
          if ((x & 0x80) === 0) break;
          if (shift > 28) return { ...res, error: 'hpack: integer too large' };
        }
      }
      if (kind === 'size') {
        if (idx > this.hardMax) return { ...res, error: `hpack: table size ${idx} over limit ${this.hardMax}` };
        this.maxSize = idx;
        this.evict(0);
        continue;
      }
      if (idx > STATIC_COUNT + this.hardMax / 32) return { ...res, error: `hpack: index ${idx} out of range` };
      if (kind === 'indexed') {
        if (idx === 0) return { ...res, error: 'hpack: index 0' };
        if (idx <= STATIC_COUNT) {
          const e = STATIC_TABLE[idx]!;
          add(e[0], e[1]);
        } else {
          const d = this.names.length - (idx - STATIC_COUNT);
          const name = d >= this.start ? this.names[d] : UNKNOWN;
          if (name === UNKNOWN || name === undefined) unknown(idx);
          else add(name, this.values[d]!);
        }
        continue;
      }
      // literal: name by index (idx > 0) or as a string, then the value string
      let name: string | null;
      if (idx === 0) {
        const s = this.readString(b, pos, end);
        if (typeof s === 'string') return { ...res, error: s };
        name = s.text;
        pos = s.next;
      } else if (idx <= STATIC_COUNT) {
        name = STATIC_TABLE[idx]![0];
      } else {
        const d = this.names.length - (idx - STATIC_COUNT);
        name = d >= this.start ? (this.names[d] ?? UNKNOWN) : UNKNOWN;
        if (name === UNKNOWN) unknown(idx);
      }
      const v = this.readString(b, pos, end);
      if (typeof v === 'string') return { ...res, error: v };
      pos = v.next;
      if (name !== UNKNOWN) add(name, v.text);
      if (kind === 'incr') this.insert(name, v.text);
    }
    return res;
  }

  private readString(b: Buffer, pos: number, end: number): { text: string; next: number } | string {
    if (pos >= end) return 'hpack: truncated string';
    const c = b[pos++]!;
    const huff = (c & 0x80) !== 0;
    let len = c & 0x7f;
    if (len === 0x7f) {
      let shift = 0;
      for (;;) {
        if (pos >= end) return 'hpack: truncated string length';
        const x = b[pos++]!;
        len += (x & 0x7f) * 2 ** shift;
        shift += 7;
        if ((x & 0x80) === 0) break;
        if (shift > 28) return 'hpack: string length too large';
      }
    }
    if (pos + len > end) return 'hpack: truncated string';
    const text = huff ? huffmanDecode(b, pos, pos + len) : b.toString('latin1', pos, pos + len);
    if (text === undefined) return 'hpack: invalid Huffman code';
    return { text, next: pos + len };
  }

  private insert(name: string | null, value: string): void {
    const sz = (name === null ? 0 : name.length) + value.length + 32;
    if (sz > this.maxSize) {
      // RFC 7541 §4.4: an entry larger than the table empties it and is not added
      this.evict(this.maxSize + 1);
      return;
    }
    this.evict(sz);
    this.names.push(name);
    this.values.push(value);
    this.size += sz;
  }

  /** Evict oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.start < this.names.length) {
      const n = this.names[this.start];
      this.size -= (n === null || n === undefined ? 0 : n.length) + this.values[this.start]!.length + 32;
      this.names[this.start] = null;
      this.values[this.start] = '';
      this.start++;
    }
    if (this.start === this.names.length) {
      this.names = [];
      this.values = [];
      this.start = 0;
      this.size = 0;
    } else if (this.start > 64 && this.start * 2 > this.names.length) {
      this.names = this.names.slice(this.start);
      this.values = this.values.slice(this.start);
      this.start = 0;
    }
  }
}

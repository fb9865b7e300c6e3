/**
 * Reassembly of the chunked texts of struct text_event (bpf/shell/text.bpf.h), shared by the four audit
 * modules (bash, zsh, mysqld, postgres). Pure code: no kernel, no I/O.
 *
 * The kernel sends one text (a command line, a query) as chunks with the same (pid, id, source, aux); each
 * says where its payload goes (chunk_off) and the last one carries EVF_LAST_CHUNK. Chunks of one text come
 * from one program run, so they arrive in order; a chunk lost in the kernel (ring buffer full) shows as a
 * hole, which marks the text `incomplete` (the bytes that did arrive are kept in order).
 *
 * Memory is bounded: a text keeps at most `maxTextBytes` (more is counted as cut), and at most
 * `maxPending` texts / `maxPendingBytes` bytes wait for their last chunk; past that the oldest is dropped.
 */
import { EventFlags, EventKind, TextEventLayout, decodeTextEvent, type TextEvent } from '../../gen/events.js';

export interface TextChunk {
  event: TextEvent;
  /** payload bytes of this chunk (a view into the sample) */
  bytes: Buffer;
  last: boolean;
  /** the kernel cut the text (longer than it sends, or unreadable) */
  truncated: boolean;
}

/** Decode one ring-buffer sample of the audit objects; undefined when short or not an audit event. */
export function decodeTextChunk(sample: Buffer): TextChunk | undefined {
  if (sample.length < TextEventLayout.PAYLOAD_OFFSET) return undefined;
  const kind = sample.readUInt32LE(0);
  if (kind !== EventKind.EVENT_SHELL && kind !== EventKind.EVENT_QUERY) return undefined;
  const event = decodeTextEvent(sample);
  if (!event) return undefined;
  const n = Math.min(event.payloadLen, sample.length - TextEventLayout.PAYLOAD_OFFSET);
  return {
    event,
    bytes: event.payload.subarray(0, Math.max(0, n)),
    last: (event.hdr.flags & EventFlags.EVF_LAST_CHUNK) !== 0,
    truncated: (event.hdr.flags & EventFlags.EVF_TRUNCATED) !== 0,
  };
}

export interface AssembledText {
  text: Buffer;
  /** the kernel cut it, or we did (maxTextBytes) */
  truncated: boolean;
  /** chunks were lost on the way (a hole between chunk offsets) */
  incomplete: boolean;
  /** bytes the text had as far as the chunks tell (chunk_off + payload of the last chunk) */
  length: number;
}

export interface TextLimits {
  maxTextBytes: number;
  maxPending: number;
  maxPendingBytes: number;
}

export const DEFAULT_TEXT_LIMITS: TextLimits = {
  maxTextBytes: 16 << 20,
  maxPending: 4096,
  maxPendingBytes: 64 << 20,
};

interface Pending {
  parts: Buffer[];
  bytes: number;
  /** next expected chunk_off */
  next: number;
  truncated: boolean;
  incomplete: boolean;
}

export class TextAssembler {
  private pending = new Map<string, Pending>();
  private pendingBytes = 0;
  /** texts dropped because of the limits */
  evicted = 0;

  constructor(private readonly limits: TextLimits = DEFAULT_TEXT_LIMITS) {}

  /**
   * Add a chunk of the text named `key`; returns the whole text on its last chunk. The chunk's bytes are
   * copied when the text spans several chunks (sample buffers are reused by the reader).
   */
  add(key: string, c: TextChunk): AssembledText | undefined {
    const off = c.event.chunkOff;
    let p = this.pending.get(key);
    if (!p && c.last && off === 0) {
      // the common case: a text in one chunk
      const cut = c.bytes.length > this.limits.maxTextBytes;
      return {
        text: Buffer.from(cut ? c.bytes.subarray(0, this.limits.maxTextBytes) : c.bytes),
        truncated: c.truncated || cut,
        incomplete: false,
        length: c.bytes.length,
      };
    }
    if (!p) {
      p = { parts: [], bytes: 0, next: 0, truncated: false, incomplete: off !== 0 };
      this.pending.set(key, p);
      this.evictIfNeeded(key);
    }
    if (off !== p.next) p.incomplete = true;
    const room = this.limits.maxTextBytes - p.bytes;
    if (room > 0 && c.bytes.length > 0) {
      const take = c.bytes.length > room ? c.bytes.subarray(0, room) : c.bytes;
      p.parts.push(Buffer.from(take));
      p.bytes += take.length;
      this.pendingBytes += take.length;
      if (take.length < c.bytes.length) p.truncated = true;
    } else if (c.bytes.length > 0) {
      p.truncated = true;
    }
    p.next = off + c.bytes.length;
    if (c.truncated) p.truncated = true;
    if (!c.last) {
      if (this.pendingBytes > this.limits.maxPendingBytes) this.evictIfNeeded(key);
      return undefined;
    }
    this.pending.delete(key);
    this.pendingBytes -= p.bytes;
    return { text: Buffer.concat(p.parts, p.bytes), truncated: p.truncated, incomplete: p.incomplete, length: p.next };
  }

  /** Forget texts whose key starts with `prefix` (e.g. a process that exited). */
  forget(prefix: string): void {
    for (const [k, p] of this.pending) {
      if (k.startsWith(prefix)) {
        this.pending.delete(k);
        this.pendingBytes -= p.bytes;
      }
    }
  }

  get size(): number {
    return this.pending.size;
  }

  private evictIfNeeded(keep: string): void {
    // Map iteration order is insertion order: the first entries are the oldest
    for (const [k, p] of this.pending) {
      if (this.pending.size <= this.limits.maxPending && this.pendingBytes <= this.limits.maxPendingBytes) return;
      if (k === keep) continue;
      this.pending.delete(k);
      this.pendingBytes -= p.bytes;
      this.evicted++;
    }
  }
}

/** A bounded map that forgets its oldest entries (insertion order) past `max`. */
export class BoundedMap<K, V> extends Map<K, V> {
  evicted = 0;
  constructor(private readonly max: number) {
    super();
  }
  override set(k: K, v: V): this {
    if (!this.has(k) && this.size >= this.max) {
      const oldest = this.keys().next();
      if (!oldest.done) {
        this.delete(oldest.value);
        this.evicted++;
      }
    }
    return super.set(k, v);
  }
}

/** Text of a captured byte string: UTF-8 when valid, else Latin-1 (every byte kept as one character). */
export function textOf(b: Buffer): string {
  const s = b.toString('utf8');
  return s.includes('\uFFFD') && !Buffer.from(s, 'utf8').equals(b) ? b.toString('latin1') : s;
}

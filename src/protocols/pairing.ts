/**
 * Request/response pairing. HTTP/1 answers requests in order on a connection (pipelining included), so a
 * FIFO pairs them; HTTP/2 pairs by stream id. A paired response gets `request` (method, target) and
 * `latencyNs` = response start − request end, when the request was complete before the response began.
 * Both tables are bounded; entries pushed out are counted in `dropped`.
 */
import { StreamMap } from './stream-map.js';
import type { HttpMessage } from './types.js';

export interface PendingRequest {
  method?: string;
  target?: string;
  /** wall-clock ns of the request's last byte, once the request is complete */
  endNs?: bigint;
  /** HTTP/1: lower-case Upgrade protocol the request asked for (with Connection: upgrade) */
  upgrade?: string;
  /** a final response head has been matched to it */
  answered?: boolean;
}

// The latency of a paired response, from two bigint timestamps without BigInt arithmetic: `Number(a - b)`
// allocates a BigInt and converts it through a runtime call (~19 ns against ~7 ns this way, measured; ~2 % of
// the tiny-GET HTTP/2 benchmark). Both timestamps go into a BigUint64Array and the difference is taken on
// their 32-bit halves as doubles, exact while it is below 2^53 ns (104 days), as Number(a - b) is.
const NS64 = new BigUint64Array(2);
const NS32 = new Uint32Array(NS64.buffer);
/** index of the low 32 bits of NS64[0] in NS32 (the platform's byte order) */
const LO = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
const HI = 1 - LO;

/** later − earlier in ns, as a number (both non-negative, later >= earlier). */
export function nsBetween(later: bigint, earlier: bigint): number {
  NS64[0] = later;
  NS64[1] = earlier;
  return (NS32[HI]! - NS32[2 + HI]!) * 4294967296 + (NS32[LO]! - NS32[2 + LO]!);
}

/**
 * The `request` a paired response shows: method and target of the request it answers, in one literal in
 * the usual case (both known), with only the known ones otherwise.
 */
export function requestOf(req: PendingRequest): { method?: string; target?: string } {
  const { method, target } = req;
  return method !== undefined && target !== undefined ? { method, target } : partialRequestOf(method, target);
}

function partialRequestOf(method: string | undefined, target: string | undefined): { method?: string; target?: string } {
  const r: { method?: string; target?: string } = {};
  if (method !== undefined) r.method = method;
  if (target !== undefined) r.target = target;
  return r;
}

export function pairResponse(resp: HttpMessage, req: PendingRequest | undefined, respStartNs: bigint): void {
  if (req === undefined) return;
  resp.request = requestOf(req);
  if (req.endNs !== undefined && respStartNs >= req.endNs) resp.latencyNs = nsBetween(respStartNs, req.endNs);
}

/** HTTP/1: oldest unanswered request first. */
export class FifoPairing {
  private q: PendingRequest[] = [];
  dropped = 0;
  constructor(private readonly max = 1024) {}

  open(req: PendingRequest): PendingRequest {
    this.q.push(req);
    if (this.q.length > this.max) {
      this.q.shift();
      this.dropped++;
    }
    return req;
  }

  /** The request the next response answers, without removing it (1xx responses do not consume it). */
  peek(): PendingRequest | undefined {
    return this.q[0];
  }

  /** Remove and return the request a final response answers. */
  take(): PendingRequest | undefined {
    return this.q.shift();
  }

  get size(): number {
    return this.q.length;
  }
}

/**
 * HTTP/2: requests by stream id, in insertion order (the oldest is dropped past `max`).
 *
 * Clients open streams with ever larger ids (RFC 9113 §5.1.1), so as long as every id opened was larger
 * than all before it, insertion order is id order: entries are then kept in a ring sorted by id, where
 * opening is an append, the usual in-order answer takes the oldest entry, and any other id is found by
 * binary search (an entry taken out of order leaves a hole, skipped once the oldest reaches it). The
 * first id that is not larger than every earlier one (pushed streams' even ids among a client's odd
 * ones, an id used again) moves the entries into a StreamMap for good. The ring saved ~40 ns per
 * request/response pair over StreamMap's hashing, order log and backward-shift deletion (measured on
 * the tiny-GET benchmark); both behave as one insertion-ordered map.
 */
export class StreamPairing {
  /** the general form, once ids stopped arriving in increasing order (null while the ring is used) */
  private m: StreamMap<PendingRequest> | null = null;
  /** the ring: ids[i] and reqs[i] for i in [head, tail), ids increasing; reqs[i] undefined once taken */
  private ids: number[] = [];
  private reqs: Array<PendingRequest | undefined> = objectArray();
  private head = 0;
  /** no key ever opened is larger */
  private maxId = -1;
  private live = 0;
  dropped = 0;
  constructor(private readonly max = 1024) {}

  open(streamId: number, req: PendingRequest): PendingRequest {
    if (this.m === null) {
      if (streamId > this.maxId) {
        this.ids.push(streamId);
        this.reqs.push(req);
        this.maxId = streamId;
        this.live++;
        if (this.live > this.max) {
          this.dropOldest();
          this.dropped++;
        }
        return req;
      }
      const i = this.find(streamId);
      if (i >= 0) return merge(this.reqs[i]!, req);
      this.toMap();
    }
    const m = this.m!;
    const old = streamId > this.maxId ? undefined : m.get(streamId);
    if (old !== undefined) return merge(old, req);
    m.set(streamId, req);
    if (streamId > this.maxId) this.maxId = streamId;
    if (m.size > this.max) {
      m.delete(m.firstKey()!);
      this.dropped++;
    }
    return req;
  }

  get(streamId: number): PendingRequest | undefined {
    if (this.m !== null) return this.m.get(streamId);
    const i = this.find(streamId);
    return i < 0 ? undefined : this.reqs[i];
  }

  take(streamId: number): PendingRequest | undefined {
    if (this.m !== null) {
      const r = this.m.get(streamId);
      if (r !== undefined) this.m.delete(streamId);
      return r;
    }
    const i = this.find(streamId);
    if (i < 0) return undefined;
    const r = this.reqs[i]!;
    this.reqs[i] = undefined;
    this.live--;
    if (i === this.head) this.skipHoles();
    else if (this.ids.length - this.head > 2 * this.live + 64) this.compact();
    return r;
  }

  get size(): number {
    return this.m === null ? this.live : this.m.size;
  }

  /** Ring index of a live entry for `id`, or -1 (the oldest first: the usual answer; else binary search). */
  private find(id: number): number {
    const ids = this.ids;
    let lo = this.head;
    let hi = ids.length - 1;
    if (lo > hi || id > ids[hi]! || id < ids[lo]!) return -1;
    if (ids[lo] === id) return this.reqs[lo] === undefined ? -1 : lo;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid]!;
      if (v === id) return this.reqs[mid] === undefined ? -1 : mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private dropOldest(): void {
    this.reqs[this.head] = undefined;
    this.live--;
    this.skipHoles();
  }

  /** Move `head` past taken entries; an empty ring starts again from index 0. */
  private skipHoles(): void {
    const reqs = this.reqs;
    let h = this.head;
    while (h < reqs.length && reqs[h] === undefined) h++;
    if (h === reqs.length) {
      this.ids.length = 0;
      this.reqs.length = 0;
      this.head = 0;
    } else if (h >= 1024 && h * 2 >= reqs.length) {
      this.head = h;
      this.compact();
    } else {
      this.head = h;
    }
  }

  /** Keep only the live entries, from index 0 (bounds the ring by about twice the live entries). */
  private compact(): void {
    const ids: number[] = [];
    const reqs: Array<PendingRequest | undefined> = objectArray();
    for (let i = this.head; i < this.ids.length; i++) {
      const r = this.reqs[i];
      if (r !== undefined) {
        ids.push(this.ids[i]!);
        reqs.push(r);
      }
    }
    this.ids = ids;
    this.reqs = reqs;
    this.head = 0;
  }

  /** Entries into a StreamMap, in order (ids no longer arrive in increasing order). */
  private toMap(): void {
    const m = new StreamMap<PendingRequest>();
    for (let i = this.head; i < this.ids.length; i++) {
      const r = this.reqs[i];
      if (r !== undefined) m.set(this.ids[i]!, r);
    }
    this.m = m;
    this.ids = [];
    this.reqs = objectArray();
    this.head = 0;
    this.live = 0;
  }
}

/**
 * An empty array whose elements kind already holds objects. An array made by `[]` holds small integers
 * until its first object is pushed; push sites that saw both kinds were not inlined by TurboFan (a call to
 * the Array.prototype.push builtin per request, ~1 % of the tiny-GET profile).
 */
function objectArray<T>(): T[] {
  const a: T[] = [undefined as T];
  a.pop();
  return a;
}

/** A request opened again on a stream that has one: the new method and target replace the old ones. */
function merge(old: PendingRequest, req: PendingRequest): PendingRequest {
  if (req.method !== undefined) old.method = req.method;
  if (req.target !== undefined) old.target = req.target;
  return old;
}

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

export function pairResponse(resp: HttpMessage, req: PendingRequest | undefined, respStartNs: bigint): void {
  if (req === undefined) return;
  const { method, target } = req;
  let r: { method?: string; target?: string };
  if (method !== undefined && target !== undefined) {
    r = { method, target }; // the usual case, in one literal
  } else {
    r = {};
    if (method !== undefined) r.method = method;
    if (target !== undefined) r.target = target;
  }
  resp.request = r;
  if (req.endNs !== undefined && respStartNs >= req.endNs) resp.latencyNs = Number(respStartNs - req.endNs);
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
 * HTTP/2: requests by stream id. Two shortcuts save lookups on the per-stream path: ids of new streams
 * only grow, so opening an id above every id seen needs no lookup; and the entry opened last is kept at
 * hand, since a request without a body is looked up again as soon as its head is decoded.
 */
export class StreamPairing {
  private m = new StreamMap<PendingRequest>();
  /** no key of m is larger */
  private maxId = -1;
  /** m.get(lastId) is always `last` (undefined once that entry is removed) */
  private lastId = -1;
  private last: PendingRequest | undefined;
  dropped = 0;
  constructor(private readonly max = 1024) {}

  open(streamId: number, req: PendingRequest): PendingRequest {
    const old = streamId > this.maxId ? undefined : this.get(streamId);
    if (old !== undefined) {
      if (req.method !== undefined) old.method = req.method;
      if (req.target !== undefined) old.target = req.target;
      return old;
    }
    this.m.set(streamId, req);
    if (streamId > this.maxId) this.maxId = streamId;
    this.lastId = streamId;
    this.last = req;
    if (this.m.size > this.max) {
      const first = this.m.firstKey()!;
      this.m.delete(first);
      if (first === this.lastId) this.last = undefined;
      this.dropped++;
    }
    return req;
  }

  get(streamId: number): PendingRequest | undefined {
    return streamId === this.lastId ? this.last : this.m.get(streamId);
  }

  take(streamId: number): PendingRequest | undefined {
    const r = this.get(streamId);
    if (r !== undefined) {
      this.m.delete(streamId);
      if (streamId === this.lastId) this.last = undefined;
    }
    return r;
  }

  get size(): number {
    return this.m.size;
  }
}

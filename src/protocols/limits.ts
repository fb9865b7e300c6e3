/**
 * Size limits of the protocol parsers, and the memory budget they draw kept bytes from.
 *
 * Two kinds of bound keep a parser's memory finite whatever bytes it is fed:
 *  - fixed per-state bounds (a header block, a chunk-size line, one HTTP/2 header block, the HPACK table),
 *    checked before anything is buffered; exceeding one is a parse error (the connection falls back to raw);
 *  - kept body bytes (message bodies, gRPC messages, WebSocket payloads) drawn from a MemBudget shared by the
 *    connection and, through its parent, by all connections; when the budget says no, the bytes are counted as
 *    truncated instead of kept. Nothing is ever thrown.
 */

export interface Limits {
  /** HTTP/1 start line + header block; one HTTP/2 header block (HEADERS + CONTINUATION) and its decoded list. Default 64 KiB. */
  maxHeaderBytes: number;
  /** Header fields per message. Default 256. */
  maxHeaderCount: number;
  /** Body bytes kept per message, as transferred (after chunked / DATA framing). Default 1 MiB. */
  maxBodyBytes: number;
  /** Output of content decoding (gzip, deflate, br) per body: decompression-bomb bound. Default 4 MiB. */
  maxDecodedBytes: number;
  /** A chunked-encoding size line, extensions included. Default 1 KiB. */
  maxChunkLineBytes: number;
  /** HTTP/2 streams being assembled per direction; beyond it the oldest is flushed as incomplete. Default 128. */
  maxStreams: number;
  /** HPACK dynamic table size (RFC 7541 §4.1 accounting) a peer may announce. Default 64 KiB. */
  maxHpackTableBytes: number;
  /** gRPC messages kept per body (more are counted). Default 64. */
  maxGrpcMessages: number;
  /** HTTP/2 non-DATA, non-header frames kept whole (SETTINGS, GOAWAY debug data...). Default 16 KiB. */
  maxControlFrameBytes: number;
  /** Bytes buffered to decide the protocol of a new connection. Default 4 KiB. */
  maxDetectBytes: number;
  /** After a connection was found unknown, how many later chunks are tried as a message start. Default 8. */
  redetectChunks: number;
  /** Which HTTP/2 connection-level frames become messages: 'none', 'important' (SETTINGS, GOAWAY), 'all'. */
  h2Control: 'none' | 'important' | 'all';
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxHeaderBytes: 64 * 1024,
  maxHeaderCount: 256,
  maxBodyBytes: 1024 * 1024,
  maxDecodedBytes: 4 * 1024 * 1024,
  maxChunkLineBytes: 1024,
  maxStreams: 128,
  maxHpackTableBytes: 64 * 1024,
  maxGrpcMessages: 64,
  maxControlFrameBytes: 16 * 1024,
  maxDetectBytes: 4096,
  redetectChunks: 8,
  h2Control: 'important',
});

export function makeLimits(over: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, ...over };
}

/**
 * A byte budget: a connection's budget has the tracker-wide budget as parent, so taking bytes succeeds only
 * when both have room. `hits` counts refusals (shown in stats and as notices).
 */
export class MemBudget {
  used = 0;
  hits = 0;
  constructor(
    public limit: number,
    readonly parent?: MemBudget,
  ) {}

  tryTake(n: number): boolean {
    if (n <= 0) return true;
    if (this.used + n > this.limit) {
      this.hits++;
      return false;
    }
    if (this.parent && !this.parent.tryTake(n)) {
      this.hits++;
      return false;
    }
    this.used += n;
    return true;
  }

  /** Bytes that can still be taken (here and in the parent). */
  room(): number {
    const own = Math.max(0, this.limit - this.used);
    return this.parent ? Math.min(own, this.parent.room()) : own;
  }

  release(n: number): void {
    if (n <= 0) return;
    const r = Math.min(n, this.used);
    this.used -= r;
    this.parent?.release(r);
  }

  /** Give everything back (connection closed). */
  releaseAll(): void {
    this.release(this.used);
  }
}

/** A budget with no limit, for tests and standalone parsing. */
export function unlimitedBudget(): MemBudget {
  return new MemBudget(Number.MAX_SAFE_INTEGER);
}

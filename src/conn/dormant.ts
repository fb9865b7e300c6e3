/**
 * What the tracker remembers of connections it closed itself (idle timeout, eviction): their stream
 * positions and, for HTTP/2, their HPACK tables. Such a connection may well live on (browsers keep HTTP/2
 * connections open for minutes); when it sends again it comes back as a new tracked connection that
 *  - continues at the right stream positions, instead of reporting everything before as lost, and
 *  - decodes header blocks with the tables it had; without them every later header block would be
 *    undecodable, which is eCapture's #744.
 * Bounded by a count and by HPACK table bytes (the least recently stored goes first); keyed by pid,
 * connection id and fd; a real close drops the entry.
 */
import type { Direction } from '../model/records.js';
import type { H2State } from '../protocols/connection.js';

export interface DormantConn {
  next: Record<Direction, number>;
  h2?: H2State;
}

export class DormantConns {
  private readonly m = new Map<string, { conn: DormantConn; bytes: number }>();
  private total = 0;
  saved = 0;
  resumed = 0;
  dropped = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxH2Bytes: number,
  ) {}

  get size(): number {
    return this.m.size;
  }

  /** HPACK table bytes held */
  get bytes(): number {
    return this.total;
  }

  put(key: string, conn: DormantConn): void {
    this.drop(key);
    if (this.maxEntries <= 0) return;
    let bytes = conn.h2 ? conn.h2.hpack.write.tableBytes + conn.h2.hpack.read.tableBytes + 512 : 0;
    if (bytes > this.maxH2Bytes) {
      delete conn.h2;
      bytes = 0;
    }
    this.m.set(key, { conn, bytes });
    this.total += bytes;
    this.saved++;
    while (this.m.size > this.maxEntries || this.total > this.maxH2Bytes) {
      const [k, v] = this.m.entries().next().value as [string, { bytes: number }];
      this.m.delete(k);
      this.total -= v.bytes;
      this.dropped++;
    }
  }

  take(key: string): DormantConn | undefined {
    const e = this.m.get(key);
    if (!e) return undefined;
    this.m.delete(key);
    this.total -= e.bytes;
    this.resumed++;
    return e.conn;
  }

  drop(key: string): void {
    const e = this.m.get(key);
    if (!e) return;
    this.m.delete(key);
    this.total -= e.bytes;
  }
}

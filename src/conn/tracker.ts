/**
 * ConnTracker: groups data events per connection and direction, puts them in stream order, runs the
 * protocol layer on them, and closes connections on close events, idle timeout, LRU eviction or shutdown.
 *
 *   push(rec)  → records to output now (L7Records, raw DataRecords, GapRecords, notices, closes)
 *   tick(now)  → idle closes and reorder timeouts (the tracker has no timers: the caller ticks it)
 *   flush()    → everything pending (end of capture)
 *
 * A connection is pid + connId; a new fd or tuple under the same key is a new connection (SSL* reuse).
 * Each direction is ordered by seq (reorder.ts); a hole that stays open becomes a GapRecord and a gap for
 * the parser. Data of unknown protocols passes through as the original DataRecords. DataRecord payloads
 * may be views into a reused batch buffer: the tracker copies only chunks it holds for reordering, parsers
 * copy only the bytes they keep, and what a parser remembers of a record (its tag) carries no payload.
 */
import type { CaptureRecord, ConnCloseRecord, ConnTuple, DataRecord, Direction, GapRecord, NoticeRecord } from '../model/records.js';
import { ConnParser, type ConnEvent, type H2State } from '../protocols/connection.js';
import { MemBudget } from '../protocols/limits.js';
import { newParserCounters, type ParserCounters } from '../protocols/parser.js';
import { makeTrackerConfig, type TrackerConfig, type TrackerOptions } from './config.js';
import { DormantConns } from './dormant.js';
import { closeRecord, gapRecord, l7Record, noticeRecord, tagOf, type Tag } from './records.js';
import { itemLength, SeqOrder, type OrderItem, type Released } from './reorder.js';

export interface TrackerCounters {
  connsOpened: number;
  connsClosed: number;
  idleClosed: number;
  evicted: number;
  /** same pid+connId seen with another fd or tuple */
  connReused: number;
  dataRecords: number;
  dataBytes: number;
  l7Records: number;
  rawRecords: number;
  /** holes in a stream (inferred from seq, or announced by the kernel) and their bytes */
  gaps: number;
  gapBytes: number;
  dupBytes: number;
  reorderHeld: number;
  reorderForced: number;
  /** kept bytes refused by a connection or the total budget */
  connLimitHits: number;
  totalLimitHits: number;
  parseFallbacks: number;
}

interface Conn {
  key: string;
  pid: number;
  connId: string;
  /** activity order (least recently active first): an intrusive list, see ConnTracker.touch */
  prev: Conn | undefined;
  next: Conn | undefined;
  fd: number;
  tuple: ConnTuple | undefined;
  last: Tag;
  lastSeen: bigint;
  order: Record<Direction, SeqOrder>;
  parser: ConnParser<Tag> | undefined;
  budget: MemBudget;
  bytes: Record<Direction, number>;
  hitsSeen: number;
  /** HPACK tables from before an idle close of this same connection */
  resume: H2State | undefined;
}

const DIRS: readonly Direction[] = ['write', 'read'];

function sameTuple(a: ConnTuple, b: ConnTuple): boolean {
  return a.family === b.family && a.local.port === b.local.port && a.remote.port === b.remote.port && a.local.addr === b.local.addr && a.remote.addr === b.remote.addr;
}

function copyItem(i: OrderItem): OrderItem {
  return i.type === 'data' ? { ...i, payload: Buffer.from(i.payload) } : i;
}

export class ConnTracker {
  readonly config: TrackerConfig;
  readonly counters: TrackerCounters = {
    connsOpened: 0, connsClosed: 0, idleClosed: 0, evicted: 0, connReused: 0, dataRecords: 0, dataBytes: 0,
    l7Records: 0, rawRecords: 0, gaps: 0, gapBytes: 0, dupBytes: 0, reorderHeld: 0, reorderForced: 0,
    connLimitHits: 0, totalLimitHits: 0, parseFallbacks: 0,
  };
  readonly parserCounters: ParserCounters = newParserCounters();
  /**
   * Connections by pid, then connId. Two levels instead of one map keyed by `${pid}/${connId}`: the connId
   * strings come from the probes' per-connection caches (their hash is computed once), so a lookup per event
   * builds no string. The activity order (for eviction, idle closes and shutdown) is the list head…tail;
   * moving a connection to the tail of a Map (delete + set) per event cost 11% of the parsed pipeline
   * benchmark (`npm run bench -- pipeline`).
   */
  private readonly conns = new Map<number, Map<string, Conn>>();
  private nConns = 0;
  private head: Conn | undefined;
  private tail: Conn | undefined;
  private readonly waiting = new Set<Conn>();
  private readonly total: MemBudget;
  private readonly dormant: DormantConns;
  private lastTick = 0n;
  private totalHitsSeen = 0;
  private out: CaptureRecord[] = [];
  /** the record being handed to a parser (raw events for it pass it through unchanged) */
  private current: DataRecord | undefined;
  /** the record whose tag is its connection's `last` (set by connFor for the record being pushed) */
  private tagRec: OrderItem | undefined;

  constructor(config: TrackerOptions = {}) {
    this.config = makeTrackerConfig(config);
    this.total = new MemBudget(this.config.maxTotalBytes);
    this.dormant = new DormantConns(this.config.dormantConns, this.config.dormantH2Bytes);
  }

  /** Connections currently tracked. */
  get size(): number {
    return this.nConns;
  }

  /** Bytes currently kept (reorder buffers and bodies being assembled) over all connections. */
  get keptBytes(): number {
    return this.total.used;
  }

  push(rec: CaptureRecord): CaptureRecord[] {
    this.out = [];
    if (rec.type === 'data' || rec.type === 'gap') this.onItem(rec);
    else if (rec.type === 'conn_close') this.onClose(rec);
    else this.out.push(rec);
    return this.out;
  }

  tick(nowNs: bigint): CaptureRecord[] {
    this.out = [];
    this.lastTick = nowNs;
    const wait = BigInt(this.config.reorderWaitMs) * 1_000_000n;
    for (const c of [...this.waiting]) {
      for (const d of DIRS) {
        const o = c.order[d];
        const ts = o.oldestTs();
        if (ts !== undefined && nowNs - ts > wait) {
          this.counters.reorderForced++;
          this.release(c, d, (rel) => o.forceAll(rel));
        }
      }
      if (c.order.write.pending.length + c.order.read.pending.length === 0) this.waiting.delete(c);
    }
    const idle = BigInt(this.config.idleTimeoutMs) * 1_000_000n;
    for (const c of this.byActivity()) {
      if (nowNs - c.lastSeen > idle) {
        this.counters.idleClosed++;
        this.close(c, 'idle', undefined, nowNs);
      }
    }
    return this.out;
  }

  flush(): CaptureRecord[] {
    this.out = [];
    for (const c of this.byActivity()) this.close(c, 'shutdown', undefined, c.last.ts);
    return this.out;
  }

  stats(): Record<string, number> {
    return {
      conns: this.nConns,
      keptBytes: this.total.used,
      ...this.counters,
      dormantConns: this.dormant.size,
      dormantH2Bytes: this.dormant.bytes,
      dormantSaved: this.dormant.saved,
      dormantResumed: this.dormant.resumed,
      ...Object.fromEntries(Object.entries(this.parserCounters).map(([k, v]) => [`parser.${k}`, v])),
    };
  }

  private keyOf(rec: { who: { pid: number }; connId: string }): string {
    return `${rec.who.pid}/${rec.connId}`;
  }

  private lookup(pid: number, connId: string): Conn | undefined {
    return this.conns.get(pid)?.get(connId);
  }

  /** Connections, least recently active first (a copy: closing them changes the list). */
  private byActivity(): Conn[] {
    const out: Conn[] = [];
    for (let c = this.head; c; c = c.next) out.push(c);
    return out;
  }

  private unlink(c: Conn): void {
    if (c.prev) c.prev.next = c.next;
    else this.head = c.next;
    if (c.next) c.next.prev = c.prev;
    else this.tail = c.prev;
    c.prev = c.next = undefined;
  }

  private append(c: Conn): void {
    c.prev = this.tail;
    c.next = undefined;
    if (this.tail) this.tail.next = c;
    else this.head = c;
    this.tail = c;
  }

  private insert(c: Conn): void {
    let m = this.conns.get(c.pid);
    if (!m) this.conns.set(c.pid, (m = new Map()));
    m.set(c.connId, c);
    this.nConns++;
    this.append(c);
  }

  private remove(c: Conn): void {
    const m = this.conns.get(c.pid);
    if (m?.get(c.connId) !== c) return;
    m.delete(c.connId);
    if (m.size === 0) this.conns.delete(c.pid);
    this.nConns--;
    this.unlink(c);
  }

  private dormantKey(key: string, fd: number): string {
    return `${key}/${fd}`;
  }

  private connFor(rec: OrderItem): Conn {
    // (rec may be replaced by a copy with the known fd)
    const orig = rec;
    let c = this.lookup(rec.who.pid, rec.connId);
    // a connection seen before its socket was known (fd -1: e.g. the first read of a server whose handshake
    // left the request in the library's buffer) learns it now: same connection, not a new one
    if (c && c.fd < 0 && rec.fd >= 0) c.fd = rec.fd;
    else if (c && rec.fd < 0 && c.fd >= 0) rec = { ...rec, fd: c.fd };
    if (c && (c.fd !== rec.fd || (rec.tuple !== undefined && c.tuple !== undefined && !sameTuple(rec.tuple, c.tuple)))) {
      this.counters.connReused++;
      this.close(c, 'closed', undefined, rec.ts);
      c = undefined;
    }
    if (c) {
      if (c !== this.tail) {
        this.unlink(c);
        this.append(c);
      }
    } else {
      while (this.nConns >= this.config.maxConns) this.evictOne(rec.ts);
      const key = this.keyOf(rec);
      c = {
        key, pid: rec.who.pid, connId: rec.connId, prev: undefined, next: undefined, fd: rec.fd, tuple: rec.tuple, last: tagOf(rec), lastSeen: rec.ts, parser: undefined,
        order: { write: new SeqOrder(), read: new SeqOrder() },
        budget: new MemBudget(this.config.maxConnBytes, this.total), bytes: { write: 0, read: 0 }, hitsSeen: 0,
        resume: undefined,
      };
      const was = this.dormant.take(this.dormantKey(key, rec.fd));
      if (was) {
        c.order.write.next = was.next.write;
        c.order.read.next = was.next.read;
        c.resume = was.h2;
      }
      this.counters.connsOpened++;
      this.insert(c);
    }
    if (c.tuple === undefined && rec.tuple !== undefined) c.tuple = rec.tuple;
    c.last = tagOf(rec);
    // the parser gets the same tag when it gets this record unchanged (one tag per event, not two)
    this.tagRec = orig === rec ? rec : undefined;
    c.lastSeen = rec.ts > this.lastTick ? rec.ts : this.lastTick;
    return c;
  }

  private evictOne(ts: bigint): void {
    const first = this.head;
    if (!first) return;
    this.counters.evicted++;
    const n = this.counters.evicted;
    if (n === 1 || n % 1000 === 0) this.notice(first, 'warn', `connection closed early: ${n} evicted so far (max-conns ${this.config.maxConns} reached)`);
    this.close(first, 'limit', undefined, ts);
  }

  private onItem(rec: DataRecord | GapRecord): void {
    try {
      this.onItemIn(this.connFor(rec), rec);
    } finally {
      this.tagRec = undefined;
    }
  }

  private onItemIn(c: Conn, rec: DataRecord | GapRecord): void {
    const o = c.order[rec.dir];
    if (rec.type === 'data') {
      this.counters.dataRecords++;
      this.counters.dataBytes += rec.payload.length;
    }
    if (o.takeInOrder(rec)) {
      // the usual event: in order, nothing held (no closure or array per event)
      this.deliver(c, rec.dir, rec);
      return;
    }
    if (!o.wouldHold(rec)) {
      this.release(c, rec.dir, (rel) => o.push(rec, rel));
      return;
    }
    const len = itemLength(rec);
    const cfg = this.config;
    if (o.pending.length < cfg.reorderMaxChunks && o.pendingBytes + len <= cfg.reorderMaxBytes && c.budget.tryTake(len)) {
      this.counters.reorderHeld++;
      o.push(copyItem(rec), []);
      this.waiting.add(c);
      return;
    }
    // window full or no memory: the holes before this item are lost
    this.counters.reorderForced++;
    this.release(c, rec.dir, (rel) => {
      o.forceAll(rel, rec.seq);
      o.push(rec, rel);
    });
  }

  private onClose(rec: ConnCloseRecord): void {
    const c = this.lookup(rec.who.pid, rec.connId);
    if (c && c.fd === rec.fd) this.close(c, 'closed', rec, rec.ts);
    this.dormant.drop(this.dormantKey(this.keyOf(rec), rec.fd));
    this.out.push(rec);
  }

  /** Run an ordering step and deliver what it released; keeps the budget in step with pending bytes. */
  private release(c: Conn, dir: Direction, step: (rel: Released[]) => void): void {
    const o = c.order[dir];
    const before = o.pendingBytes;
    const dup = o.dupBytes;
    const rel: Released[] = [];
    step(rel);
    if (o.pendingBytes < before) c.budget.release(before - o.pendingBytes);
    this.counters.dupBytes += o.dupBytes - dup;
    for (const r of rel) this.deliver(c, dir, r);
  }

  private deliver(c: Conn, dir: Direction, r: Released): void {
    if (r.type === 'jump' || r.type === 'gap') {
      const gap = r.type === 'gap' ? r : gapRecord(c.last, dir, c.fd, c.tuple, r.seq, r.lost);
      this.counters.gaps++;
      this.counters.gapBytes += gap.lostBytes;
      c.bytes[dir] += gap.lostBytes;
      this.out.push(gap);
      if (c.parser && !c.parser.passthrough) {
        c.parser.gap(dir, gap.lostBytes, gap);
        this.drain(c);
      }
      return;
    }
    c.bytes[dir] += r.payload.length;
    if (!this.config.parse || c.parser?.passthrough) {
      this.counters.rawRecords++;
      this.out.push(r);
      return;
    }
    c.parser ??= new ConnParser<Tag>({
      limits: this.config.limits, budget: c.budget, counters: this.parserCounters, timeOf: (t) => t.ts,
      ...(c.resume ? { h2Resume: c.resume } : {}),
    });
    this.current = r;
    c.parser.push(dir, r.payload, r === this.tagRec ? c.last : tagOf(r));
    this.drain(c);
    this.current = undefined;
  }

  private drain(c: Conn): void {
    for (const e of c.parser!.drain()) this.onEvent(c, e);
    if (c.budget.hits > c.hitsSeen) {
      const totalHits = this.total.hits - this.totalHitsSeen;
      const hits = c.budget.hits - c.hitsSeen;
      if (c.hitsSeen === 0) {
        const which = totalHits > 0 ? `total memory limit (${this.config.maxTotalBytes} bytes)` : `per-connection memory limit (${this.config.maxConnBytes} bytes)`;
        this.notice(c, 'warn', `${which} reached: body bytes beyond it are counted, not kept`);
      }
      this.counters.totalLimitHits += totalHits;
      this.counters.connLimitHits += Math.max(0, hits - totalHits);
      c.hitsSeen = c.budget.hits;
      this.totalHitsSeen = this.total.hits;
    }
  }

  private onEvent(c: Conn, e: ConnEvent<Tag>): void {
    switch (e.type) {
      case 'message':
        this.counters.l7Records++;
        this.out.push(l7Record(e.start, e.dir, e.msg, c.tuple));
        return;
      case 'raw': {
        this.counters.rawRecords++;
        const cur = this.current;
        if (cur && e.data === cur.payload) this.out.push(cur); // unchanged
        else if (e.tag.type === 'data') this.out.push({ ...e.tag, payload: e.data });
        return;
      }
      case 'error':
        this.counters.parseFallbacks++;
        this.notice(c, 'warn', `${e.protocol} parse error (${e.dir}): ${e.reason}; showing raw data`);
        return;
      default:
        return;
    }
  }

  private close(c: Conn, reason: ConnCloseRecord['reason'], probe: ConnCloseRecord | undefined, ts: bigint): void {
    for (const d of DIRS) {
      const o = c.order[d];
      const end = probe?.finalSeq?.[d];
      if (o.pending.length > 0 || (end !== undefined && end > o.next)) this.release(c, d, (rel) => o.forceAll(rel, end));
    }
    const h2 = reason === 'idle' || reason === 'limit' ? c.parser?.h2State() : undefined;
    if (c.parser) {
      c.parser.end();
      this.drain(c);
    }
    if (reason === 'idle' || reason === 'limit') {
      const next = { write: c.order.write.next, read: c.order.read.next };
      this.dormant.put(this.dormantKey(c.key, c.fd), h2 ? { next, h2 } : { next });
    }
    c.budget.releaseAll();
    this.remove(c);
    this.waiting.delete(c);
    this.counters.connsClosed++;
    if (!probe) this.out.push(closeRecord(c.last, c.fd, c.tuple, ts, reason, c.bytes));
  }

  private notice(c: Conn, level: NoticeRecord['level'], message: string): void {
    this.out.push(noticeRecord(c.last, c.fd, c.tuple, level, message));
  }
}

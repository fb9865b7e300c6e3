/**
 * One connection's protocol layer: detects the protocol from the first bytes of either direction, runs
 * the matching parser on both directions for the connection's life (switching on HTTP Upgrade / CONNECT),
 * and reports everything as events: messages, raw chunks (unknown protocol, or after a parse error), errors
 * and detections. Pure: no I/O, no timers, no logging; nothing thrown to the caller.
 */
import type { Direction } from '../model/records.js';
import { detect, type Detected } from './detect.js';
import { H2Conn } from './http2/conn.js';
import type { HpackDecoder } from './http2/hpack.js';
import type { Http2Parser } from './http2/parser.js';
import { Http1Conn } from './http1/conn.js';
import type { SwitchTarget } from './http1/parser.js';
import type { Limits, MemBudget } from './limits.js';
import type { PendingRequest } from './pairing.js';
import { newParserCounters, type DirParser, type MessageSink, type ParserCounters } from './parser.js';
import type { ConnProtocol, L7Message } from './types.js';
import { WebSocketParser } from './websocket/parser.js';

export type ConnEvent<T> =
  | { type: 'message'; dir: Direction; msg: L7Message; start: T; end: T }
  /** show these bytes raw: `data` is the chunk pushed with `tag` (the same Buffer, or a copy when it was held) */
  | { type: 'raw'; dir: Direction; tag: T; data: Buffer }
  | { type: 'error'; dir: Direction; protocol: ConnProtocol; reason: string }
  | { type: 'detected'; protocol: ConnProtocol };

export interface ConnParserOptions<T> {
  limits: Limits;
  budget: MemBudget;
  timeOf(tag: T): bigint;
  /** counters to add to (the tracker shares one object across connections); a fresh one if absent */
  counters?: ParserCounters;
  /** HPACK state of this connection from before an idle close (see `h2State`) */
  h2Resume?: H2State;
}

/** What an HTTP/2 connection needs to go on after its parsers were ended: the HPACK tables, per direction. */
export interface H2State {
  hpack: Record<Direction, HpackDecoder>;
}

/**
 * drain()'s answer when there is nothing: one shared array, never written to. Not frozen: a frozen array
 * has an elements kind of its own, and a caller's for-of over drain() that sees both kinds is no longer
 * inlined by TurboFan (a call to the array iterator's next() per event, seen in the benchmark's code).
 */
const NONE: readonly never[] = [];

const other = (d: Direction): Direction => (d === 'write' ? 'read' : 'write');

/** Messages of one direction into the connection's event list. */
class DirSink<T> implements MessageSink<T> {
  constructor(
    private readonly events: { push(e: ConnEvent<T>): void },
    private readonly dir: Direction,
  ) {}
  message(msg: L7Message, start: T, end: T): void {
    this.events.push({ type: 'message', dir: this.dir, msg, start, end });
  }
}

/** Bytes after HTTP CONNECT (or an unknown 101 upgrade): shown as raw messages, chunk by chunk. */
class TunnelParser<T> implements DirParser<T> {
  readonly error = undefined;
  constructor(private readonly sink: MessageSink<T>) {}
  push(chunk: Buffer, tag: T): void {
    this.sink.message({ protocol: 'raw', kind: 'data', payload: chunk }, tag, tag);
  }
  gap(): void {}
  end(): void {}
  queued(): number {
    return 0;
  }
}

export class ConnParser<T> {
  protocol: ConnProtocol = 'unknown';
  readonly counters: ParserCounters;
  private mode: 'detect' | 'parse' | 'raw' = 'detect';
  private parsers: Partial<Record<Direction, DirParser<T>>> = {};
  private held: Array<{ dir: Direction; chunk: Buffer; tag: T }> = [];
  private heldBytes: Record<Direction, number> = { write: 0, read: 0 };
  private redetectLeft = 0;
  private readonly events: ConnEvent<T>[] = [];
  private readonly sinks: Record<Direction, MessageSink<T>>;

  constructor(private readonly opts: ConnParserOptions<T>) {
    this.counters = opts.counters ?? newParserCounters();
    this.sinks = { write: new DirSink(this.events, 'write'), read: new DirSink(this.events, 'read') };
  }

  /** Events produced since the last drain, in order (read-only: an empty answer is shared). */
  drain(): readonly ConnEvent<T>[] {
    const n = this.events.length;
    if (n === 0) return NONE;
    // one event (a message per chunk, the usual case): pop, not slice + `length = 0` (a runtime call)
    if (n === 1) return [this.events.pop()!];
    const e = this.events.slice();
    this.events.length = 0;
    return e;
  }

  /** Raw for good (unknown or TLS protocol, no re-detection left): chunks need not be pushed at all. */
  get passthrough(): boolean {
    return this.mode === 'raw' && this.redetectLeft === 0;
  }

  /** The HPACK tables of a working HTTP/2 connection, to keep across an idle close. */
  h2State(): H2State | undefined {
    if (this.protocol !== 'http2' || this.mode !== 'parse') return undefined;
    const w = this.parsers.write as Http2Parser<T> | undefined;
    const r = this.parsers.read as Http2Parser<T> | undefined;
    if (!w?.hpack || !r?.hpack) return undefined;
    return { hpack: { write: w.hpack, read: r.hpack } };
  }

  /** Bytes held for detection plus bytes the parsers buffer (memory checks in tests). */
  queuedBytes(): number {
    return this.heldBytes.write + this.heldBytes.read + (this.parsers.write?.queued() ?? 0) + (this.parsers.read?.queued() ?? 0);
  }

  /** 'parse' while a parser runs, 'raw' when the connection is shown raw, 'detect' before we know. */
  get state(): 'detect' | 'parse' | 'raw' {
    return this.mode;
  }

  push(dir: Direction, chunk: Buffer, tag: T): void {
    if (chunk.length === 0) return;
    if (this.mode === 'detect') {
      this.held.push({ dir, chunk: Buffer.from(chunk), tag }); // held past this call: copy
      this.heldBytes[dir] += chunk.length;
      const max = this.opts.limits.maxDetectBytes;
      const d = detect(this.heldPrefix(dir, max), this.heldBytes[dir] >= max, this.opts.h2Resume !== undefined);
      if (d !== 'more') this.decide(d, dir);
      return;
    }
    this.feed(dir, chunk, tag);
  }

  gap(dir: Direction, n: number, tag: T): void {
    if (this.mode === 'detect') this.decideNow(dir);
    if (this.mode !== 'parse') return;
    const p = this.parsers[dir];
    if (!p) return;
    this.guard(dir, () => p.gap(n, tag), undefined);
  }

  end(): void {
    if (this.mode === 'detect') this.decideNow(this.held[0]?.dir ?? 'write');
    if (this.mode !== 'parse') return;
    for (const dir of ['write', 'read'] as const) {
      const p = this.parsers[dir];
      if (p) this.guard(dir, () => p.end(), undefined);
    }
    this.parsers = {};
    this.mode = 'raw';
    this.redetectLeft = 0;
  }

  private heldPrefix(dir: Direction, max: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    for (const h of this.held) {
      if (h.dir !== dir) continue;
      parts.push(h.chunk);
      n += h.chunk.length;
      if (n >= max) break;
    }
    const b = parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
    return b.length > max ? b.subarray(0, max) : b;
  }

  private decideNow(dir: Direction): void {
    const d = detect(this.heldPrefix(dir, this.opts.limits.maxDetectBytes), true);
    this.decide(d === 'more' ? { protocol: 'unknown' } : d, dir);
  }

  private decide(d: Detected, dir: Direction): void {
    if (!this.start(d, dir)) {
      this.mode = 'raw';
      this.protocol = d.protocol === 'tls' ? 'tls' : 'unknown';
      this.redetectLeft = d.protocol === 'tls' ? 0 : this.opts.limits.redetectChunks;
      this.events.push({ type: 'detected', protocol: this.protocol });
    }
    const held = this.held;
    this.held = [];
    this.heldBytes = { write: 0, read: 0 };
    for (const h of held) this.feed(h.dir, h.chunk, h.tag);
  }

  /** Start parsers for a detected protocol; false when it is not one we parse. */
  private start(d: Detected, dir: Direction): boolean {
    if (d.protocol === 'http1') {
      this.startHttp1(d.side === 'request' ? dir : other(dir));
    } else if (d.protocol === 'http2') {
      this.startHttp2(undefined, d.preface ? undefined : this.opts.h2Resume);
    } else {
      return false;
    }
    this.mode = 'parse';
    this.events.push({ type: 'detected', protocol: this.protocol });
    return true;
  }

  // The hosts below are written out as literals: objects made by spreading another get a map of their own
  // per connection, which made the per-message reads of their fields (emit, timeOf) megamorphic.

  private startHttp1(reqDir: Direction): void {
    const respDir = other(reqDir);
    const o = this.opts;
    const c = new Http1Conn<T>({
      limits: o.limits,
      budget: o.budget,
      counters: this.counters,
      timeOf: o.timeOf,
      emit: (side, msg, start, end) => this.sinks[side === 'request' ? reqDir : respDir].message(msg, start, end),
      switchTo: (to, reqRest, respRest, tag, req) => this.switchTo(to, reqDir, reqRest, respRest, tag, req),
    });
    this.parsers = { [reqDir]: c.request, [respDir]: c.response };
    this.protocol = 'http1';
  }

  /** HTTP/2 on both directions; `upgrade` = the HTTP/1 request that became stream 1 (h2c Upgrade). */
  private startHttp2(upgrade: { reqDir: Direction; req: PendingRequest | undefined } | undefined, resume?: H2State): void {
    const o = this.opts;
    const c = new H2Conn<T>(
      {
        limits: o.limits,
        budget: o.budget,
        counters: this.counters,
        timeOf: o.timeOf,
        sinks: [this.sinks.write, this.sinks.read],
      },
      resume ? [resume.hpack.write, resume.hpack.read] : undefined,
    );
    this.parsers = { write: c.parsers[0], read: c.parsers[1] };
    if (upgrade) {
      if (upgrade.req) c.pairing.open(1, { ...upgrade.req });
      c.parsers[upgrade.reqDir === 'write' ? 0 : 1].role = 'client';
      c.parsers[upgrade.reqDir === 'write' ? 1 : 0].role = 'server';
    }
    this.protocol = 'http2';
  }

  private switchTo(to: SwitchTarget, reqDir: Direction, reqRest: Buffer[], respRest: Buffer[], tag: T, req: PendingRequest | undefined): void {
    const respDir = other(reqDir);
    if (to === 'h2c') {
      this.startHttp2({ reqDir, req });
    } else {
      const mk = (dir: Direction): DirParser<T> =>
        to === 'websocket'
          ? new WebSocketParser(this.opts.limits, this.opts.budget, this.counters, this.sinks[dir])
          : new TunnelParser(this.sinks[dir]);
      this.parsers = { [reqDir]: mk(reqDir), [respDir]: mk(respDir) };
      this.protocol = to === 'websocket' ? 'websocket' : 'raw';
    }
    this.events.push({ type: 'detected', protocol: this.protocol });
    for (const b of respRest) this.parsers[respDir]!.push(b, tag);
    for (const b of reqRest) this.parsers[reqDir]!.push(b, tag);
  }

  private feed(dir: Direction, chunk: Buffer, tag: T): void {
    if (this.mode === 'raw' && this.redetectLeft > 0) {
      this.redetectLeft--;
      const d = detect(chunk, true);
      if (d !== 'more' && (d.protocol === 'http1' || d.protocol === 'http2')) this.start(d, dir);
    }
    if (this.mode !== 'parse') {
      this.events.push({ type: 'raw', dir, tag, data: chunk });
      return;
    }
    const p = this.parsers[dir];
    if (!p) return;
    // the per-chunk call: no closure (see guard)
    let reason: string | undefined;
    try {
      p.push(chunk, tag);
    } catch (e) {
      reason = this.thrown(e);
    }
    this.checked(dir, reason, tag, chunk);
  }

  private thrown(e: unknown): string {
    this.counters.parseErrors++;
    return `internal parser error: ${(e as Error)?.message ?? String(e)}`;
  }

  /** Run a parser call; on an error (reported or thrown) flush the other direction and go raw. */
  private guard(dir: Direction, fn: () => void, raw: { tag: T; data: Buffer } | undefined): void {
    let reason: string | undefined;
    try {
      fn();
    } catch (e) {
      reason = this.thrown(e);
    }
    this.checked(dir, reason, raw?.tag, raw?.data);
  }

  /** After a parser call on `dir` (`reason`: what it threw): on an error, flush the other direction and go raw; `data` is shown raw. */
  private checked(dir: Direction, reason: string | undefined, tag: T | undefined, data: Buffer | undefined): void {
    let errDir = dir;
    if (reason === undefined) {
      reason = this.parsers[dir]?.error;
      if (reason === undefined) {
        errDir = other(dir);
        reason = this.parsers[errDir]?.error;
      }
    }
    if (reason === undefined) return;
    const proto = this.protocol;
    for (const d of [other(errDir), errDir]) {
      const p = this.parsers[d];
      if (p && p.error === undefined) {
        try {
          p.end();
        } catch {
          // a parser that throws while flushing has nothing more to give
        }
      }
    }
    this.parsers = {};
    this.mode = 'raw';
    this.redetectLeft = this.opts.limits.redetectChunks;
    this.events.push({ type: 'error', dir: errDir, protocol: proto, reason });
    if (data !== undefined) this.events.push({ type: 'raw', dir, tag: tag as T, data });
  }
}

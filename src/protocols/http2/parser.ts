/**
 * HTTP/2 parser for one direction: optional client preface, then frames (RFC 9113 §4.1) as an incremental
 * state machine. Header blocks (HEADERS / PUSH_PROMISE + CONTINUATION) are buffered whole, within
 * maxHeaderBytes, and decoded by this direction's HpackDecoder, which lives as long as the connection.
 * DATA is streamed into the stream's body without buffering the frame. Frame headers and payloads are read
 * in place when one chunk holds them. Both directions are symmetric: a stream half is a request or a
 * response according to its pseudo-headers. (One file of ~380 lines on purpose: the whole frame machine.)
 */
import { ByteQueue } from '../byte-queue.js';
import type { PendingRequest, StreamPairing } from '../pairing.js';
import { StreamMap } from '../stream-map.js';
import { BodyCollector } from '../body.js';
import { H2_PREFACE } from '../detect.js';
import type { Limits, MemBudget } from '../limits.js';
import type { DirParser, MessageSink, ParserCounters } from '../parser.js';
import type { HeaderList, HttpMessage, IncompleteReason } from '../types.js';
import { controlMessage, FLAG, FRAME, frameName } from './frames.js';
import { HpackDecoder } from './hpack.js';
import { addNote, buildMessage, headerFacts, headOnlyMessage, pairedHeadOnlyResponse, plainRequest, setFacts, statusCode, type HeaderFacts, type StreamHalf } from './streams.js';

const enum St { Start, Header, Payload, DataPad, Data, Skip, Dead }

export interface H2Hooks<T> {
  readonly limits: Limits;
  readonly budget: MemBudget;
  readonly counters: ParserCounters;
  /**
   * The connection's request/response pairing, shared by both directions: a request's headers open its
   * entry (method and path known early), its end sets endNs, and a response is built with the request it
   * answers (in the parser, so that a paired response is made in one object literal).
   */
  readonly pairing: StreamPairing;
  timeOf(tag: T): bigint;
  /**
   * Where this direction's messages go: control messages, and stream halves when they are finished (and
   * paired). The connection's sink for the direction itself, not a closure in front of it: two closures per
   * message (the parser's hook, then the connection's) were ~2 % of the tiny-GET profile.
   */
  readonly sink: MessageSink<T>;
  /** RST_STREAM seen in this direction: the connection ends both halves */
  reset(streamId: number, code: number, end: T): void;
}

interface Pending<T> {
  sid: number;
  promised: number | undefined;
  endStream: boolean;
  parts: Buffer[];
  size: number;
  start: T;
}

export class Http2Parser<T> implements DirParser<T> {
  error: string | undefined;
  readonly hpack: HpackDecoder;
  private readonly q = new ByteQueue();
  private st = St.Start;
  private len = 0;
  private type = 0;
  private flags = 0;
  private sid = 0;
  private remaining = 0;
  private padLeft = 0;
  private data: StreamHalf<T> | undefined; // stream of the DATA frame being read
  private readonly streams = new StreamMap<StreamHalf<T>>();
  /**
   * The largest id ever put in `streams`. A new stream's id is larger than every id its peer used before
   * (RFC 9113 §5.1.1), so for most header blocks the lookup can be skipped: the id cannot be there.
   */
  private maxOpened = 0;
  private cont: Pending<T> | undefined;
  private frameStart!: T;
  private pendingStart: T | undefined;
  private curTag!: T;
  /** learned from the preface or the first header block */
  role: 'client' | 'server' | undefined;
  /**
   * The half of a stream that ends with the header block that opened it (most streams: a GET, a 204, a
   * pushed request, a 1xx), or of an informational response: emitted at once, never kept, so one object is
   * reused for all of them (emit reads it whole before it returns).
   */
  private readonly once: StreamHalf<T>;

  constructor(private readonly hooks: H2Hooks<T>, hpack?: HpackDecoder) {
    this.hpack = hpack ?? new HpackDecoder(hooks.limits.maxHpackTableBytes);
    this.once = this.makeHalf(0, undefined as T, 'request');
  }

  push(chunk: Buffer, tag: T): void {
    if (this.st === St.Dead) return;
    this.curTag = tag;
    if (this.pendingStart === undefined) this.pendingStart = tag;
    this.q.push(chunk);
    while (this.step());
    this.q.own();
    if (this.q.length === 0) this.pendingStart = undefined;
  }

  queued(): number {
    return this.q.length + (this.cont?.size ?? 0);
  }

  gap(n: number, tag: T): void {
    if (this.st === St.Dead) return;
    this.curTag = tag;
    if (this.st === St.Data && this.data && n <= this.remaining && this.q.length === 0) {
      this.bodyOf(this.data).addLost(n);
      this.remaining -= n;
      if (this.remaining === 0) this.afterData();
      return;
    }
    this.flushAll('gap');
    this.fail('bytes lost outside DATA payload: frame and HPACK state cannot be trusted');
  }

  end(): void {
    if (this.st === St.Dead) return;
    this.flushAll('closed');
    this.st = St.Dead;
    this.q.clear();
  }

  /** End this direction's half of a stream (RST_STREAM from either side). */
  endStream(sid: number, reason: IncompleteReason, code: number | undefined): void {
    const h = this.streams.get(sid);
    if (h) this.finish(h, reason, code);
  }

  private fail(reason: string): boolean {
    this.error = `http2: ${reason}`;
    this.hooks.counters.parseErrors++;
    for (const h of this.streams.values()) h.body?.discard();
    this.streams.clear();
    this.cont = undefined;
    this.q.clear();
    this.st = St.Dead;
    return false;
  }

  private flushAll(reason: IncompleteReason): void {
    for (const h of this.streams.values()) this.finish(h, reason, undefined); // values(): a copy
  }

  private bodyOf(h: StreamHalf<T>): BodyCollector {
    if (h.body === undefined) {
      h.body = new BodyCollector(this.hooks.limits.maxBodyBytes, this.hooks.budget);
      if (h.expect > 0) h.body.expect(h.expect);
    }
    return h.body;
  }

  private step(): boolean {
    const q = this.q;
    switch (this.st) {
      case St.Header: {
        if (q.length < 9) return false;
        this.frameStart = this.pendingStart ?? this.curTag;
        const b = q.contiguous(9);
        if (b === undefined) {
          this.readHeader(q.consume(9), 0);
          return this.onHeader();
        }
        const o = q.headOffset;
        // the frame header in locals: the fast path below needs none of it stored on the parser
        const len = (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
        const type = b[o + 3]!;
        const flags = b[o + 4]!;
        const sid = (((b[o + 5]! & 0x7f) << 24) | (b[o + 6]! << 16) | (b[o + 7]! << 8) | b[o + 8]!) >>> 0;
        if (
          type === FRAME.HEADERS && (flags & (FLAG.END_HEADERS | FLAG.PADDED | FLAG.PRIORITY)) === FLAG.END_HEADERS &&
          b.length - o - 9 >= len && this.cont === undefined && sid !== 0 && len <= this.hooks.limits.maxHeaderBytes
        ) {
          // A whole HEADERS frame in this chunk, one header block, no padding or priority (nearly every
          // HEADERS frame): what onHeader, the skip and onPayload would do, straight to the block (measured
          // ~20 ns per frame less on the tiny-GET benchmark, where HEADERS frames are all there is). The
          // frame's fields are not stored: nothing reads them after the block (the next frame sets them).
          // The frames of the same kind that follow in the chunk are taken in this loop too, and the queue
          // skips them all at the end: per frame that saves the trip back through the dispatch and the
          // queue's skip and setNextStart calls. A later frame starts in this chunk (its frameStart is
          // curTag), and block() reads nothing of the queue; when it fails, it has cleared the queue.
          const max = this.hooks.limits.maxHeaderBytes;
          let at = o;
          let n = len;
          let fl = flags;
          let id = sid;
          let start = this.frameStart;
          for (;;) {
            const next = at + 9 + n;
            if (!this.block(id, undefined, (fl & FLAG.END_STREAM) !== 0, b, at + 9, next, start)) return false;
            at = next;
            start = this.curTag;
            if (b.length - at < 9) break;
            n = (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!;
            fl = b[at + 4]!;
            id = (((b[at + 5]! & 0x7f) << 24) | (b[at + 6]! << 16) | (b[at + 7]! << 8) | b[at + 8]!) >>> 0;
            if (
              b[at + 3] !== FRAME.HEADERS || (fl & (FLAG.END_HEADERS | FLAG.PADDED | FLAG.PRIORITY)) !== FLAG.END_HEADERS ||
              b.length - at - 9 < n || id === 0 || n > max
            ) break;
          }
          q.skip(at - o);
          this.setNextStart();
          return true;
        }
        this.len = len;
        this.type = type;
        this.flags = flags;
        this.sid = sid;
        if (type === FRAME.DATA || b.length - o - 9 < len) {
          q.skip(9);
          return this.onHeader();
        }
        // A whole non-DATA frame in this chunk (the usual case: such frames are small next to TLS records):
        // when it needs its payload, read it in place now rather than in a second pass through the queue.
        // (onHeader does not look at the queue for these frame types, so it may run before the skip.)
        if (!this.onHeader()) return false;
        if ((this.st as St) !== St.Payload) {
          q.skip(9);
          return true;
        }
        q.skip(9 + len);
        this.st = St.Header;
        this.setNextStart();
        return this.onPayload(b, o + 9);
      }
      case St.Payload: {
        const len = this.len;
        if (q.length < len) return false;
        let b = q.contiguous(len);
        let o = q.headOffset;
        if (b) q.skip(len);
        else (b = q.consume(len)), (o = 0);
        this.st = St.Header;
        this.setNextStart();
        return this.onPayload(b, o);
      }
      case St.Data: {
        const body = this.bodyOf(this.data!);
        while (this.remaining > 0 && q.length > 0) {
          const b = q.takeSome(this.remaining);
          this.remaining -= b.length;
          body.add(b);
        }
        if (this.remaining > 0) return false;
        this.afterData();
        return true;
      }
      case St.Skip: {
        const k = Math.min(this.remaining, q.length);
        q.skip(k);
        this.remaining -= k;
        if (this.remaining > 0) return false;
        if (this.data) this.endData();
        else this.st = St.Header;
        this.setNextStart();
        return true;
      }
      case St.DataPad: {
        if (q.length < 1) return false;
        const pad = q.byteAt(0);
        q.skip(1);
        if (pad > this.len - 1) return this.fail('DATA padding longer than the frame');
        this.remaining = this.len - 1 - pad;
        this.padLeft = pad;
        this.st = St.Data;
        if (this.remaining === 0) this.afterData();
        return true;
      }
      case St.Start: {
        const n = Math.min(q.length, H2_PREFACE.length);
        if (n === 0) return false;
        if (q.peek(n).compare(H2_PREFACE, 0, n) !== 0) return (this.st = St.Header), true;
        if (n < H2_PREFACE.length) return false;
        q.skip(n);
        this.role = 'client';
        this.st = St.Header;
        return true;
      }
      default:
        return false;
    }
  }

  private readHeader(b: Buffer, o: number): void {
    this.len = (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
    this.type = b[o + 3]!;
    this.flags = b[o + 4]!;
    this.sid = (((b[o + 5]! & 0x7f) << 24) | (b[o + 6]! << 16) | (b[o + 7]! << 8) | b[o + 8]!) >>> 0;
  }

  private setNextStart(): void {
    this.pendingStart = this.q.length > 0 ? this.curTag : undefined;
  }

  private onHeader(): boolean {
    const { type, len, sid } = this;
    if (this.cont && (type !== FRAME.CONTINUATION || sid !== this.cont.sid)) return this.fail('expected CONTINUATION');
    if (type === FRAME.DATA) {
      if (sid === 0) return this.fail('DATA on stream 0');
      this.data = (sid > this.maxOpened ? undefined : this.streams.get(sid)) ?? this.open(sid, this.frameStart, undefined);
      if (this.flags & FLAG.PADDED) {
        if (len < 1) return this.fail('padded DATA without pad length');
        this.st = St.DataPad;
      } else {
        this.remaining = len;
        this.padLeft = 0;
        this.st = St.Data;
        if (len === 0) this.afterData();
      }
      return true;
    }
    if (type === FRAME.HEADERS || type === FRAME.PUSH_PROMISE || type === FRAME.CONTINUATION) {
      const max = this.hooks.limits.maxHeaderBytes;
      if (len + (this.cont?.size ?? 0) > max) return this.fail(`header block larger than ${max} bytes`);
      if (type === FRAME.CONTINUATION && !this.cont) return this.fail('CONTINUATION without HEADERS');
    } else if (type > FRAME.CONTINUATION || len > this.hooks.limits.maxControlFrameBytes) {
      this.remaining = len; // unknown extension frame or oversized control frame: skipped
      this.data = undefined;
      this.st = St.Skip;
      return true;
    }
    this.st = St.Payload;
    return true;
  }

  private afterData(): void {
    if (this.padLeft > 0) {
      this.remaining = this.padLeft;
      this.padLeft = 0;
      this.st = St.Skip;
      return;
    }
    this.endData();
    this.setNextStart();
  }

  private endData(): void {
    const h = this.data!;
    this.data = undefined;
    this.st = St.Header;
    if (this.flags & FLAG.END_STREAM) this.finish(h, undefined, undefined);
  }

  private makeHalf(sid: number, start: T, kind: 'request' | 'response' | undefined): StreamHalf<T> {
    const k = kind ?? (this.role === 'client' ? 'request' : 'response');
    return {
      id: sid, kind: k, headers: undefined, trailers: undefined, body: undefined, expect: 0, start, notes: undefined,
      method: undefined, path: undefined, status: undefined, contentEncoding: undefined, grpc: false,
    };
  }

  /** `this.once`, as makeHalf would make it, with its headers. */
  private onceHalf(sid: number, start: T, kind: 'request' | 'response' | undefined, headers: HeaderList, f: HeaderFacts, notes: string[] | undefined): StreamHalf<T> {
    const h = this.once;
    h.id = sid;
    h.kind = kind ?? (this.role === 'client' ? 'request' : 'response');
    h.headers = headers;
    h.trailers = undefined;
    h.body = undefined;
    h.expect = 0;
    h.start = start;
    h.notes = notes;
    setFacts(h, f);
    return h;
  }

  private open(sid: number, start: T, kind: 'request' | 'response' | undefined): StreamHalf<T> {
    if (this.streams.size >= this.hooks.limits.maxStreams) {
      const oldest = this.streams.get(this.streams.firstKey()!)!;
      this.finish(oldest, 'limit', undefined);
    }
    const h = this.makeHalf(sid, start, kind);
    this.streams.set(sid, h);
    if (sid > this.maxOpened) this.maxOpened = sid;
    return h;
  }

  private finish(h: StreamHalf<T>, incomplete: IncompleteReason | undefined, code: number | undefined): void {
    this.streams.delete(h.id);
    this.emit(h, incomplete, code, false);
  }

  private emit(h: StreamHalf<T>, incomplete: IncompleteReason | undefined, code: number | undefined, pushed: boolean): void {
    const hooks = this.hooks;
    const c = hooks.counters;
    if (incomplete) c.incomplete++;
    const start = h.start;
    const pairing = hooks.pairing;
    let msg: HttpMessage;
    if (h.kind === 'response') {
      // a final response (or one without a valid :status) takes its request; a 1xx leaves it for the final one
      const status = statusCode(h.status);
      const req = status < 0 || status >= 200 ? pairing.take(h.id) : pairing.get(h.id);
      msg = buildMessage(h, hooks.limits, incomplete, code, status, req, req === undefined ? 0n : hooks.timeOf(start));
    } else {
      msg = buildMessage(h, hooks.limits, incomplete, code, -1, undefined, 0n);
    }
    if (h === this.once) this.clearOnce();
    if (pushed) msg.pushed = true;
    c.messages++;
    if (msg.bodyTruncated) c.truncatedBytes += msg.bodyTruncated;
    if (msg.kind === 'request') {
      const r = pairing.get(msg.streamId!);
      if (r && msg.incomplete === undefined) r.endNs = hooks.timeOf(this.curTag);
    }
    hooks.sink.message(msg, start, this.curTag);
  }

  /** A request's headers were decoded: pairing learns its method and path (returns the pairing's entry). */
  private requestHead(sid: number, method: string | undefined, target: string | undefined): PendingRequest {
    let r: PendingRequest;
    if (method !== undefined && target !== undefined) {
      r = { method, target, endNs: undefined }; // the usual case, in one literal with the field set when it ends
    } else {
      r = {};
      if (method !== undefined) r.method = method;
      if (target !== undefined) r.target = target;
    }
    return this.hooks.pairing.open(sid, r);
  }

  /**
   * A stream a single header block opens and ends (END_STREAM on a new stream): its message straight from
   * the block, as emit() would make it from `this.once`. The commonest stream of all (GETs, HEADERS-only
   * responses) thus skips filling and clearing the reusable half (~25 stores, several of young values into
   * an old object, each through the write barrier) and the second pairing lookup of a request (profile:
   * onceHalf, setFacts and clearOnce alone were ~2.7 % of the tiny-GET profile before). The usual request
   * and response (nothing to note, not gRPC) go through the small builders, the rest through
   * headOnlyMessage, which makes the same messages. This one makes the request.
   */
  private headOnlyRequest(sid: number, list: HeaderList, method: string | undefined, path: string | undefined, grpc: boolean, notes: string[] | undefined): HttpMessage {
    const hooks = this.hooks;
    const r = this.requestHead(sid, method, path);
    const msg = notes === undefined && !grpc && method !== undefined && path !== undefined
      ? plainRequest(sid, list, method, path)
      : headOnlyMessage('request', sid, list, { method, path, grpc }, notes, hooks.limits, -1, undefined, 0n);
    r.endNs = hooks.timeOf(this.curTag); // the request ends here: what emit() sets after building it
    return msg;
  }

  /** headOnlyRequest's counterpart for a response (paired with its request when there is one). */
  private headOnlyResponse(
    sid: number, list: HeaderList, method: string | undefined, path: string | undefined, status: string | undefined, grpc: boolean,
    notes: string[] | undefined, start: T,
  ): HttpMessage {
    const hooks = this.hooks;
    const pairing = hooks.pairing;
    const code = statusCode(status);
    const req = code < 0 || code >= 200 ? pairing.take(sid) : pairing.get(sid);
    return notes === undefined && !grpc && code >= 0 && req !== undefined
      ? pairedHeadOnlyResponse(sid, list, code, req, hooks.timeOf(start))
      : headOnlyMessage('response', sid, list, { method, path, grpc }, notes, hooks.limits, code, req, req === undefined ? 0n : hooks.timeOf(start));
  }

  /** `this.once` keeps nothing of the message it was used for (its header list, its chunk's tag). */
  private clearOnce(): void {
    const h = this.once;
    h.headers = undefined;
    h.notes = undefined;
    h.start = undefined as T;
    h.method = h.path = h.status = h.contentEncoding = undefined;
  }

  private onPayload(b: Buffer, o: number): boolean {
    const { type, flags, sid, len } = this;
    if (type === FRAME.HEADERS || type === FRAME.PUSH_PROMISE) {
      if (sid === 0) return this.fail(`${frameName(type)} on stream 0`);
      let off = o;
      let pad = 0;
      if (flags & FLAG.PADDED) (pad = len > 0 ? b[o]! : 0), (off += 1);
      let promised: number | undefined;
      if (type === FRAME.HEADERS && flags & FLAG.PRIORITY) off += 5;
      if (type === FRAME.PUSH_PROMISE) {
        if (len < off - o + 4) return this.fail('short PUSH_PROMISE');
        promised = b.readUInt32BE(off) & 0x7fffffff;
        off += 4;
      }
      const end = o + len - pad;
      if (off > end) return this.fail(`${frameName(type)} padding longer than the frame`);
      const endStream = type === FRAME.HEADERS && (flags & FLAG.END_STREAM) !== 0;
      if (flags & FLAG.END_HEADERS) return this.block(sid, promised, endStream, b, off, end, this.frameStart);
      this.cont = { sid, promised, endStream, parts: [Buffer.from(b.subarray(off, end))], size: end - off, start: this.frameStart };
      return true;
    }
    if (type === FRAME.CONTINUATION) {
      const c = this.cont!;
      c.parts.push(Buffer.from(b.subarray(o, o + len)));
      c.size += len;
      if (!(flags & FLAG.END_HEADERS)) return true;
      this.cont = undefined;
      const blk = Buffer.concat(c.parts, c.size);
      return this.block(c.sid, c.promised, c.endStream, blk, 0, blk.length, c.start);
    }
    const p = b.subarray(o, o + len);
    const ctl = controlMessage(type, flags, sid, p, this.hooks.limits.h2Control);
    if (typeof ctl === 'string') return this.fail(ctl);
    if (ctl) {
      this.hooks.counters.messages++;
      this.hooks.sink.message(ctl, this.frameStart, this.curTag);
    }
    if (type === FRAME.RST_STREAM) this.hooks.reset(sid, p.readUInt32BE(0), this.curTag);
    return true;
  }

  /** A complete header block b[from, to) for stream `sid` (or the request promised on it). */
  private block(sid: number, promised: number | undefined, endStream: boolean, b: Buffer, from: number, to: number, start: T): boolean {
    const list = this.hpack.newList();
    const lim = this.hooks.limits;
    const r = this.hpack.decode(b, list, lim.maxHeaderBytes, lim.maxHeaderCount, from, to);
    if (r.error) return this.fail(r.error);
    let notes: string[] | undefined;
    if (r.unknownRefs) {
      this.hooks.counters.hpackUnknownRefs += r.unknownRefs.length;
      notes = [`hpack: ${r.unknownRefs.length} field(s) refer to table entries from before the capture (index ${r.unknownRefs.join(', ')}); left out`];
    }
    if (r.truncated) (notes ??= []).push(`header list over ${lim.maxHeaderBytes} bytes or ${lim.maxHeaderCount} fields; rest left out`);
    // The fast path below reads the facts' fields and never hands the facts object on, so TurboFan does not
    // allocate it (escape analysis); the other cases (blockRest) take the facts anew.
    const { method, status, path, grpc } = headerFacts(list, this.hpack.noted);
    if (promised === undefined && endStream && (status === undefined || status.length !== 3 || status.charCodeAt(0) !== 0x31) && (sid > this.maxOpened || this.streams.get(sid) === undefined)) {
      // a new stream that ends with this block (not a 1xx): the fast path
      if (method !== undefined) this.role ??= 'client';
      if (status !== undefined) this.role ??= 'server';
      const kind = method !== undefined ? 'request' : status !== undefined ? 'response' : this.role === 'client' ? 'request' : 'response';
      // one method per kind: each is optimised with its own inlining budget (one for both left the pairing
      // lookup and statusCode as calls)
      const msg = kind === 'request'
        ? this.headOnlyRequest(sid, list, method, path, grpc, notes)
        : this.headOnlyResponse(sid, list, method, path, status, grpc, notes, start);
      const hooks = this.hooks;
      hooks.counters.messages++;
      hooks.sink.message(msg, start, this.curTag);
      return true;
    }
    return this.blockRest(sid, promised, endStream, list, notes, start);
  }

  /** block() for all but a new stream that ends with its block: pushed requests, 1xx, trailers, open streams. */
  private blockRest(sid: number, promised: number | undefined, endStream: boolean, list: HeaderList, notes: string[] | undefined, start: T): boolean {
    const f = headerFacts(list, this.hpack.noted);
    if (promised !== undefined) {
      this.requestHead(promised, f.method, f.path);
      this.emit(this.onceHalf(promised, start, 'request', list, f, notes), undefined, undefined, true);
      return true;
    }
    if (f.method !== undefined) this.role ??= 'client';
    if (f.status !== undefined) this.role ??= 'server';
    let h = sid > this.maxOpened ? undefined : this.streams.get(sid);
    const inTable = h !== undefined;
    if (h !== undefined && (h.headers !== undefined || h.body !== undefined)) {
      h.trailers = list; // a second header block: trailers
      if (notes) for (const n of notes) addNote(h, n);
    } else if (f.status !== undefined && f.status.length === 3 && f.status.charCodeAt(0) === 0x31) {
      // informational (1xx): a message of its own
      this.emit(this.onceHalf(sid, start, 'response', list, f, notes), undefined, undefined, false);
      return true;
    } else {
      const kind = f.method !== undefined ? 'request' : f.status !== undefined ? 'response' : undefined;
      if (h === undefined) {
        h = endStream ? this.onceHalf(sid, start, kind, list, f, notes) : this.open(sid, start, kind);
      } else if (kind) {
        h.kind = kind;
      }
      if (h !== this.once) {
        h.headers = list;
        setFacts(h, f);
        h.start = start;
        if (notes) h.notes = notes;
      }
      if (f.contentLength !== undefined) h.expect = f.contentLength;
      if (h.kind === 'request') this.requestHead(sid, f.method, f.path);
    }
    if (endStream) {
      if (inTable) this.streams.delete(sid);
      this.emit(h, undefined, undefined, false);
    }
    return true;
  }
}

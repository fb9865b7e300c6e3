/**
 * HTTP/2 parser for one direction: optional client preface, then frames (RFC 9113 §4.1) as an incremental
 * state machine. Header blocks (HEADERS / PUSH_PROMISE + CONTINUATION) are buffered whole, within
 * maxHeaderBytes, and decoded by this direction's HpackDecoder, which lives as long as the connection.
 * DATA is streamed into the stream's body without buffering the frame. Both directions are symmetric: a
 * stream half is a request or a response according to its pseudo-headers.
 */
import { ByteQueue } from '../byte-queue.js';
import { BodyCollector } from '../body.js';
import { H2_PREFACE } from '../detect.js';
import type { Limits, MemBudget } from '../limits.js';
import type { DirParser, ParserCounters } from '../parser.js';
import type { Http2ControlMessage, HttpMessage, IncompleteReason, L7Message } from '../types.js';
import { FLAG, FRAME, errorName, frameName, parseSettings } from './frames.js';
import { HpackDecoder } from './hpack.js';
import { addNote, buildMessage, pseudo, type StreamHalf } from './streams.js';

const enum St { Start, Header, Payload, DataPad, Data, Skip, Dead }

export interface H2Hooks<T> {
  readonly limits: Limits;
  readonly budget: MemBudget;
  readonly counters: ParserCounters;
  /** a control message */
  control(msg: L7Message, start: T, end: T): void;
  /** a request's headers were decoded (pairing learns method and path early) */
  requestHead(streamId: number, method: string | undefined, target: string | undefined): void;
  /** a stream half is finished */
  stream(msg: HttpMessage, start: T, end: T): void;
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
  private readonly streams = new Map<number, StreamHalf<T>>();
  private cont: Pending<T> | undefined;
  private frameStart!: T;
  private pendingStart: T | undefined;
  private curTag!: T;
  /** learned from the preface or the first header block */
  role: 'client' | 'server' | undefined;

  constructor(private readonly hooks: H2Hooks<T>, hpack?: HpackDecoder) {
    this.hpack = hpack ?? new HpackDecoder(hooks.limits.maxHpackTableBytes);
  }

  push(chunk: Buffer, tag: T): void {
    if (this.st === St.Dead) return;
    this.curTag = tag;
    if (this.pendingStart === undefined) this.pendingStart = tag;
    this.q.push(chunk);
    while (this.step());
    if (this.q.length === 0) this.pendingStart = undefined;
  }

  queued(): number {
    return this.q.length + (this.cont?.size ?? 0);
  }

  gap(n: number, tag: T): void {
    if (this.st === St.Dead) return;
    this.curTag = tag;
    if (this.st === St.Data && this.data && n <= this.remaining && this.q.length === 0) {
      this.data.body.addLost(n);
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
    for (const h of this.streams.values()) h.body.discard();
    this.streams.clear();
    this.cont = undefined;
    this.q.clear();
    this.st = St.Dead;
    return false;
  }

  private flushAll(reason: IncompleteReason): void {
    for (const h of [...this.streams.values()]) this.finish(h, reason, undefined);
  }

  private step(): boolean {
    const q = this.q;
    switch (this.st) {
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
      case St.Header: {
        if (q.length < 9) return false;
        this.frameStart = this.pendingStart ?? this.curTag;
        const h = q.consume(9);
        this.len = (h[0]! << 16) | (h[1]! << 8) | h[2]!;
        this.type = h[3]!;
        this.flags = h[4]!;
        this.sid = h.readUInt32BE(5) & 0x7fffffff;
        return this.onHeader();
      }
      case St.Payload: {
        if (q.length < this.len) return false;
        const p = q.consume(this.len);
        this.st = St.Header;
        this.setNextStart();
        return this.onPayload(p);
      }
      case St.DataPad: {
        if (q.length < 1) return false;
        const pad = q.consume(1)[0]!;
        if (pad > this.len - 1) return this.fail('DATA padding longer than the frame');
        this.remaining = this.len - 1 - pad;
        this.padLeft = pad;
        this.st = St.Data;
        if (this.remaining === 0) this.afterData();
        return true;
      }
      case St.Data: {
        const body = this.data!.body;
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
      default:
        return false;
    }
  }

  private setNextStart(): void {
    this.pendingStart = this.q.length > 0 ? this.curTag : undefined;
  }

  private onHeader(): boolean {
    const { type, len, sid } = this;
    if (this.cont && (type !== FRAME.CONTINUATION || sid !== this.cont.sid)) return this.fail('expected CONTINUATION');
    if (type === FRAME.DATA) {
      if (sid === 0) return this.fail('DATA on stream 0');
      this.data = this.streams.get(sid) ?? this.open(sid, this.frameStart, undefined);
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
    const headerish = type === FRAME.HEADERS || type === FRAME.PUSH_PROMISE || type === FRAME.CONTINUATION;
    if (headerish) {
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
    return {
      id: sid,
      kind: kind ?? (this.role === 'client' ? 'request' : 'response'),
      headers: undefined,
      body: new BodyCollector(this.hooks.limits.maxBodyBytes, this.hooks.budget),
      start,
    };
  }

  private open(sid: number, start: T, kind: 'request' | 'response' | undefined): StreamHalf<T> {
    if (this.streams.size >= this.hooks.limits.maxStreams) {
      const oldest = this.streams.values().next().value as StreamHalf<T>;
      this.finish(oldest, 'limit', undefined);
    }
    const h = this.makeHalf(sid, start, kind);
    this.streams.set(sid, h);
    return h;
  }

  /** Emit a half that was never in the table (informational response, pushed request). */
  private emitLone(h: StreamHalf<T>, pushed: boolean): void {
    const msg = buildMessage(h, this.hooks.limits, undefined, undefined);
    if (pushed) msg.pushed = true;
    this.hooks.counters.messages++;
    this.hooks.stream(msg, h.start, this.curTag);
  }

  private finish(h: StreamHalf<T>, incomplete: IncompleteReason | undefined, code: number | undefined): void {
    this.streams.delete(h.id);
    if (incomplete) this.hooks.counters.incomplete++;
    const msg = buildMessage(h, this.hooks.limits, incomplete, code);
    this.hooks.counters.messages++;
    this.hooks.counters.truncatedBytes += msg.bodyTruncated ?? 0;
    this.hooks.stream(msg, h.start, this.curTag);
  }

  private control(extra: Partial<Http2ControlMessage>, important: boolean): void {
    const mode = this.hooks.limits.h2Control;
    if (mode === 'none' || (mode === 'important' && !important)) return;
    const msg: Http2ControlMessage = {
      protocol: 'http2', kind: 'control', frameType: frameName(this.type), type: this.type, flags: this.flags,
      streamId: this.sid, length: this.len, ...extra,
    };
    this.hooks.counters.messages++;
    this.hooks.control(msg, this.frameStart, this.curTag);
  }

  private onPayload(p: Buffer): boolean {
    const { type, flags, sid, len } = this;
    switch (type) {
      case FRAME.HEADERS:
      case FRAME.PUSH_PROMISE: {
        if (sid === 0) return this.fail(`${frameName(type)} on stream 0`);
        let off = 0;
        let pad = 0;
        if (flags & FLAG.PADDED) (pad = p[0] ?? 0), (off = 1);
        let promised: number | undefined;
        if (type === FRAME.HEADERS && flags & FLAG.PRIORITY) off += 5;
        if (type === FRAME.PUSH_PROMISE) {
          if (len < off + 4) return this.fail('short PUSH_PROMISE');
          promised = p.readUInt32BE(off) & 0x7fffffff;
          off += 4;
        }
        if (off + pad > len) return this.fail(`${frameName(type)} padding longer than the frame`);
        const frag = p.subarray(off, len - pad);
        const endStream = type === FRAME.HEADERS && (flags & FLAG.END_STREAM) !== 0;
        if (flags & FLAG.END_HEADERS) return this.block(sid, promised, endStream, frag, this.frameStart);
        this.cont = { sid, promised, endStream, parts: [frag], size: frag.length, start: this.frameStart };
        return true;
      }
      case FRAME.CONTINUATION: {
        const c = this.cont!;
        c.parts.push(p);
        c.size += p.length;
        if (!(flags & FLAG.END_HEADERS)) return true;
        this.cont = undefined;
        return this.block(c.sid, c.promised, c.endStream, Buffer.concat(c.parts, c.size), c.start);
      }
      case FRAME.RST_STREAM: {
        if (len !== 4 || sid === 0) return this.fail('bad RST_STREAM');
        const code = p.readUInt32BE(0);
        this.control({ errorCode: code, errorName: errorName(code) }, false);
        this.hooks.reset(sid, code, this.curTag);
        return true;
      }
      case FRAME.SETTINGS: {
        const ack = (flags & FLAG.ACK) !== 0;
        this.control(ack ? { ack } : { settings: parseSettings(p) }, !ack);
        return true;
      }
      case FRAME.GOAWAY: {
        if (len < 8) return this.fail('short GOAWAY');
        const code = p.readUInt32BE(4);
        this.control({ lastStreamId: p.readUInt32BE(0) & 0x7fffffff, errorCode: code, errorName: errorName(code), data: Buffer.from(p.subarray(8)) }, true);
        return true;
      }
      case FRAME.PING:
        this.control({ ack: (flags & FLAG.ACK) !== 0, data: Buffer.from(p) }, false);
        return true;
      case FRAME.WINDOW_UPDATE:
        if (len === 4) this.control({ windowIncrement: p.readUInt32BE(0) & 0x7fffffff }, false);
        return true;
      default: // PRIORITY
        this.control({}, false);
        return true;
    }
  }

  /** A complete header block for stream `sid` (or the request promised on it). */
  private block(sid: number, promised: number | undefined, endStream: boolean, blk: Buffer, start: T): boolean {
    const list: HttpMessage['headers'] = [];
    const lim = this.hooks.limits;
    const r = this.hpack.decode(blk, list, lim.maxHeaderBytes, lim.maxHeaderCount);
    if (r.error) return this.fail(r.error);
    const notes: string[] = [];
    if (r.unknownRefs) {
      this.hooks.counters.hpackUnknownRefs += r.unknownRefs.length;
      notes.push(`hpack: ${r.unknownRefs.length} field(s) refer to table entries from before the capture (index ${r.unknownRefs.join(', ')}); left out`);
    }
    if (r.truncated) notes.push(`header list over ${lim.maxHeaderBytes} bytes or ${lim.maxHeaderCount} fields; rest left out`);
    const status = pseudo(list, ':status');
    const method = pseudo(list, ':method');
    if (promised !== undefined) {
      const pushedReq = this.makeHalf(promised, start, 'request');
      pushedReq.headers = list;
      if (notes.length) pushedReq.notes = notes;
      this.hooks.requestHead(promised, method, pseudo(list, ':path'));
      this.emitLone(pushedReq, true);
      return true;
    }
    if (method !== undefined) this.role ??= 'client';
    if (status !== undefined) this.role ??= 'server';
    let h = this.streams.get(sid);
    if (h !== undefined && (h.headers !== undefined || h.body.size > 0)) {
      h.trailers = list;
      for (const n of notes) addNote(h, n);
    } else if (status !== undefined && status.length === 3 && status[0] === '1') {
      const info = this.makeHalf(sid, start, 'response'); // informational: a message of its own
      info.headers = list;
      if (notes.length) info.notes = notes;
      this.emitLone(info, false);
      return true;
    } else {
      h ??= this.open(sid, start, method !== undefined ? 'request' : status !== undefined ? 'response' : undefined);
      if (method !== undefined) h.kind = 'request';
      else if (status !== undefined) h.kind = 'response';
      h.headers = list;
      h.start = start;
      if (notes.length) h.notes = notes;
      if (h.kind === 'request') this.hooks.requestHead(sid, method, pseudo(list, ':path'));
    }
    if (endStream) this.finish(h, undefined, undefined);
    return true;
  }}

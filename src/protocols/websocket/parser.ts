/**
 * WebSocket frame parser for one direction (RFC 6455 §5): header, extended length, mask key, payload as an
 * incremental state machine. Fragmented data messages are joined (control frames may interleave and are
 * emitted on their own); masked payloads are unmasked; permessage-deflate (RSV1) messages are inflated when
 * they decode on their own (no context takeover), else shown compressed with a note.
 */
import { ByteQueue } from '../byte-queue.js';
import { BodyCollector } from '../body.js';
import { inflateWsMessage } from '../content-decode.js';
import type { Limits, MemBudget } from '../limits.js';
import type { DirParser, MessageSink, ParserCounters } from '../parser.js';
import type { IncompleteReason, WebSocketMessage } from '../types.js';

const enum St { Header, ExtLen, Mask, Payload, Dead }

export const WS_OPCODES: Readonly<Record<number, string>> = {
  0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong',
};

interface Msg<T> {
  opcode: number;
  masked: boolean;
  compressed: boolean;
  length: number;
  fragments: number;
  body: BodyCollector;
  start: T;
}

export class WebSocketParser<T> implements DirParser<T> {
  error: string | undefined;
  private readonly q = new ByteQueue();
  private st = St.Header;
  // current frame
  private fin = false;
  private rsv1 = false;
  private opcode = 0;
  private masked = false;
  private extLen = 0;
  private remaining = 0;
  private mask: Buffer | undefined;
  private framePos = 0; // payload bytes of this frame already seen (mask phase)
  private frameStart!: T;
  private pendingStart: T | undefined; // tag of the chunk holding the next unread byte, if known
  private msg: Msg<T> | undefined; // data message being assembled
  private ctl: Msg<T> | undefined; // control frame being read
  private curTag!: T;

  constructor(
    private readonly limits: Limits,
    private readonly budget: MemBudget,
    private readonly counters: ParserCounters,
    private readonly sink: MessageSink<T>,
  ) {}

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
    return this.q.length;
  }

  gap(n: number, tag: T): void {
    if (this.st === St.Dead) return;
    this.curTag = tag;
    if (this.st === St.Payload && n <= this.remaining && this.q.length === 0) {
      (this.ctl ?? this.msg)!.body.addLost(n);
      this.remaining -= n;
      this.framePos += n;
      if (this.remaining === 0) this.endFrame();
      return;
    }
    this.flushAll('gap');
    this.fail('bytes lost inside frame headers');
  }

  end(): void {
    if (this.st === St.Dead) return;
    this.flushAll('closed');
    this.st = St.Dead;
    this.q.clear();
  }

  private fail(reason: string): false {
    this.error = `websocket: ${reason}`;
    this.counters.parseErrors++;
    this.msg?.body.discard();
    this.ctl?.body.discard();
    this.msg = this.ctl = undefined;
    this.q.clear();
    this.st = St.Dead;
    return false;
  }

  private flushAll(reason: IncompleteReason): void {
    if (this.ctl) this.emit(this.ctl, reason);
    if (this.msg) this.emit(this.msg, reason);
    this.ctl = this.msg = undefined;
  }

  private step(): boolean {
    switch (this.st) {
      case St.Header: {
        if (this.q.length < 2) return false;
        this.frameStart = this.pendingStart ?? this.curTag;
        const h = this.q.consume(2);
        const b0 = h[0]!;
        const b1 = h[1]!;
        this.fin = (b0 & 0x80) !== 0;
        this.rsv1 = (b0 & 0x40) !== 0;
        this.opcode = b0 & 0x0f;
        this.masked = (b1 & 0x80) !== 0;
        const len7 = b1 & 0x7f;
        if ((this.opcode > 2 && this.opcode < 8) || this.opcode > 10) return this.fail(`reserved opcode ${this.opcode}`);
        if (this.opcode >= 8 && (!this.fin || len7 > 125)) return this.fail('invalid control frame');
        this.extLen = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
        this.remaining = len7;
        this.st = this.extLen > 0 ? St.ExtLen : this.masked ? St.Mask : St.Payload;
        if (this.st === St.Payload) this.beginPayload();
        return true;
      }
      case St.ExtLen: {
        if (this.q.length < this.extLen) return false;
        const e = this.q.consume(this.extLen);
        if (this.extLen === 2) this.remaining = e.readUInt16BE(0);
        else {
          const hi = e.readUInt32BE(0);
          if (hi > 0x1fffff) return this.fail('frame length over 2^53');
          this.remaining = hi * 0x100000000 + e.readUInt32BE(4);
        }
        this.st = this.masked ? St.Mask : St.Payload;
        if (this.st === St.Payload) this.beginPayload();
        return true;
      }
      case St.Mask:
        if (this.q.length < 4) return false;
        this.mask = Buffer.from(this.q.consume(4));
        this.st = St.Payload;
        this.beginPayload();
        return true;
      case St.Payload: {
        const into = (this.ctl ?? this.msg)!.body;
        while (this.remaining > 0 && this.q.length > 0) {
          const b = this.q.takeSome(this.remaining);
          this.remaining -= b.length;
          this.addPayload(into, b);
        }
        if (this.remaining > 0) return false;
        this.endFrame();
        return true;
      }
      default:
        return false;
    }
  }

  private newMsg(opcode: number): Msg<T> {
    return {
      opcode, masked: this.masked, compressed: this.rsv1, length: 0, fragments: 0, start: this.frameStart,
      body: new BodyCollector(this.limits.maxBodyBytes, this.budget),
    };
  }

  private beginPayload(): void {
    this.framePos = 0;
    if (this.opcode >= 8) {
      this.ctl = this.newMsg(this.opcode);
    } else if (this.opcode !== 0 || this.msg === undefined) {
      if (this.msg) this.emit(this.msg, 'gap'); // a new message before the last one finished
      this.msg = this.newMsg(this.opcode);
    }
    const m = (this.ctl ?? this.msg)!;
    if (m.fragments === 0) m.body.expect(this.remaining);
    m.length += this.remaining;
    m.fragments++;
    if (this.remaining === 0) this.endFrame();
  }

  /** Keep payload bytes; masked ones are unmasked into a copy (the captured chunk stays untouched). */
  private addPayload(into: BodyCollector, b: Buffer): void {
    if (!this.masked) {
      into.add(b);
    } else {
      const k = Math.min(b.length, into.room());
      if (k > 0) {
        const u = Buffer.allocUnsafe(k);
        const key = this.mask!;
        const p = this.framePos;
        for (let i = 0; i < k; i++) u[i] = b[i]! ^ key[(p + i) & 3]!;
        into.add(u);
      }
      if (b.length > k) into.skip(b.length - k);
    }
    this.framePos += b.length;
  }

  private endFrame(): void {
    const m = (this.ctl ?? this.msg)!;
    this.st = St.Header;
    this.pendingStart = this.q.length > 0 ? this.curTag : undefined;
    if (this.ctl) {
      this.emit(this.ctl, undefined);
      this.ctl = undefined;
    } else if (this.fin) {
      this.emit(m, undefined);
      this.msg = undefined;
    }
  }

  private emit(m: Msg<T>, incomplete: IncompleteReason | undefined): void {
    const b = m.body;
    let payload = b.finish();
    const out: WebSocketMessage = {
      protocol: 'websocket',
      kind: m.opcode >= 8 ? 'control' : 'message',
      opcode: m.opcode,
      opcodeName: WS_OPCODES[m.opcode] ?? `opcode-${m.opcode}`,
      masked: m.masked,
      length: m.length,
      payload,
    };
    if (b.truncated > 0) out.payloadTruncated = b.truncated;
    if (m.fragments > 1) out.fragments = m.fragments;
    if (incomplete) {
      out.incomplete = incomplete;
      this.counters.incomplete++;
    }
    if (m.compressed) {
      out.compressed = true;
      const r = inflateWsMessage(payload, this.limits.maxDecodedBytes);
      if (r.ok) out.payload = payload = r.body;
      else out.notes = [`permessage-deflate: not decoded (${r.error})`];
    }
    if (m.opcode === 8 && payload.length >= 2) {
      out.closeCode = payload.readUInt16BE(0);
      out.closeReason = payload.toString('utf8', 2);
    }
    this.counters.messages++;
    this.counters.truncatedBytes += b.truncated;
    this.sink.message(out, m.start, this.curTag);
  }
}

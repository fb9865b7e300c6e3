/**
 * An HTTP/1 connection: a request parser on one direction, a response parser on the other, tied together
 * by FIFO pairing (the response parser needs the request method to frame the body: HEAD, CONNECT) and by
 * protocol switches (101 Switching Protocols to WebSocket or h2c, CONNECT tunnels).
 */
import type { Limits, MemBudget } from '../limits.js';
import { FifoPairing, pairResponse, type PendingRequest } from '../pairing.js';
import type { ParserCounters } from '../parser.js';
import type { HttpMessage } from '../types.js';
import { hasToken, headerList, type Http1Head } from './head.js';
import { Http1Parser, type Http1Hooks, type SwitchTarget } from './parser.js';

export interface Http1Host<T> {
  readonly limits: Limits;
  readonly budget: MemBudget;
  readonly counters: ParserCounters;
  timeOf(tag: T): bigint;
  emit(side: 'request' | 'response', msg: HttpMessage, start: T, end: T): void;
  /** Both directions change protocol; rests are the bytes already received after the switch point. */
  switchTo(to: SwitchTarget, reqRest: Buffer[], respRest: Buffer[], tag: T, req: PendingRequest | undefined): void;
}

/** Hooks of the request side (prototype methods: no closures per connection). */
class RequestSide<T> implements Http1Hooks<T> {
  constructor(private readonly c: Http1Conn<T>) {}
  get limits(): Limits {
    return this.c.host.limits;
  }
  get budget(): MemBudget {
    return this.c.host.budget;
  }
  get counters(): ParserCounters {
    return this.c.host.counters;
  }
  requestHead(head: Http1Head): PendingRequest {
    const r: PendingRequest = { method: head.method!, target: head.target! };
    const up = headerList(head.headers, 'upgrade');
    if (up !== undefined && hasToken(headerList(head.headers, 'connection'), 'upgrade')) r.upgrade = up.toLowerCase();
    return this.c.pairing.open(r);
  }
  peekRequest(): PendingRequest | undefined {
    return undefined;
  }
  takeRequest(): PendingRequest | undefined {
    return undefined;
  }
  emit(msg: HttpMessage, start: T, end: T, req: PendingRequest | undefined): void {
    if (req && msg.incomplete === undefined) req.endNs = this.c.host.timeOf(end);
    this.c.host.emit('request', msg, start, end);
  }
  switchProtocol(_to: SwitchTarget, _rest: Buffer[], _tag: T, _req: PendingRequest | undefined): void {}
  switchRefused(): void {}
}

/** Hooks of the response side. */
class ResponseSide<T> extends RequestSide<T> {
  constructor(private readonly conn: Http1Conn<T>) {
    super(conn);
  }
  override requestHead(): PendingRequest {
    return {};
  }
  override peekRequest(): PendingRequest | undefined {
    return this.conn.pairing.peek();
  }
  override takeRequest(): PendingRequest | undefined {
    const r = this.conn.pairing.take();
    if (r) r.answered = true;
    return r;
  }
  override emit(msg: HttpMessage, start: T, end: T, req: PendingRequest | undefined): void {
    const final = msg.status !== undefined && (msg.status >= 200 || msg.status === 101);
    pairResponse(msg, final ? req : this.conn.pairing.peek(), this.conn.host.timeOf(start));
    this.conn.host.emit('response', msg, start, end);
  }
  override switchProtocol(to: SwitchTarget, rest: Buffer[], tag: T, req: PendingRequest | undefined): void {
    this.conn.host.switchTo(to, this.conn.request.takeBuffered(), rest, tag, req);
  }
  override switchRefused(): void {
    this.conn.request.resume();
  }
}

export class Http1Conn<T> {
  readonly request: Http1Parser<T>;
  readonly response: Http1Parser<T>;
  readonly pairing = new FifoPairing();

  constructor(readonly host: Http1Host<T>) {
    this.request = new Http1Parser('request', new RequestSide(this));
    this.response = new Http1Parser('response', new ResponseSide(this));
  }
}

/**
 * An HTTP/1 connection: a request parser on one direction, a response parser on the other, tied together
 * by FIFO pairing (the response parser needs the request method to frame the body: HEAD, CONNECT) and by
 * protocol switches (101 Switching Protocols to WebSocket or h2c, CONNECT tunnels).
 */
import type { Limits, MemBudget } from '../limits.js';
import { FifoPairing, pairResponse, type PendingRequest } from '../pairing.js';
import type { ParserCounters } from '../parser.js';
import type { HttpMessage } from '../types.js';
import { hasToken, headerList } from './head.js';
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

export class Http1Conn<T> {
  readonly request: Http1Parser<T>;
  readonly response: Http1Parser<T>;
  readonly pairing: FifoPairing;

  constructor(host: Http1Host<T>) {
    this.pairing = new FifoPairing();
    const pairing = this.pairing;
    const base = { limits: host.limits, budget: host.budget, counters: host.counters };
    const reqHooks: Http1Hooks<T> = {
      ...base,
      requestHead: (head) => {
        const r: PendingRequest = { method: head.method!, target: head.target! };
        const up = headerList(head.headers, 'upgrade');
        if (up !== undefined && hasToken(headerList(head.headers, 'connection'), 'upgrade')) r.upgrade = up.toLowerCase();
        return pairing.open(r);
      },
      peekRequest: () => undefined,
      takeRequest: () => undefined,
      emit: (msg, start, end, req) => {
        if (req && msg.incomplete === undefined) req.endNs = host.timeOf(end);
        host.emit('request', msg, start, end);
      },
      switchProtocol: () => undefined,
      switchRefused: () => undefined,
    };
    const respHooks: Http1Hooks<T> = {
      ...base,
      requestHead: () => ({}),
      peekRequest: () => pairing.peek(),
      takeRequest: () => {
        const r = pairing.take();
        if (r) r.answered = true;
        return r;
      },
      emit: (msg, start, end, req) => {
        if (msg.status !== undefined && (msg.status >= 200 || msg.status === 101)) pairResponse(msg, req, host.timeOf(start));
        else pairResponse(msg, pairing.peek(), host.timeOf(start));
        host.emit('response', msg, start, end);
      },
      switchProtocol: (to, rest, tag, req) => host.switchTo(to, this.request.takeBuffered(), rest, tag, req),
      switchRefused: () => this.request.resume(),
    };
    this.request = new Http1Parser('request', reqHooks);
    this.response = new Http1Parser('response', respHooks);
  }
}

/**
 * An HTTP/2 connection: one parser (with its own HPACK decoder) per direction, tied by stream-id pairing
 * and by RST_STREAM, which ends both halves of a stream whichever side sent it.
 */
import type { Limits, MemBudget } from '../limits.js';
import { StreamPairing } from '../pairing.js';
import type { MessageSink, ParserCounters } from '../parser.js';
import type { HpackDecoder } from './hpack.js';
import { Http2Parser, type H2Hooks } from './parser.js';

export interface H2Host<T> {
  readonly limits: Limits;
  readonly budget: MemBudget;
  readonly counters: ParserCounters;
  timeOf(tag: T): bigint;
  /** where the messages of side 0 / 1 go: the two directions, as the caller numbered them */
  readonly sinks: readonly [MessageSink<T>, MessageSink<T>];
}

export class H2Conn<T> {
  readonly parsers: [Http2Parser<T>, Http2Parser<T>];
  readonly pairing = new StreamPairing();

  /** `hpack`: decoders to continue with (a connection seen again after an idle close), per side */
  constructor(host: H2Host<T>, hpack?: [HpackDecoder, HpackDecoder]) {
    const hooks = (side: 0 | 1): H2Hooks<T> => ({
      limits: host.limits,
      budget: host.budget,
      counters: host.counters,
      pairing: this.pairing,
      timeOf: host.timeOf,
      sink: host.sinks[side],
      reset: (sid, code) => {
        this.parsers[side].endStream(sid, 'reset', code);
        this.parsers[side === 0 ? 1 : 0].endStream(sid, 'reset', code);
        this.pairing.take(sid);
      },
    });
    this.parsers = [new Http2Parser(hooks(0), hpack?.[0]), new Http2Parser(hooks(1), hpack?.[1])];
  }
}

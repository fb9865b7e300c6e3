/**
 * The contract between a connection and the parser of one of its directions.
 *
 * A direction parser is an incremental state machine fed with the direction's bytes in order. `T` is an
 * opaque tag the caller attaches to each chunk (the tracker passes the DataRecord, tests pass a number); a
 * message reports the tags of the chunks where it started and where it ended, which is how time, pid and
 * comm reach the output without the parser knowing about them. Parsers never throw on bad input: they set
 * `error` and stop; the connection then shows its bytes raw.
 */
import type { L7Message } from './types.js';

export interface MessageSink<T> {
  message(msg: L7Message, start: T, end: T): void;
}

export interface DirParser<T> {
  /** Feed the next bytes of this direction. */
  push(chunk: Buffer, tag: T): void;
  /** `n` bytes of this direction were lost (capture gap) right after what was pushed. */
  gap(n: number, tag: T): void;
  /** The connection is over: emit what is pending, marked incomplete. */
  end(): void;
  /** Bytes buffered waiting for a complete unit (a header block, a frame...), for memory checks. */
  queued(): number;
  /** Set (to a reason) when the parser gave up; it then ignores further input. */
  readonly error: string | undefined;
}

/** Per-connection parser counters, summed by the tracker. */
export interface ParserCounters {
  messages: number;
  parseErrors: number;
  /** bytes skipped while looking for the next message start after a gap */
  resyncBytes: number;
  /** HPACK references to dynamic table entries we never saw (capture started mid-connection) */
  hpackUnknownRefs: number;
  /** body / payload bytes not kept because of limits */
  truncatedBytes: number;
  /** messages flushed as incomplete */
  incomplete: number;
}

export function newParserCounters(): ParserCounters {
  return { messages: 0, parseErrors: 0, resyncBytes: 0, hpackUnknownRefs: 0, truncatedBytes: 0, incomplete: 0 };
}

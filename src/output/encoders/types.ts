/**
 * Encoders turn a CaptureRecord into the bytes a sink writes. They are pure: no I/O, no clock, no state that
 * changes what a record encodes to (the same record always gives the same output).
 *
 * Framing depends on where the output goes, so encoders take it as an option:
 *  - 'stream'  (stdout, file, tcp://): a self-delimiting unit: a JSON line ends with "\n"; a protobuf LogEntry
 *              is preceded by its length as a varint (protobufjs encodeDelimited / Go protodelim);
 *  - 'message' (ws://, wss://, eCaptureQ): the transport frames each message, so no newline / no length prefix.
 * `framingFor(address)` in src/output/sinks/factory.ts says which one a sink address needs.
 */
import type { CaptureRecord } from '../../model/records.js';

export type OutputFormat = 'text' | 'json' | 'protobuf';
export type Framing = 'stream' | 'message';

export interface Encoder {
  readonly format: OutputFormat;
  /** A string is written as UTF-8 (and sent as a text frame on WebSocket sinks); a Buffer as-is (binary frame). */
  encode(rec: CaptureRecord): Buffer | string;
}

/** The text rendering of a record (supplied by the text encoder's owner; used as protobuf Event.payload). */
export type TextOf = (rec: CaptureRecord) => Buffer;

export interface EncoderOptions {
  /** default 'stream' */
  framing?: Framing;
}

/**
 * A sink is where encoded records (or log lines) go: stdout, a file, a TCP peer, a WebSocket server.
 *
 * Contract (what the capture path relies on):
 *  - write() never blocks and never throws. It appends to a bounded in-memory queue (`maxBufferBytes`) and returns
 *    at once; when the queue is full the chunk is dropped and counted (stats().dropped), never the capture.
 *  - The sink owns delivery: batching, back-pressure, reconnecting with exponential backoff, rotation, EPIPE.
 *  - Chunks are delivered in the order written, each whole (a chunk never spans two files or two frames).
 *  - flush() resolves when everything queued so far is delivered (or the timeout passes); close() flushes (bounded
 *    by its timeout), counts what is still queued as dropped, then releases the resource.
 *  - Problems are reported through `onNotice` (and counted), never thrown, once the sink exists. Creating a sink
 *    may throw a CaptureError (bad address, refused path) so that the CLI can report it at startup.
 */

export type SinkKind = 'stdout' | 'file' | 'tcp' | 'ws';

export interface SinkStats {
  /** e.g. 'stdout', 'file:/var/log/ev.log', 'tcp://127.0.0.1:9000', 'wss://host/x' */
  name: string;
  kind: SinkKind;
  /** chunks handed to the OS (file/pipe written, socket accepted) */
  written: number;
  bytes: number;
  /** chunks discarded: queue full, output closed (EPIPE), write error, or still queued at close */
  dropped: number;
  droppedBytes: number;
  /** chunks and bytes waiting (including a batch being written) */
  queued: number;
  queuedBytes: number;
  /** successful re-connections after the first connection (network sinks) */
  reconnects: number;
  /** network sinks: connected now; others: the output is open */
  connected: boolean;
  /** file sinks: rotations done */
  rotations?: number;
}

export type SinkNoticeKind =
  | 'dropping' // the first drop after a period without drops
  | 'dropped' // a run of drops ended (or the sink closed): exact counts
  | 'disconnected'
  | 'connect_failed'
  | 'reconnected'
  | 'rotated'
  | 'output_closed' // EPIPE: the reader went away
  | 'error';

export interface SinkNotice {
  sink: string;
  kind: SinkNoticeKind;
  level: 'info' | 'warn' | 'error';
  message: string;
  /** 'dropped': chunks and bytes in this run of drops; totals since the sink started */
  dropped?: number;
  droppedBytes?: number;
  totalDropped?: number;
  /** 'rotated': the name the previous file got */
  rotatedTo?: string;
  cause?: unknown;
}

export interface Sink {
  readonly name: string;
  readonly kind: SinkKind;
  /** Queue a chunk. A string is sent as UTF-8 (a text frame on WebSocket sinks), a Buffer as bytes (binary frame). */
  write(chunk: Buffer | string): boolean;
  /** Pieces of one record, back to back; counted as one chunk when small enough to be staged together. */
  writeParts(parts: readonly (Buffer | string)[]): boolean;
  /** Resolves once everything queued before the call is delivered, or after timeoutMs (default: no limit). */
  flush(timeoutMs?: number): Promise<void>;
  /** Flush (at most timeoutMs, default 5000), count the rest as dropped, release the resource. Idempotent. */
  close(timeoutMs?: number): Promise<void>;
  /** For process 'exit' handlers: write what is queued synchronously where possible (stdout, file). */
  flushSync(): void;
  stats(): SinkStats;
}

export interface BackoffOptions {
  /** first retry delay, default 100 ms */
  initialMs?: number;
  /** cap, default 5000 ms */
  maxMs?: number;
}

export interface SinkOptions {
  /** bound of the in-memory queue, default 16 MiB */
  maxBufferBytes?: number;
  /** largest batch handed to the OS in one write, default 256 KiB */
  maxBatchBytes?: number;
  onNotice?: (n: SinkNotice) => void;
  backoff?: BackoffOptions;
}

export const DEFAULT_MAX_BUFFER_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_BYTES = 256 * 1024;

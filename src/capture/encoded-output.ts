/**
 * An output = an encoder (record → bytes) × a byte sink. The sink owns buffering, back-pressure and
 * flushing; this class only counts and never lets an encoder or sink error reach the capture path.
 */
import type { CaptureRecord } from '../model/records.js';
import type { RecordOutput } from './pipeline.js';

export interface ByteSink {
  /** never blocks, never throws */
  write(chunk: Buffer | string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): { name: string; written: number; bytes: number; dropped: number; [k: string]: unknown };
}

export type RecordEncoder = (rec: CaptureRecord) => Buffer | string | undefined;

export class EncodedOutput implements RecordOutput {
  private encodeErrors = 0;
  private records = 0;
  constructor(
    readonly name: string,
    private encode: RecordEncoder,
    private sink: ByteSink,
    private accept: (rec: CaptureRecord) => boolean = () => true,
  ) {}

  setEncoder(e: RecordEncoder): void {
    this.encode = e;
  }

  write(rec: CaptureRecord): void {
    if (!this.accept(rec)) return;
    let chunk: Buffer | string | undefined;
    try {
      chunk = this.encode(rec);
    } catch {
      this.encodeErrors++;
      return;
    }
    if (chunk === undefined || chunk.length === 0) return;
    this.records++;
    this.sink.write(chunk);
  }

  flush(): Promise<void> {
    return this.sink.flush();
  }

  close(): Promise<void> {
    return this.sink.close();
  }

  stats(): Record<string, number | string | boolean> {
    const s = this.sink.stats();
    const out: Record<string, number | string | boolean> = { records: this.records, encodeErrors: this.encodeErrors };
    for (const [k, v] of Object.entries(s)) if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    return out;
  }
}

/**
 * A minimal synchronous fd sink (stdout or an already-open file): gathers chunks and writes them with
 * one writeSync per event-loop turn. Used until/unless a richer sink is configured; EPIPE ends output.
 */
import { writeSync } from 'node:fs';

export class FdSink implements ByteSink {
  private parts: (Buffer | string)[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private closed = false;
  private counters = { written: 0, bytes: 0, dropped: 0 };
  constructor(
    private readonly fd: number,
    readonly sinkName = `fd:${fd}`,
    private readonly maxPending = 8 << 20,
  ) {}

  write(chunk: Buffer | string): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    this.parts.push(chunk);
    this.pendingBytes += chunk.length;
    this.counters.written++;
    if (this.pendingBytes >= this.maxPending) this.flushSync();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushSync());
    }
  }

  flushSync(): void {
    this.scheduled = false;
    if (this.parts.length === 0) return;
    const buf = Buffer.concat(this.parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    this.parts = [];
    this.pendingBytes = 0;
    let off = 0;
    while (off < buf.length && !this.closed) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        // EPIPE (reader went away) and other errors: output has ended, capture goes on
        this.closed = true;
        this.counters.dropped++;
        return;
      }
    }
    this.counters.bytes += buf.length;
  }

  async flush(): Promise<void> {
    this.flushSync();
  }

  async close(): Promise<void> {
    this.flushSync();
    this.closed = true;
  }

  stats(): { name: string; written: number; bytes: number; dropped: number } {
    return { name: this.sinkName, ...this.counters };
  }
}
